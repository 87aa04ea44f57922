"""Blinker signals, in a private namespace as Flask and Flask-Login keep theirs.

Each is sent with the application as sender::

    @twcert_authenticated.connect_via(app)
    def remember(app, principal, user, **extra): ...

* ``twcert_authenticated`` — ``principal`` (:class:`twcert.Principal`), ``user`` (what
  ``TWCERT_USER_LOADER`` returned, or ``None``).
* ``twcert_auth_failed`` — ``error`` (the catalogued :class:`~twcert.errors.TwcertError`);
  every refused login, but not the first-use prompt (:class:`~twcert.errors.AccountRequired`).
* ``twcert_locked_out`` — ``error`` (:class:`~twcert.errors.PinLockedError`, whose
  ``action_url`` is the unblock page); sent in addition to ``twcert_auth_failed``.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = ["twcert_auth_failed", "twcert_authenticated", "twcert_locked_out"]

_signals = Namespace()

twcert_authenticated = _signals.signal("twcert-authenticated")
twcert_auth_failed = _signals.signal("twcert-auth-failed")
twcert_locked_out = _signals.signal("twcert-locked-out")
