"""One app's twcert state (``app.extensions["twcert"]``) and how views find it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from flask import Flask, current_app

from twcert.login import LoginService
from twcert.web.flow import LoginFlow
from twcert.web.pending import PendingStore

from .settings import Settings

__all__ = ["EXTENSION_KEY", "TWCertState", "get_state"]

EXTENSION_KEY: Final = "twcert"
UserLoader = Callable[[Any], Any]


class _Extension(Protocol):
    """The :class:`~.extension.TWCert` object, as far as the state needs it."""

    _user_loader: UserLoader | None


@dataclass(frozen=True, slots=True)
class TWCertState:
    """What one app's ``app.extensions["twcert"]`` holds."""

    extension: _Extension
    settings: Settings
    flow: LoginFlow

    @property
    def service(self) -> LoginService:
        return self.flow.service

    @property
    def pending(self) -> PendingStore:
        return self.flow.pending

    @property
    def user_loader(self) -> UserLoader | None:
        """``TWCERT_USER_LOADER`` if configured, else the one registered with the decorator."""
        return self.settings.user_loader or self.extension._user_loader


def get_state(app: Flask | None = None) -> TWCertState:
    """This app's twcert state; a clear error if ``TWCert.init_app`` was never called."""
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            "twcert is not initialised on this app: did you forget TWCert(app) or twcert.init_app(app)?"
        )
    return cast(TWCertState, state)
