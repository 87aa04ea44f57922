"""System checks (``manage.py check``), registered by ``TwcertConfig.ready()``.

Errors (the configuration cannot work or is unsafe):

* ``twcert.E001`` — ``TWCERT`` is invalid (unknown key, bad value, a hook that cannot be imported).
* ``twcert.E002`` — no trust anchors: the trust store is empty, has no self-signed root, or a
  ``CA_FILES`` file is unreadable or does not match its pins.
* ``twcert.E003`` — ``TwcertBackend`` is not in ``AUTHENTICATION_BACKENDS``.
* ``twcert.E004`` — the session engine keeps no stable session key (signed cookies), so a
  challenge cannot be bound to the session.
* ``twcert.E005`` — a store is misconfigured (unknown database alias, missing driver, dotted
  path that does not import or is not a store, unreadable agency-code file).
* ``twcert.E006`` — revocation checking is off (``REVOCATION_POLICY = "off"``) in production.
* ``twcert.E007`` — a ``CRL_FILES``/``CA_CRL_FILES`` file cannot be used.

Warnings:

* ``twcert.W001`` — ``REVOCATION_POLICY`` is ``"soft-fail"`` in production (not HARD_FAIL).
* ``twcert.W002`` — test certificates are allowed (``ALLOW_TEST``) in production.
* ``twcert.W003`` — a per-process memory store for nonces or PIN counts in production.
* ``twcert.W004`` — a ``CA_FILES`` entry without SHA-256 pins.
* ``twcert.W005`` — citizen cards are accepted but there is no personnel directory or binding store.
* ``twcert.W006`` — agency cards are accepted but there is no agency-code source.

"In production" means ``DEBUG = False``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
from django.core import checks  # type: ignore[import-untyped, unused-ignore]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped, unused-ignore]
from django.utils.module_loading import import_string  # type: ignore[import-untyped, unused-ignore]

from ...certificate import CAFamily
from ...revocation import RevocationPolicy
from .conf import StoreSpec, TwcertSettings
from .service import build_trust_store, read_crl

__all__ = [
    "check_backend",
    "check_production",
    "check_sessions",
    "check_settings",
    "check_stores",
    "check_trust",
    "register",
]

_HINT_DOCS = "See docs/django.md."


def _settings() -> TwcertSettings | None:
    try:
        return TwcertSettings.from_dict(getattr(settings, "TWCERT", None))
    except ImproperlyConfigured:
        return None


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E001``: the ``TWCERT`` dict parses, and its hooks import."""
    try:
        conf = TwcertSettings.from_dict(getattr(settings, "TWCERT", None))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint=_HINT_DOCS, id="twcert.E001")]
    messages: list[checks.CheckMessage] = []
    for key, value in (("AUDIT_SINK", conf.audit_sink), ("CLOCK", conf.clock)):
        if isinstance(value, str):
            try:
                import_string(value)
            except ImportError as exc:
                messages.append(checks.Error(f"TWCERT[{key!r}]: {exc}", id="twcert.E001"))
    return messages


