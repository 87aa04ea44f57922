"""The authentication backend: ``authenticate(request, twcert_token=...)`` for ``AUTHENTICATION_BACKENDS``.

``twcert_token`` is what the login page got from the card (HiPKI), as a dict (or its JSON text)::

    {
        "challenge_id": "…",       # from the challenge endpoint; optional: defaults to the
                                   # session's last challenge
        "response": {…},           # the HiPKI /sign response, unchanged: ret_code, last_error,
                                   # signature, certb64, cardSN (a dict or its JSON text)
        "account": "wang.xm",      # optional: first use of a citizen card (account or national ID)
    }

The name matches Django's sensitive-credential mask (``token``), so ``user_login_failed``
receivers see it masked. The challenge must have been issued to ``request``'s session and origin.

Outcomes: the user (``request.twcert_principal`` holds the :class:`~twcert.Principal`); ``None``
with the catalogued error in :func:`login_error` (e.g. ``AccountRequired`` at first use); or, for
a locked card, :class:`TwcertLockedOut` — a ``PermissionDenied``, which stops Django from trying
further backends (``django.contrib.auth.authenticate`` then returns ``None``; the error is in
:func:`login_error` too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Required, TypedDict

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model  # type: ignore[import-untyped, unused-ignore]
from django.contrib.auth.backends import BaseBackend  # type: ignore[import-untyped, unused-ignore]
from django.core.exceptions import PermissionDenied  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.debug import sensitive_variables  # type: ignore[import-untyped, unused-ignore]

from ...errors import LoginRefusedError, PinLockedError, ResponseParseError, TwcertError
from ...login import Principal
from ...web.security import session_id
from ._decorators import decorate
from .conf import SESSION_CHALLENGE_KEY, SESSION_PRINCIPAL_KEY, get_settings
from .service import get_service, request_origin
from .signals import card_locked, last_audit_event, login_failed, login_succeeded, reset_last_audit_event

__all__ = [
    "ParsedToken",
    "TwcertBackend",
    "TwcertLockedOut",
    "TwcertToken",
    "get_principal",
    "login_error",
    "parse_token",
]

_ERROR_ATTRIBUTE = "twcert_error"
_PRINCIPAL_ATTRIBUTE = "twcert_principal"
_MAX_ACCOUNT = 200


class TwcertToken(TypedDict, total=False):
    """The shape of ``twcert_token`` (see the module docstring)."""

    challenge_id: str
    response: Required[Mapping[str, Any] | str]
    account: str | None


@dataclass(frozen=True, slots=True)
class ParsedToken:
    challenge_id: str
    response: Mapping[str, Any] | str
    account: str | None

    def __repr__(self) -> str:
        return f"ParsedToken(challenge_id={self.challenge_id!r}, response=…, account=…)"


class TwcertLockedOut(PermissionDenied):  # type: ignore[misc, unused-ignore]
    """The card is locked: stop the backend chain. ``error`` carries the catalogued error
    (its ``action_url`` is the family's unblock page)."""

    def __init__(self, error: PinLockedError) -> None:
        super().__init__(error.message)
        self.error = error


@decorate(sensitive_variables("value", "data"))
def parse_token(value: Mapping[str, Any] | str | bytes, request: Any = None) -> ParsedToken:
    """Check ``twcert_token``'s shape; a malformed one raises ``ResponseParseError``."""
    data: Any = value
    if isinstance(value, str | bytes):
        try:
            data = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("twcert_token is not JSON") from None
    if not isinstance(data, Mapping):
        raise ResponseParseError("twcert_token is not an object")
    response = data.get("response")
    if not isinstance(response, Mapping | str) or not response:
        raise ResponseParseError("twcert_token has no HiPKI response")
    challenge_id = data.get("challenge_id")
    if challenge_id in (None, "") and request is not None and hasattr(request, "session"):
        challenge_id = request.session.get(SESSION_CHALLENGE_KEY)
    if not isinstance(challenge_id, str) or not challenge_id or len(challenge_id) > 64:
        raise ResponseParseError("twcert_token has no challenge_id")
    account = data.get("account")
    if account is not None and not isinstance(account, str):
        raise ResponseParseError("account is not a string")
    account = (account or "").strip()[:_MAX_ACCOUNT] or None
    return ParsedToken(challenge_id, response, account)


def login_error(request: Any) -> TwcertError | None:
    """Why the last :meth:`TwcertBackend.authenticate` on ``request`` returned no user."""
    error = getattr(request, _ERROR_ATTRIBUTE, None)
    return error if isinstance(error, TwcertError) else None


def get_principal(request: Any) -> Mapping[str, Any] | None:
    """The card login's principal of this session (:meth:`twcert.Principal.as_dict`), if any."""
    value = request.session.get(SESSION_PRINCIPAL_KEY)
    return value if isinstance(value, Mapping) else None


class TwcertBackend(BaseBackend):  # type: ignore[misc, unused-ignore]
    """Log in with a card's signature over a twcert challenge.

    Hooks, as in Django's ``RemoteUserBackend`` (override in a subclass and list the subclass
    in ``AUTHENTICATION_BACKENDS``): :meth:`clean_username`, :meth:`get_or_create_user`,
    :meth:`configure_user`, :meth:`user_can_authenticate`, and :attr:`create_unknown_user`.
    """

    #: Create a Django user the first time a principal logs in (``None``: ``TWCERT['CREATE_UNKNOWN_USER']``).
    create_unknown_user: bool | None = None

    @decorate(sensitive_variables("twcert_token", "token"))
    def authenticate(  # type: ignore[override, unused-ignore]  # a distinct kwarg, not **kwargs
        self, request: Any, *, twcert_token: Any = None
    ) -> Any:
        """The user for a valid card login, else ``None`` (see the module docstring)."""
        if twcert_token is None or request is None:
            return None
        setattr(request, _ERROR_ATTRIBUTE, None)
        reset_last_audit_event()
        try:
            token = parse_token(twcert_token, request)
            principal = get_service().complete(
                token.challenge_id,
                token.response,
                token.account,
                session_id=session_id(request.session),
                origin=request_origin(request),
            )
            user = self.get_or_create_user(request, principal)
            if user is None or not self.user_can_authenticate(user):
                raise LoginRefusedError("no active Django user for this principal")
        except PinLockedError as exc:
            self._failed(request, exc)
            card_locked.send(sender=type(self), request=request, error=exc, event=last_audit_event())
            raise TwcertLockedOut(exc) from exc
        except TwcertError as exc:
            self._failed(request, exc)
            return None
        if request.session.get(SESSION_CHALLENGE_KEY) == token.challenge_id:
            del request.session[SESSION_CHALLENGE_KEY]
        setattr(request, _PRINCIPAL_ATTRIBUTE, principal)
        login_succeeded.send(sender=type(self), request=request, user=user, principal=principal)
        return user

    async def aauthenticate(  # type: ignore[override, unused-ignore]
        self, request: Any, *, twcert_token: Any = None
    ) -> Any:
        return await sync_to_async(self.authenticate)(request, twcert_token=twcert_token)

    def _failed(self, request: Any, error: TwcertError) -> None:
        setattr(request, _ERROR_ATTRIBUTE, error)
        login_failed.send(sender=type(self), request=request, error=error, event=last_audit_event())

    def get_user(self, user_id: Any) -> Any:
        user_model: Any = get_user_model()
        try:
            user = user_model._default_manager.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    # -- hooks ---------------------------------------------------------------------------------

    def clean_username(self, principal: Principal) -> str:
        """The Django username of ``principal``, from ``TWCERT['USERNAME_FORMATS']``.

        Defaults: the personnel account for citizen cards, ``agency-<agency code>`` for agency
        cards. Fields: ``kind``, ``principal_id``, ``account``, ``agency_code``.
        """
        template = get_settings().username_formats[principal.kind]
        return template.format(
            kind=principal.kind,
            principal_id=principal.principal_id,
            account=principal.account or "",
            agency_code=principal.agency_code or "",
        )

    def get_or_create_user(self, request: Any, principal: Principal) -> Any:
        """The Django user for ``principal`` (created when allowed), or ``None``."""
        user_model: Any = get_user_model()
        username = self.clean_username(principal)
        create = self.create_unknown_user
        if create is None:
            create = get_settings().create_unknown_user
        if create:
            # get_or_create absorbs the race of two first logins (IntegrityError → get).
            user, created = user_model._default_manager.get_or_create(**{user_model.USERNAME_FIELD: username})
        else:
            try:
                user = user_model._default_manager.get_by_natural_key(username)
            except user_model.DoesNotExist:
                return None
            created = False
        return self.configure_user(request, user, principal, created=created)

    def configure_user(self, request: Any, user: Any, principal: Principal, *, created: bool) -> Any:
        """Adjust a user at each card login; by default a new user gets an unusable password
        (it can log in only with its card)."""
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def user_can_authenticate(self, user: Any) -> bool:
        """Refuse inactive users (``is_active`` False), as ``ModelBackend`` does."""
        return bool(getattr(user, "is_active", True))
