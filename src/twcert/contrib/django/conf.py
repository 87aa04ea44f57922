"""The ``TWCERT`` setting: one dict, read through :data:`DEFAULTS` — parsing only.

The DRF pattern: :func:`get_settings` parses ``settings.TWCERT`` once into a frozen
:class:`TwcertSettings` (unknown keys and bad values raise ``ImproperlyConfigured``, which the
system check ``twcert.E001`` reports at start-up). Building the login service from it is
:mod:`.service`'s job; both caches are dropped on ``setting_changed`` (``override_settings``).

Store specs (``NONCE_STORE``, ``PIN_STORE``, ``BINDING_STORE``, ``PERSONNEL``, ``AGENCIES``):

* ``"django"`` — this app's models in Django's database (alias ``DATABASE``, else the router);
* ``"memory"`` — per process (tests, single-process servers; check ``twcert.W003``);
* ``"redis://…"`` / ``"rediss://…"`` / ``"unix://…"`` — Redis (nonces and PIN counters only);
* any other ``"scheme://…"`` — an SQLAlchemy URL (:class:`twcert.stores.sql.SqlStores`);
* ``"….csv"`` — ``AGENCIES`` only: the DGPA ``orglist.csv`` file, loaded once;
* a dotted path, or an object — a store instance, or a class/function called with no arguments;
* ``None`` — none (``PIN_STORE``: HiPKI's counters only; ``PERSONNEL``/``AGENCIES``: that kind of
  card cannot log in).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

from django.conf import settings as django_settings  # type: ignore[import-untyped, unused-ignore]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped, unused-ignore]

from ...binding import BindingKeyKind
from ...certificate import CAFamily
from ...pin import DEFAULT_PIN_TRIES
from ...revocation import RevocationPolicy, RevocationSources
from ...validation import DEFAULT_ACCEPTED_FAMILIES
from ...web.body import DEFAULT_MAX_BODY

__all__ = [
    "DEFAULTS",
    "SESSION_CHALLENGE_KEY",
    "SESSION_PRINCIPAL_KEY",
    "CAFileSpec",
    "CRLFileSpec",
    "StoreSpec",
    "TwcertSettings",
    "forget_settings",
    "get_settings",
]

#: The session key of the last challenge issued to the session (its id).
SESSION_CHALLENGE_KEY: Final = "_twcert_challenge"
#: The session key of the logged-in :meth:`Principal.as_dict() <twcert.Principal.as_dict>`.
SESSION_PRINCIPAL_KEY: Final = "_twcert_principal"

#: Every key of ``settings.TWCERT`` and its default. See ``docs/django.md`` for each one.
DEFAULTS: Final[Mapping[str, Any]] = {
    # -- trust and revocation
    "TRUST_BUNDLED": True,
    "CA_FILES": (),
    "CA_CRL_FILES": (),
    "CRL_FILES": (),
    "CRL_CACHE_DIR": None,
    "CRL_CACHE_KEY": None,
    "REVOCATION_POLICY": "hard-fail",
    "REVOCATION_SOURCES": "crl,ocsp",
    "REVOCATION_FETCH": True,
    "ALLOW_TEST": False,
    "ACCEPTED_FAMILIES": tuple(sorted(f.value for f in DEFAULT_ACCEPTED_FAMILIES)),
    "REQUIRED_POLICIES": None,
    "ALLOW_SHA1": False,
    # -- stores and directories
    "NONCE_STORE": "django",
    "PIN_STORE": "django",
    "BINDING_STORE": "django",
    "PERSONNEL": "django",
    "AGENCIES": "django",
    "DATABASE": None,
    "SQL_SCHEMA": None,
    "REDIS_PREFIX": "twcert:",
    "AGENCY_OID_MAP": {},
    "AGENCY_SERIAL_MAP": {},
    "AGENCY_MATCH_NAMES": True,
    "AGENCY_ABOLISHED": "refuse",
    # -- the login
    "PIN_LIMIT": DEFAULT_PIN_TRIES,
    "CHALLENGE_TTL": 300,
    "SIGNATURE_TYPE": "PKCS7",
    "BINDING_KEY": "subject_serial",
    "REQUIRE_SIGNING_TIME": False,
    "ORIGIN": None,
    "HIPKI_URL": "http://localhost:61161",
    "LOGIN_REDIRECT_URL": None,
    # -- the web endpoints (twcert.web)
    "MAX_BODY": DEFAULT_MAX_BODY,
    "PENDING_STORE": None,
    "PENDING_TTL": 600,
    # -- Django users
    "CREATE_UNKNOWN_USER": True,
    "USERNAME_FORMATS": {"citizen": "{account}", "agency": "agency-{agency_code}"},
    # -- hooks
    "AUDIT_SINK": None,
    "CLOCK": None,
}

_E = TypeVar("_E", RevocationPolicy, RevocationSources)
StoreKind = Literal["django", "memory", "redis", "sql", "orglist", "object", "none"]
_REDIS_SCHEMES: Final = ("redis", "rediss", "unix")
_USERNAME_FIELDS: Final = {"kind": "", "principal_id": "", "account": "", "agency_code": ""}


@dataclass(frozen=True, slots=True)
class CAFileSpec:
    """One ``CA_FILES`` entry: a PEM/DER file of CA certificates to trust."""

    path: str
    #: SHA-256 fingerprints the file's certificates must match (``None``: unpinned, ``twcert.W004``).
    pins: tuple[str, ...] | None = None
    family: CAFamily | None = None
    generation: str | None = None


@dataclass(frozen=True, slots=True)
class CRLFileSpec:
    """One ``CRL_FILES`` entry: a CRL preloaded into the cache under ``url`` (or its IDP URLs)."""

    path: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """How one store is configured (see the module docstring)."""

    kind: StoreKind
    target: Any = None

    def describe(self) -> str:
        if self.kind in ("redis", "sql"):
            # Never show a URL's password in a check message or log line.
            parts = urlsplit(str(self.target))
            host = parts.hostname or ""
            return f"{self.kind} {parts.scheme}://{host}{parts.path}"
        if self.kind in ("orglist", "object") and isinstance(self.target, str):
            return f"{self.kind} {self.target}"
        return self.kind


@dataclass(frozen=True, slots=True)
class TwcertSettings:
    """``settings.TWCERT`` parsed and checked (build with :meth:`from_dict`)."""

    trust_bundled: bool
    ca_files: tuple[CAFileSpec, ...]
    ca_crl_files: tuple[str, ...]
    crl_files: tuple[CRLFileSpec, ...]
    crl_cache_dir: str | None
    crl_cache_key: str | None
    revocation_policy: RevocationPolicy
    revocation_sources: RevocationSources
    revocation_fetch: bool
    allow_test: bool
    accepted_families: frozenset[CAFamily]
    required_policies: tuple[str, ...] | None
    allow_sha1: bool
    nonce_store: StoreSpec
    pin_store: StoreSpec
    binding_store: StoreSpec
    personnel: StoreSpec
    agencies: StoreSpec
    database: str | None
    sql_schema: str | None
    redis_prefix: str
    agency_oid_map: Mapping[str, str]
    agency_serial_map: Mapping[str, str]
    agency_match_names: bool
    agency_abolished: Literal["refuse", "successor"]
    pin_limit: int
    challenge_ttl: dt.timedelta
    signature_type: Literal["PKCS7", "PKCS1", "any"]
    binding_key: BindingKeyKind
    require_signing_time: bool
    origin: str | None
    hipki_url: str
    login_redirect_url: str | None
    max_body: int
    pending_store: Any
    pending_ttl: dt.timedelta
    create_unknown_user: bool
    username_formats: Mapping[str, str]
    audit_sink: Any
    clock: Any

    @classmethod
    def from_dict(cls, user: Mapping[str, Any] | None) -> TwcertSettings:
        """Parse ``settings.TWCERT``; raise ``ImproperlyConfigured`` naming the bad key."""
        user = {} if user is None else user
        if not isinstance(user, Mapping):
            raise ImproperlyConfigured(f"TWCERT must be a dict, not {type(user).__name__}")
        unknown = sorted(set(user) - set(DEFAULTS))
        if unknown:
            raise ImproperlyConfigured(f"TWCERT has unknown keys: {', '.join(map(str, unknown))}")
        raw = {**DEFAULTS, **user}
        formats = raw["USERNAME_FORMATS"]
        if not isinstance(formats, Mapping):
            raise ImproperlyConfigured("TWCERT['USERNAME_FORMATS'] must be a dict")
        formats = {**DEFAULTS["USERNAME_FORMATS"], **formats}
        return cls(
            trust_bundled=_bool(raw, "TRUST_BUNDLED"),
            ca_files=tuple(_ca_file(entry) for entry in _sequence(raw, "CA_FILES")),
            ca_crl_files=tuple(_path(entry, "CA_CRL_FILES") for entry in _sequence(raw, "CA_CRL_FILES")),
            crl_files=tuple(_crl_file(entry) for entry in _sequence(raw, "CRL_FILES")),
            crl_cache_dir=_optional_path(raw, "CRL_CACHE_DIR"),
            crl_cache_key=_optional_str(raw, "CRL_CACHE_KEY"),
            revocation_policy=_enum(raw, "REVOCATION_POLICY", RevocationPolicy),
            revocation_sources=_enum(raw, "REVOCATION_SOURCES", RevocationSources),
            revocation_fetch=_bool(raw, "REVOCATION_FETCH"),
            allow_test=_bool(raw, "ALLOW_TEST"),
            accepted_families=frozenset(
                _family(value, "ACCEPTED_FAMILIES") for value in _sequence(raw, "ACCEPTED_FAMILIES")
            ),
            required_policies=(
                None
                if raw["REQUIRED_POLICIES"] is None
                else tuple(str(oid) for oid in _sequence(raw, "REQUIRED_POLICIES"))
            ),
            allow_sha1=_bool(raw, "ALLOW_SHA1"),
            nonce_store=_store(raw, "NONCE_STORE", ("django", "memory", "redis", "sql", "object")),
            pin_store=_store(raw, "PIN_STORE", ("django", "memory", "redis", "sql", "object", "none")),
            binding_store=_store(raw, "BINDING_STORE", ("django", "memory", "sql", "object", "none")),
            personnel=_store(raw, "PERSONNEL", ("django", "sql", "object", "none")),
            agencies=_store(raw, "AGENCIES", ("django", "sql", "orglist", "object", "none")),
            database=_optional_str(raw, "DATABASE"),
            sql_schema=_optional_str(raw, "SQL_SCHEMA"),
            redis_prefix=_str(raw, "REDIS_PREFIX"),
            agency_oid_map=_str_map(raw, "AGENCY_OID_MAP"),
            agency_serial_map=_str_map(raw, "AGENCY_SERIAL_MAP"),
            agency_match_names=_bool(raw, "AGENCY_MATCH_NAMES"),
            agency_abolished=cast(
                Literal["refuse", "successor"], _choice(raw, "AGENCY_ABOLISHED", ("refuse", "successor"))
            ),
            pin_limit=_positive_int(raw, "PIN_LIMIT"),
            challenge_ttl=_duration(raw, "CHALLENGE_TTL"),
            signature_type=cast(
                Literal["PKCS7", "PKCS1", "any"], _choice(raw, "SIGNATURE_TYPE", ("PKCS7", "PKCS1", "any"))
            ),
            binding_key=cast(BindingKeyKind, _choice(raw, "BINDING_KEY", ("subject_serial", "certificate"))),
            require_signing_time=_bool(raw, "REQUIRE_SIGNING_TIME"),
            origin=_origin(raw["ORIGIN"]),
            hipki_url=_str(raw, "HIPKI_URL"),
            login_redirect_url=_optional_str(raw, "LOGIN_REDIRECT_URL"),
            max_body=_positive_int(raw, "MAX_BODY"),
            pending_store=raw["PENDING_STORE"],
            pending_ttl=_duration(raw, "PENDING_TTL"),
            create_unknown_user=_bool(raw, "CREATE_UNKNOWN_USER"),
            username_formats=_username_formats(formats),
            audit_sink=raw["AUDIT_SINK"],
            clock=raw["CLOCK"],
        )


# ---------------------------------------------------------------------------------- parsing


def _bad(key: str, expected: str, value: Any) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"TWCERT[{key!r}] must be {expected}, not {value!r}")


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw[key]
    if not isinstance(value, bool):
        raise _bad(key, "True or False", value)
    return value


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise _bad(key, "a non-empty string", value)
    return value


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    return None if raw[key] is None else _str(raw, key)


def _optional_path(raw: Mapping[str, Any], key: str) -> str | None:
    return None if raw[key] is None else _path(raw[key], key)


def _path(value: Any, key: str) -> str:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise _bad(key, "a file path", value)
    return str(os.fspath(value))


def _sequence(raw: Mapping[str, Any], key: str) -> tuple[Any, ...]:
    value = raw[key]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _bad(key, "a list", value)
    return tuple(value)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = raw[key]
    if value not in choices:
        raise _bad(key, " or ".join(repr(c) for c in choices), value)
    return str(value)


def _positive_int(raw: Mapping[str, Any], key: str) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(key, "a positive integer", value)
    return value


def _duration(raw: Mapping[str, Any], key: str) -> dt.timedelta:
    value = raw[key]
    if isinstance(value, dt.timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        duration = dt.timedelta(seconds=value)
    else:
        raise _bad(key, "seconds or a timedelta", value)
    if duration <= dt.timedelta(0):
        raise _bad(key, "positive", value)
    return duration


def _enum(raw: Mapping[str, Any], key: str, kind: type[_E]) -> _E:
    value = raw[key]
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        text = value.strip()
        for member in kind:
            # Accept the value ("hard-fail", "crl,ocsp") or the name ("HARD_FAIL", "CRL_THEN_OCSP").
            if text.lower().replace("_", "-") == member.value or text.upper() == member.name:
                return member
    raise _bad(key, " or ".join(repr(m.value) for m in kind), value)


def _family(value: Any, key: str) -> CAFamily:
    if isinstance(value, CAFamily):
        return value
    try:
        return CAFamily(str(value).upper())
    except ValueError:
        raise _bad(key, "CA family names such as 'MOICA' or 'GCA'", value) from None


def _str_map(raw: Mapping[str, Any], key: str) -> Mapping[str, str]:
    value = raw[key]
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _bad(key, "a dict of strings", value)
    return dict(value)


def _ca_file(entry: Any) -> CAFileSpec:
    if isinstance(entry, str | os.PathLike):
        return CAFileSpec(_path(entry, "CA_FILES"))
    if not isinstance(entry, Mapping) or "path" not in entry:
        raise _bad("CA_FILES", "a list of paths or {'path': …, 'pins': […]} dicts", entry)
    extra = sorted(set(entry) - {"path", "pins", "family", "generation"})
    if extra:
        raise ImproperlyConfigured(f"TWCERT['CA_FILES'] entry has unknown keys: {', '.join(extra)}")
    pins = entry.get("pins")
    if isinstance(pins, str):
        pins = (pins,)
    if pins is not None and (
        isinstance(pins, Mapping)
        or not isinstance(pins, Iterable)
        or not all(isinstance(p, str) for p in pins)
    ):
        raise _bad("CA_FILES", "pins as a list of SHA-256 hex strings", pins)
    family = entry.get("family")
    generation = entry.get("generation")
    if generation is not None and not isinstance(generation, str):
        raise _bad("CA_FILES", "a generation label such as 'G2'", generation)
    return CAFileSpec(
        _path(entry["path"], "CA_FILES"),
        tuple(pins) if pins is not None else None,
        _family(family, "CA_FILES") if family is not None else None,
        generation,
    )


def _crl_file(entry: Any) -> CRLFileSpec:
    if isinstance(entry, str | os.PathLike):
        return CRLFileSpec(_path(entry, "CRL_FILES"))
    if not isinstance(entry, Mapping) or "path" not in entry or set(entry) - {"path", "url"}:
        raise _bad("CRL_FILES", "a list of paths or {'path': …, 'url': …} dicts", entry)
    url = entry.get("url")
    if url is not None and not isinstance(url, str):
        raise _bad("CRL_FILES", "a URL string", url)
    return CRLFileSpec(_path(entry["path"], "CRL_FILES"), url)


def _store(raw: Mapping[str, Any], key: str, allowed: tuple[StoreKind, ...]) -> StoreSpec:
    value = raw[key]
    spec: StoreSpec
    if value is None:
        spec = StoreSpec("none")
    elif isinstance(value, str):
        text = value.strip()
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if text in ("django", "memory"):
            spec = StoreSpec(cast(StoreKind, text))
        elif scheme in _REDIS_SCHEMES:
            spec = StoreSpec("redis", text)
        elif scheme:
            spec = StoreSpec("sql", text)
        elif text.lower().endswith(".csv"):
            spec = StoreSpec("orglist", text)
        elif "." in text:
            spec = StoreSpec("object", text)
        else:
            raise _bad(key, "'django', 'memory', a URL, a dotted path or an object", value)
    elif isinstance(value, os.PathLike):
        spec = StoreSpec("orglist", os.fspath(value))
    else:
        spec = StoreSpec("object", value)
    if spec.kind not in allowed:
        raise ImproperlyConfigured(f"TWCERT[{key!r}] cannot be {spec.describe()}")
    return spec


def _origin(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad("ORIGIN", "'https://host[:port]'", value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("",) or parts.query:
        raise _bad("ORIGIN", "'https://host[:port]' (no path)", value)
    return value


def _username_formats(formats: Mapping[str, Any]) -> Mapping[str, str]:
    for kind in ("citizen", "agency"):
        template = formats.get(kind)
        if not isinstance(template, str):
            raise _bad("USERNAME_FORMATS", f"a format string for {kind!r}", template)
        try:
            template.format(**_USERNAME_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"TWCERT['USERNAME_FORMATS'][{kind!r}]: {exc!r}; fields: {', '.join(_USERNAME_FIELDS)}"
            ) from None
    return {"citizen": str(formats["citizen"]), "agency": str(formats["agency"])}


# ---------------------------------------------------------------------------------- cache

_settings: list[TwcertSettings] = []


def get_settings() -> TwcertSettings:
    """The parsed ``settings.TWCERT`` (cached until :func:`forget_settings`)."""
    if not _settings:
        _settings[:] = [TwcertSettings.from_dict(getattr(django_settings, "TWCERT", None))]
    return _settings[0]


def forget_settings() -> None:
    """Parse ``settings.TWCERT`` again at the next use."""
    _settings.clear()
