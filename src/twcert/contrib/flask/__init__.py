"""Card login for Flask apps (extra ``twcert[flask]``; Flask-Login optional).

::

    from twcert.contrib.flask import TWCert, current_principal, login_required

    twcert_ext = TWCert()

    def create_app():
        app = Flask(__name__)
        app.config.from_mapping(SECRET_KEY=..., TWCERT_LOGIN_REDIRECT="/home")
        twcert_ext.init_app(app, login_service=build_login_service)
        return app

The blueprint (``TWCERT_URL_PREFIX``, default ``/twcert``) serves the login page, the
challenge, the login and first-use steps; :mod:`.settings` lists the configuration keys and
``docs/flask.md`` the login page contract. This is an adapter subpackage (as Authlib ships its
Flask integration) rather than a separate ``Flask-TWCert`` distribution.
"""

from __future__ import annotations

from twcert.web.pending import MemoryPendingStore as MemoryPendingStore
from twcert.web.pending import PendingStore as PendingStore
from twcert.web.pending import RedisPendingStore as RedisPendingStore
from twcert.web.pending import SqlPendingStore as SqlPendingStore

from .errors import FirstUseExpiredError as FirstUseExpiredError
from .errors import LoginRequiredError as LoginRequiredError
from .errors import PopupBlockedError as PopupBlockedError
from .errors import RequestForgeryError as RequestForgeryError
from .errors import UnexpectedError as UnexpectedError
from .extension import TWCert as TWCert
from .extension import csrf_field as csrf_field
from .extension import current_principal as current_principal
from .extension import get_principal as get_principal
from .extension import login_required as login_required
from .extension import logout as logout
from .principal import SessionPrincipal as SessionPrincipal
from .security import CSRF_FIELD as CSRF_FIELD
from .security import CSRF_HEADER as CSRF_HEADER
from .security import csrf_token as csrf_token
from .settings import DEFAULTS as DEFAULTS
from .signals import twcert_auth_failed as twcert_auth_failed
from .signals import twcert_authenticated as twcert_authenticated
from .signals import twcert_locked_out as twcert_locked_out
from .state import TWCertState as TWCertState
from .state import get_state as get_state

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DEFAULTS",
    "FirstUseExpiredError",
    "LoginRequiredError",
    "MemoryPendingStore",
    "PendingStore",
    "PopupBlockedError",
    "RedisPendingStore",
    "RequestForgeryError",
    "SessionPrincipal",
    "SqlPendingStore",
    "TWCert",
    "TWCertState",
    "UnexpectedError",
    "csrf_field",
    "csrf_token",
    "current_principal",
    "get_principal",
    "get_state",
    "login_required",
    "logout",
    "twcert_auth_failed",
    "twcert_authenticated",
    "twcert_locked_out",
]
