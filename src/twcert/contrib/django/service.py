"""The login service and web flow built from the parsed ``TWCERT`` setting (:mod:`.conf`).

:func:`get_service` / :func:`get_flow` build one :class:`~twcert.LoginService` and one
:class:`~twcert.web.LoginFlow` per settings state, lazily and thread-safely; :func:`reload`
drops them (and the parsed settings) on ``setting_changed`` so ``override_settings`` works.

Store specs (``NONCE_STORE``, ``PIN_STORE``, ``BINDING_STORE``, ``PERSONNEL``, ``AGENCIES``) are
described in :mod:`.conf`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings as django_settings  # type: ignore[import-untyped, unused-ignore]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped, unused-ignore]
from django.core.signals import setting_changed  # type: ignore[import-untyped, unused-ignore]
from django.http import HttpRequest  # type: ignore[import-untyped, unused-ignore]
from django.shortcuts import resolve_url  # type: ignore[import-untyped, unused-ignore]
from django.utils.module_loading import import_string  # type: ignore[import-untyped, unused-ignore]

from ...agency import AgencyDirectory, AgencyResolver, load_orglist
from ...audit import AuditSink, LoggingAuditSink
from ...binding import BindingStore
from ...certificate import TaiwanCertificate
from ...challenge import NonceStore
from ...errors import TwcertError
from ...login import LoginPolicy, LoginService, LoginStores
from ...personnel import PersonnelDirectory
from ...pin import PinCounterStore, PinRecord
from ...revocation import CARevocation, CRLCache, RevocationChecker
from ...trust import TrustStore
from ...validation import ValidationPolicy, Validator
from ...web.flow import LoginFlow, WebSettings
from ...web.pending import pending_store_for
from .conf import SESSION_PRINCIPAL_KEY, StoreSpec, TwcertSettings, forget_settings, get_settings
from .signals import SignalAuditSink

__all__ = [
    "build_service",
    "build_trust_store",
    "build_validator",
    "connect_reload",
    "get_flow",
    "get_service",
    "read_crl",
    "reload",
    "request_origin",
    "resolve_object",
]

logger = logging.getLogger("twcert.contrib.django.conf")


def _bad(key: str, expected: str, value: Any) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"TWCERT[{key!r}] must be {expected}, not {value!r}")


def resolve_object(target: Any) -> Any:
    """A dotted path or an object; classes and functions are called with no arguments."""
    obj = import_string(target) if isinstance(target, str) else target
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj()
    return obj


def build_trust_store(conf: TwcertSettings) -> TrustStore:
    """The bundled anchors (unless ``TRUST_BUNDLED`` is False) plus ``CA_FILES``, pins checked.

    :raises ImproperlyConfigured: unreadable file, pin mismatch, not a CA certificate.
    """
    trust = TrustStore.default() if conf.trust_bundled else TrustStore.empty()
    for spec in conf.ca_files:
        try:
            trust = trust.with_pem_files(spec.path, spec.pins, family=spec.family, generation=spec.generation)
        except TwcertError as exc:
            raise ImproperlyConfigured(f"TWCERT['CA_FILES'] {spec.path}: {exc}") from exc
    return trust


def read_crl(path: str) -> x509.CertificateRevocationList:
    """A CRL file (DER or PEM); ``ImproperlyConfigured`` if it cannot be read as one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot read CRL file {path!r}: {exc.strerror or exc}") from exc
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{path!r} is not a CRL: {exc}") from exc


def _crl_issuer(crl: x509.CertificateRevocationList, trust: TrustStore, path: str) -> TaiwanCertificate:
    """The trusted CA that signed ``crl`` (found by key identifier, then name; signature checked)."""
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    candidates = list(trust.by_key_identifier(aki)) if aki else []
    candidates += [ca for ca in trust if ca.certificate.certificate.subject == crl.issuer]
    for ca in candidates:
        public_key = ca.certificate.certificate.public_key()
        try:
            if crl.is_signature_valid(cast(Any, public_key)):
                return ca.certificate
        except (TypeError, ValueError):
            continue
    raise ImproperlyConfigured(f"CRL file {path!r}: no CA in the trust store signed it")


