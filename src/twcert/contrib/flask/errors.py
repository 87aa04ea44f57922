"""The web front end's catalogued errors (defined in :mod:`twcert.web.errors`), under their old name."""

from __future__ import annotations

from twcert.web.errors import (
    FirstUseExpiredError,
    LoginRequiredError,
    PopupBlockedError,
    RequestForgeryError,
    RequestTooLargeError,
    UnexpectedError,
)

__all__ = [
    "FirstUseExpiredError",
    "LoginRequiredError",
    "PopupBlockedError",
    "RequestForgeryError",
    "RequestTooLargeError",
    "UnexpectedError",
]
