"""Django signals for card logins, re-emitting the library's audit events.

* :data:`audit_event` — every :class:`~twcert.audit.AuditEvent` the LoginService emits
  (``event=``; personal data already masked). Sender: :class:`SignalAuditSink`.
* :data:`login_succeeded` — ``request``, ``user``, ``principal`` (a :class:`~twcert.Principal`).
* :data:`login_failed` — ``request``, ``error`` (the catalogued :class:`~twcert.TwcertError`),
  ``event`` (its audit event, or ``None`` when the failure happened before the service ran).
* :data:`card_locked` — as ``login_failed``, for a locked card (``error`` is a
  :class:`~twcert.errors.PinLockedError`); sent in addition to ``login_failed``.

The last three are sent by :class:`~twcert.contrib.django.backends.TwcertBackend` with the
backend class as sender. Django's own ``user_logged_in`` / ``user_login_failed`` fire as usual
(``twcert_token`` is masked in ``user_login_failed``'s credentials).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.dispatch import Signal  # type: ignore[import-untyped, unused-ignore]

from ...audit import AuditEvent, AuditSink
from .conf import SESSION_PRINCIPAL_KEY

__all__ = [
    "SignalAuditSink",
    "audit_event",
    "card_locked",
    "last_audit_event",
    "login_failed",
    "login_succeeded",
    "reset_last_audit_event",
    "store_principal",
]

#: Every audit event the login service emits (``event``: a masked :class:`~twcert.audit.AuditEvent`).
audit_event = Signal()
#: A card login succeeded (``request``, ``user``, ``principal``).
login_succeeded = Signal()
#: A card login was refused (``request``, ``error``, ``event``).
login_failed = Signal()
#: A card's PIN is locked (``request``, ``error``, ``event``); ``error.action_url`` is the unblock page.
card_locked = Signal()

# The event of the login running in this thread or task, for the backend's signals.
_last_event: ContextVar[AuditEvent | None] = ContextVar("twcert_last_audit_event", default=None)


def last_audit_event() -> AuditEvent | None:
    """The audit event most recently emitted in this thread or task."""
    return _last_event.get()


def reset_last_audit_event() -> None:
    _last_event.set(None)


class SignalAuditSink:
    """Passes each event to ``inner`` (the log by default), then sends :data:`audit_event`."""

    def __init__(self, inner: AuditSink) -> None:
        self.inner = inner

    def emit(self, event: AuditEvent) -> None:
        self.inner.emit(event)
        _last_event.set(event)
        audit_event.send(sender=SignalAuditSink, event=event)


def store_principal(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: keep the card login's principal in the (new) session.

    Runs after ``login()`` has flushed or cycled the session, so the value survives it.
    """
    principal = getattr(request, "twcert_principal", None) if request is not None else None
    if principal is not None:
        request.session[SESSION_PRINCIPAL_KEY] = principal.as_dict()