def build_validator(conf: TwcertSettings) -> Validator:
    """The :class:`~twcert.Validator` for ``conf`` (trust store, preloaded CRLs, policy, clock).

    :raises ImproperlyConfigured: a file cannot be used, or the trust store is empty.
    """
    trust = build_trust_store(conf)
    key = None if conf.crl_cache_key is None else conf.crl_cache_key.strip().encode()
    cache = CRLCache(directory=conf.crl_cache_dir, key=key)
    if conf.crl_cache_dir is not None:
        # With the deployment key an index opens by its HMAC; without one each stored CRL is
        # verified against its CA again (seconds per million entries at every worker start).
        cache.load_directory(issuers=[ca.certificate for ca in trust])
    for spec in conf.crl_files:
        crl = read_crl(spec.path)
        issuer = _crl_issuer(crl, trust, spec.path)
        der = crl.public_bytes(Encoding.DER)
        try:
            cache.preload(der, issuer, url=spec.url)
        except (TwcertError, ValueError) as exc:
            raise ImproperlyConfigured(f"TWCERT['CRL_FILES'] {spec.path}: {exc}") from exc
    ca_crls = [read_crl(path).public_bytes(Encoding.DER) for path in conf.ca_crl_files]
    checker = RevocationChecker(
        crls=cache, sources=conf.revocation_sources, fetch_on_demand=conf.revocation_fetch
    )
    options: dict[str, Any] = {}
    if conf.required_policies is not None:
        options["required_policies"] = conf.required_policies
    try:
        policy = ValidationPolicy(
            revocation=conf.revocation_policy,
            allow_test=conf.allow_test,
            accepted_families=conf.accepted_families,
            allow_sha1=conf.allow_sha1,
            **options,
        )
        return Validator(trust, policy, _clock(conf), checker=checker, ca_revocation=CARevocation(ca_crls))
    except TwcertError as exc:
        raise ImproperlyConfigured(f"TWCERT: [{exc.code}] {exc.detail or exc.message_english}") from exc


def _clock(conf: TwcertSettings) -> Callable[[], dt.datetime] | None:
    if conf.clock is None:
        return None
    clock = import_string(conf.clock) if isinstance(conf.clock, str) else conf.clock
    if not callable(clock):
        raise _bad("CLOCK", "a callable returning an aware datetime", conf.clock)
    return cast(Callable[[], dt.datetime], clock)


class _Resources:
    """Connections shared by the stores of one settings state, closed on reload."""

    def __init__(self, conf: TwcertSettings) -> None:
        self.conf = conf
        self._sql: dict[str, Any] = {}
        self._redis: dict[str, Any] = {}

    def sql(self, url: str) -> Any:
        if url not in self._sql:
            from ...stores.sql import SqlStores

            self._sql[url] = SqlStores(url, schema=self.conf.sql_schema)
        return self._sql[url]

    def redis(self, url: str) -> Any:
        if url not in self._redis:
            from ...stores.redis import redis_client

            self._redis[url] = redis_client(url)
        return self._redis[url]

    def close(self) -> None:
        for stores in self._sql.values():
            stores.dispose()
        for client in self._redis.values():
            client.close()
        self._sql.clear()
        self._redis.clear()


def _expect(obj: Any, protocol: type, key: str) -> Any:
    if not isinstance(obj, protocol):
        raise ImproperlyConfigured(f"TWCERT[{key!r}]: {obj!r} is not a {protocol.__name__}")
    return obj


def _build_store(spec: StoreSpec, key: str, resources: _Resources) -> Any:
    """The store object for one of NONCE_STORE, PIN_STORE, BINDING_STORE, PERSONNEL, AGENCIES."""
    conf = resources.conf
    if spec.kind == "none":
        return None
    if spec.kind == "object":
        return resolve_object(spec.target)
    if spec.kind == "django":
        from . import stores

        django_stores: Mapping[str, Callable[..., Any]] = {
            "NONCE_STORE": stores.DjangoNonceStore,
            "PIN_STORE": stores.DjangoPinCounterStore,
            "BINDING_STORE": stores.DjangoBindingStore,
            "PERSONNEL": stores.DjangoPersonnelDirectory,
            "AGENCIES": stores.DjangoAgencyDirectory,
        }
        return django_stores[key](using=conf.database)
    if spec.kind == "memory":
        from ...binding import MemoryBindingStore
        from ...stores.memory import MemoryNonceStore, MemoryPinCounterStore

        memory: Mapping[str, Callable[[], Any]] = {
            "NONCE_STORE": MemoryNonceStore,
            "PIN_STORE": MemoryPinCounterStore,
            "BINDING_STORE": MemoryBindingStore,
        }
        return memory[key]()
    if spec.kind == "redis":
        from ...stores.redis import RedisNonceStore, RedisPinCounterStore

        client = resources.redis(spec.target)
        if key == "NONCE_STORE":
            return RedisNonceStore(client, prefix=conf.redis_prefix)
        return RedisPinCounterStore(client, prefix=conf.redis_prefix)
    if spec.kind == "sql":
        stores_sql = resources.sql(spec.target)
        return {
            "NONCE_STORE": stores_sql.nonces,
            "PIN_STORE": stores_sql.pin_counters,
            "BINDING_STORE": stores_sql.bindings,
            "PERSONNEL": stores_sql.personnel,
            "AGENCIES": stores_sql.agencies,
        }[key]
    # orglist
    try:
        result = load_orglist(spec.target)
    except (OSError, TwcertError) as exc:
        raise ImproperlyConfigured(f"TWCERT['AGENCIES'] {spec.target}: {exc}") from exc
    if result.problems:
        logger.warning("agency-code file %s: %d rows skipped", spec.target, len(result.problems))
    return result.directory