def check_trust(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E002`` (trust anchors), ``twcert.E007`` (CRL files), ``twcert.W004`` (unpinned CA files)."""
    conf = _settings()
    if conf is None:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        trust = build_trust_store(conf)
    except ImproperlyConfigured as exc:
        messages.append(checks.Error(str(exc), hint="Check the file and its pins.", id="twcert.E002"))
    else:
        if not len(trust):
            messages.append(
                checks.Error(
                    "The twcert trust store is empty: no card certificate can be trusted.",
                    hint="Keep TWCERT['TRUST_BUNDLED'] = True or add CA_FILES.",
                    id="twcert.E002",
                )
            )
        elif not trust.anchors:
            messages.append(
                checks.Error(
                    "The twcert trust store has no self-signed root (GRCA) to anchor the chains.",
                    hint="Add the GRCA root to TWCERT['CA_FILES'] or keep TRUST_BUNDLED = True.",
                    id="twcert.E002",
                )
            )
    for spec in conf.ca_files:
        if spec.pins is None:
            messages.append(
                checks.Warning(
                    f"TWCERT['CA_FILES'] {spec.path} is trusted without a SHA-256 pin.",
                    hint="Give {'path': …, 'pins': ['<sha256>', …]} so a replaced file is refused.",
                    id="twcert.W004",
                )
            )
    for path in (*(spec.path for spec in conf.crl_files), *conf.ca_crl_files):
        try:
            read_crl(path)
        except ImproperlyConfigured as exc:
            messages.append(checks.Error(str(exc), id="twcert.E007"))
    return messages


def check_backend(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E003``: a TwcertBackend (or subclass) is in ``AUTHENTICATION_BACKENDS``."""
    from .backends import TwcertBackend

    for path in settings.AUTHENTICATION_BACKENDS:
        try:
            backend = import_string(path)
        except ImportError:
            continue  # Django's own checks and authenticate() report that
        if isinstance(backend, type) and issubclass(backend, TwcertBackend):
            return []
    return [
        checks.Error(
            "twcert.contrib.django.backends.TwcertBackend is not in AUTHENTICATION_BACKENDS.",
            hint="Add it so the card login views can authenticate users.",
            id="twcert.E003",
        )
    ]


def check_sessions(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E004``: challenges need a server-side session (a stable session key)."""
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        return [
            checks.Error(
                "SESSION_ENGINE is signed_cookies: its session key changes with every change, so "
                "twcert cannot bind a login challenge to the session.",
                hint="Use the db, cache or cached_db session engine.",
                id="twcert.E004",
            )
        ]
    return []


def check_popup_policy(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.W007``: a Cross-Origin-Opener-Policy of ``same-origin`` cuts the login page off
    from the HiPKI popup (``/popupForm``), so every card login would fail."""
    if "django.middleware.security.SecurityMiddleware" not in settings.MIDDLEWARE:
        return []
    if getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin") != "same-origin":
        return []
    return [
        checks.Warning(
            "SecurityMiddleware sends Cross-Origin-Opener-Policy: same-origin, which severs the login "
            "page from the HiPKI Local Server popup: card logins fail with LOCAL_SIGNER_UNAVAILABLE.",
            hint='Set SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups".',
            id="twcert.W007",
        )
    ]


def _store_problem(spec: StoreSpec, key: str, conf: TwcertSettings) -> str | None:
    if spec.kind == "django":
        if conf.database is not None and conf.database not in settings.DATABASES:
            return f"TWCERT['DATABASE'] = {conf.database!r} is not in DATABASES"
    elif spec.kind == "redis":
        if importlib.util.find_spec("redis") is None:
            return f"TWCERT[{key!r}] is Redis but the redis package is missing (pip install 'twcert[redis]')"
    elif spec.kind == "sql":
        if importlib.util.find_spec("sqlalchemy") is None:
            return f"TWCERT[{key!r}] is an SQL URL but SQLAlchemy is missing (pip install 'twcert[sql]')"
    elif spec.kind == "orglist":
        if not os.access(spec.target, os.R_OK):
            return f"TWCERT[{key!r}]: cannot read the agency-code file {spec.target}"
    elif spec.kind == "object" and isinstance(spec.target, str):
        try:
            import_string(spec.target)
        except ImportError as exc:
            return f"TWCERT[{key!r}]: {exc}"
    return None


def check_stores(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E005`` (stores that cannot work), ``twcert.W005``/``W006`` (a card kind with no directory).

    Nothing is connected to: a check must not depend on the network.
    """
    conf = _settings()
    if conf is None:
        return []
    messages: list[checks.CheckMessage] = []
    specs = (
        ("NONCE_STORE", conf.nonce_store),
        ("PIN_STORE", conf.pin_store),
        ("BINDING_STORE", conf.binding_store),
        ("PERSONNEL", conf.personnel),
        ("AGENCIES", conf.agencies),
    )
    for key, spec in specs:
        problem = _store_problem(spec, key, conf)
        if problem is not None:
            messages.append(checks.Error(problem, hint=_HINT_DOCS, id="twcert.E005"))
    if CAFamily.MOICA in conf.accepted_families and "none" in (conf.personnel.kind, conf.binding_store.kind):
        messages.append(
            checks.Warning(
                "Citizen cards (MOICA) are accepted but PERSONNEL or BINDING_STORE is None: "
                "every citizen login will be refused.",
                hint="Configure both, or remove 'MOICA' from TWCERT['ACCEPTED_FAMILIES'].",
                id="twcert.W005",
            )
        )
    if CAFamily.GCA in conf.accepted_families and conf.agencies.kind == "none":
        messages.append(
            checks.Warning(
                "Agency cards (GCA) are accepted but AGENCIES is None: every agency login will be refused.",
                hint="Configure the agency-code file, or remove 'GCA' from TWCERT['ACCEPTED_FAMILIES'].",
                id="twcert.W006",
            )
        )
    return messages


def check_production(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``twcert.E006``, ``W001``, ``W002``, ``W003``: settings unsafe with ``DEBUG = False``."""
    conf = _settings()
    if conf is None or settings.DEBUG:
        return []
    messages: list[checks.CheckMessage] = []
    if conf.revocation_policy is RevocationPolicy.OFF:
        messages.append(
            checks.Error(
                "TWCERT['REVOCATION_POLICY'] is 'off' with DEBUG = False: revoked cards could log in.",
                hint="Use 'hard-fail' (the default) and preload or fetch CRLs.",
                id="twcert.E006",
            )
        )
    elif conf.revocation_policy is RevocationPolicy.SOFT_FAIL:
        messages.append(
            checks.Warning(
                "TWCERT['REVOCATION_POLICY'] is 'soft-fail' with DEBUG = False: a card is accepted "
                "when its revocation status cannot be checked.",
                hint="Use 'hard-fail' (the default) and keep CRLs fresh.",
                id="twcert.W001",
            )
        )
    if conf.allow_test:
        messages.append(
            checks.Warning(
                "TWCERT['ALLOW_TEST'] is True with DEBUG = False: test certificates (GTestCA), which "
                "represent no real agency or person, can log in.",
                id="twcert.W002",
            )
        )
    for key, spec in (("NONCE_STORE", conf.nonce_store), ("PIN_STORE", conf.pin_store)):
        if spec.kind == "memory":
            messages.append(
                checks.Warning(
                    f"TWCERT[{key!r}] is 'memory' with DEBUG = False: each worker process has its own, "
                    "so challenges and PIN counts are not shared between workers.",
                    hint="Use 'django' (the default) or a Redis URL.",
                    id="twcert.W003",
                )
            )
    return messages


def register() -> None:
    """Register every check (called from ``TwcertConfig.ready()``)."""
    checks.register(check_settings)
    checks.register(check_trust, checks.Tags.security)
    checks.register(check_backend)
    checks.register(check_sessions, checks.Tags.security)
    checks.register(check_stores)
    checks.register(check_production, checks.Tags.security)
    checks.register(check_popup_policy, checks.Tags.security)
