"""The web login, framework-neutral: what the Flask and Django adapters share.

* :mod:`.flow` — :class:`LoginFlow`: challenge, login, first use (no second signature), client
  errors, logout; the adapters only translate requests, responses, sessions and templates;
* :mod:`.contract` — the one JSON schema (``docs/web-json.md``);
* :mod:`.body` — request bodies read within a limit (64 KiB by default; 413 past it);
* :mod:`.security` — CSRF token, ``Origin`` and ``Sec-Fetch-Site`` checks, session binding;
* :mod:`.pending` — where a first login waits for the account;
* ``static/twcert-login.js`` — the one login-page script (HiPKI's ``/popupForm`` exchange).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from .body import DEFAULT_MAX_BODY as DEFAULT_MAX_BODY
from .errors import FirstUseExpiredError as FirstUseExpiredError
from .errors import LoginRequiredError as LoginRequiredError
from .errors import PopupBlockedError as PopupBlockedError
from .errors import RequestForgeryError as RequestForgeryError
from .errors import RequestTooLargeError as RequestTooLargeError
from .errors import UnexpectedError as UnexpectedError
from .flow import Answer as Answer
from .flow import FlowHooks as FlowHooks
from .flow import LoginFlow as LoginFlow
from .flow import Urls as Urls
from .flow import WebRequest as WebRequest
from .flow import WebSettings as WebSettings

__all__ = [
    "DEFAULT_MAX_BODY",
    "LOGIN_SCRIPT",
    "STATIC_DIR",
    "Answer",
    "FirstUseExpiredError",
    "FlowHooks",
    "LoginFlow",
    "LoginRequiredError",
    "PopupBlockedError",
    "RequestForgeryError",
    "RequestTooLargeError",
    "UnexpectedError",
    "Urls",
    "WebRequest",
    "WebSettings",
]

#: The directory of the one login-page script (and its stylesheet).
STATIC_DIR: Final = Path(__file__).parent / "static"
#: The login-page script's file name in :data:`STATIC_DIR`.
LOGIN_SCRIPT: Final = "twcert-login.js"