def build_service(conf: TwcertSettings) -> tuple[LoginService, Callable[[], None]]:
    """A LoginService for ``conf`` and the function that releases its connections."""
    resources = _Resources(conf)
    try:
        validator = build_validator(conf)
        nonces = _expect(_build_store(conf.nonce_store, "NONCE_STORE", resources), NonceStore, "NONCE_STORE")
        counters = _build_store(conf.pin_store, "PIN_STORE", resources)
        ledger = (
            None
            if counters is None
            else PinRecord(_expect(counters, PinCounterStore, "PIN_STORE"), limit=conf.pin_limit)
        )
        bindings = _build_store(conf.binding_store, "BINDING_STORE", resources)
        if bindings is not None:
            _expect(bindings, BindingStore, "BINDING_STORE")
        personnel = _build_store(conf.personnel, "PERSONNEL", resources)
        if personnel is not None:
            _expect(personnel, PersonnelDirectory, "PERSONNEL")
        agencies = _build_store(conf.agencies, "AGENCIES", resources)
        resolver: AgencyResolver | None
        if agencies is None or isinstance(agencies, AgencyResolver):
            resolver = agencies
        else:
            resolver = AgencyResolver(
                _expect(agencies, AgencyDirectory, "AGENCIES"),
                oid_map=conf.agency_oid_map,
                serial_map=conf.agency_serial_map,
                match_names=conf.agency_match_names,
                abolished=conf.agency_abolished,
            )
        inner_audit = None if conf.audit_sink is None else resolve_object(conf.audit_sink)
        if inner_audit is not None:
            _expect(inner_audit, AuditSink, "AUDIT_SINK")
        service = LoginService(
            validator,
            LoginStores(nonces, personnel, bindings, resolver, ledger),
            LoginPolicy(
                signature_type=conf.signature_type,
                binding_key=conf.binding_key,
                require_signing_time=conf.require_signing_time,
                challenge_ttl=conf.challenge_ttl,
                allow_sha1=conf.allow_sha1,
            ),
            audit=SignalAuditSink(inner_audit or LoggingAuditSink()),
            clock=validator.clock,
        )
    except BaseException:
        resources.close()
        raise
    return service, resources.close


# ---------------------------------------------------------------------------------- state


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.service: LoginService | None = None
        self.flow: LoginFlow | None = None
        self.close: Callable[[], None] | None = None


_state = _State()


def get_service() -> LoginService:
    """The LoginService for the current settings, built on first use."""
    service = _state.service
    if service is not None:
        return service
    with _state.lock:
        if _state.service is None:
            _state.service, _state.close = build_service(get_settings())
        return _state.service


def get_flow() -> LoginFlow:
    """The web flow over :func:`get_service` (same lifetime)."""
    flow = _state.flow
    if flow is not None:
        return flow
    service = get_service()
    conf = get_settings()
    with _state.lock:
        if _state.flow is None:
            web = WebSettings(
                agent_url=conf.hipki_url,
                login_redirect=str(
                    resolve_url(conf.login_redirect_url or django_settings.LOGIN_REDIRECT_URL)
                ),
                session_key=SESSION_PRINCIPAL_KEY,
                pending_ttl=conf.pending_ttl,
                max_body=conf.max_body,
            )
            pending = conf.pending_store
            if isinstance(pending, str) and "://" not in pending and "." in pending:
                pending = resolve_object(pending)
            _state.flow = LoginFlow(service, pending_store_for(pending, service.nonces), web)
        return _state.flow


def reload() -> None:
    """Forget the parsed settings, the service and the flow (the next use rebuilds them)."""
    with _state.lock:
        close, _state.close = _state.close, None
        _state.service = None
        _state.flow = None
        forget_settings()
    if close is not None:
        close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("TWCERT", "DATABASES"):
        reload()


def connect_reload() -> None:
    """Reload on ``setting_changed`` (``override_settings``); called from ``AppConfig.ready``."""
    setting_changed.connect(_on_setting_changed, dispatch_uid="twcert.conf.reload")


def request_origin(request: HttpRequest) -> str:
    """The origin challenges are bound to: ``TWCERT['ORIGIN']`` or the request's scheme and host.

    The host comes from ``request.get_host()``, which Django checks against ``ALLOWED_HOSTS``.
    """
    configured = get_settings().origin
    if configured is not None:
        return configured
    return f"{request.scheme}://{request.get_host()}"
