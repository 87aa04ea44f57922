"""The ``TWCERT_*`` configuration keys, read once by :meth:`TWCert.init_app`.

=========================  ============================  ==================================================
key                        default                       meaning
=========================  ============================  ==================================================
``TWCERT_LOGIN_SERVICE``   ``None``                      a :class:`~twcert.LoginService`, or a callable
                                                         ``(app) -> LoginService``; used when none is
                                                         given to ``TWCert(...)``/``init_app``
``TWCERT_URL_PREFIX``      ``"/twcert"``                 where the blueprint's routes live
``TWCERT_ORIGIN``          ``None``                      the site's origin as browsers see it
                                                         (``https://jobs.example.gov.tw``); ``None``:
                                                         the request's scheme and host. Set it behind a
                                                         proxy that rewrites ``Host``
``TWCERT_AGENT_URL``       ``"http://localhost:61161"``  the HiPKI Local Server (or ``twcert agent``)
                                                         the login page talks to
``TWCERT_LOGIN_REDIRECT``  ``"/"``                       where a successful login goes when the login
                                                         page named no (safe, same-site) ``next``
``TWCERT_SESSION_KEY``     ``"twcert_principal"``        session key of the logged-in principal
``TWCERT_PENDING_STORE``   ``None``                      where a first login waits for the account
                                                         (:mod:`twcert.web.pending`): a store object, a URL
                                                         (``sqlite:///…``, ``postgresql+psycopg://…``,
                                                         ``redis://…``) or ``"memory"``; ``None``: the
                                                         login service's nonce database (SQL or Redis),
                                                         else memory
``TWCERT_PENDING_TTL``     ``600``                       seconds the first-use step may take
``TWCERT_USER_LOADER``     ``None``                      ``(principal) -> user`` for Flask-Login (see
                                                         :meth:`TWCert.user_loader`)
``TWCERT_MAX_BODY``        ``65536``                     bytes a login request body may have (413
                                                         past it, never read further)
=========================  ============================  ==================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from twcert.errors import ConfigurationError

__all__ = ["DEFAULTS", "Settings"]

#: Every key with its default (the documentation table above, as data).
DEFAULTS: Final[Mapping[str, Any]] = {
    "TWCERT_LOGIN_SERVICE": None,
    "TWCERT_URL_PREFIX": "/twcert",
    "TWCERT_ORIGIN": None,
    "TWCERT_AGENT_URL": "http://localhost:61161",
    "TWCERT_LOGIN_REDIRECT": "/",
    "TWCERT_SESSION_KEY": "twcert_principal",
    "TWCERT_PENDING_STORE": None,
    "TWCERT_PENDING_TTL": 600,
    "TWCERT_USER_LOADER": None,
    "TWCERT_MAX_BODY": 64 * 1024,
}


def _origin(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or "/" in rest or not text.isascii():
        raise ConfigurationError(f"TWCERT_ORIGIN must be scheme://host[:port], not {text[:80]!r}")
    return text


@dataclass(frozen=True, slots=True)
class Settings:
    """The keys as read at set-up (configuration must not change afterwards)."""

    url_prefix: str
    origin: str | None
    agent_url: str
    login_redirect: str
    session_key: str
    pending_store: object
    pending_ttl: dt.timedelta
    user_loader: Callable[[Any], Any] | None
    login_service: object
    max_body: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        values = {key: config.get(key, default) for key, default in DEFAULTS.items()}
        prefix = str(values["TWCERT_URL_PREFIX"] or "").rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ConfigurationError(f"TWCERT_URL_PREFIX must start with '/', not {prefix!r}")
        try:
            ttl = dt.timedelta(seconds=float(values["TWCERT_PENDING_TTL"]))
        except (TypeError, ValueError):
            raise ConfigurationError("TWCERT_PENDING_TTL must be a number of seconds") from None
        if ttl <= dt.timedelta(0):
            raise ConfigurationError("TWCERT_PENDING_TTL must be positive")
        loader = values["TWCERT_USER_LOADER"]
        if loader is not None and not callable(loader):
            raise ConfigurationError("TWCERT_USER_LOADER must be a callable (principal) -> user")
        max_body = values["TWCERT_MAX_BODY"]
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ConfigurationError("TWCERT_MAX_BODY must be a positive number of bytes")
        return cls(
            url_prefix=prefix,
            origin=_origin(values["TWCERT_ORIGIN"]),
            agent_url=str(values["TWCERT_AGENT_URL"]).rstrip("/"),
            login_redirect=str(values["TWCERT_LOGIN_REDIRECT"] or "/"),
            session_key=str(values["TWCERT_SESSION_KEY"]),
            pending_store=values["TWCERT_PENDING_STORE"],
            pending_ttl=ttl,
            user_loader=loader,
            login_service=values["TWCERT_LOGIN_SERVICE"],
            max_body=max_body,
        )
