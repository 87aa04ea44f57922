"""The WSGI apps ``benchmarks/http_login.py`` serves under gunicorn: the Flask and the Django adapter.

Each gunicorn worker imports this module and calls :func:`flask_app` or :func:`django_app`
(gunicorn's ``module:factory()`` syntax, no ``--preload``: every worker builds its own app, as a
restarted worker does). The parent writes everything the workers need — the PKI's files, the
shared CRL index directory, the stores' addresses — into a JSON file named by
``TWCERT_BENCH_CONFIG`` (:class:`BenchConfig`).

Where the library's API is used, it is used in one small spot each:

* :func:`crl_cache` — the CRL cache on the shared index directory (deployment key, refresher);
* :func:`make_validator` / :func:`make_service` — the Validator and LoginService (Flask);
* :func:`django_settings` — the ``TWCERT`` setting (Django builds its own service from it);
* :func:`floor` — the floor endpoint's work, the same for both apps.

Both apps add ``X-Worker`` (the worker's pid) to every answer, so the client can tell which
worker served a request (the restarted worker's first login).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

log = logging.getLogger("twcert.bench")

#: Environment variable naming the JSON file of :class:`BenchConfig`.
CONFIG_ENV = "TWCERT_BENCH_CONFIG"
#: If set, a directory: each worker profiles (cProfile) the requests whose path ends with one of
#: ``TWCERT_BENCH_PROFILE_PATHS`` (comma-separated) and writes ``<pid>.prof`` there at exit.
PROFILE_ENV = "TWCERT_BENCH_PROFILE"
#: The protected page and the floor endpoint, the same path in both apps.
PROTECTED_PATH = "/protected"
FLOOR_PATH = "/floor"
SECRET_KEY = "twcert-benchmark-only-not-secret"


@dataclass(frozen=True)
class BenchConfig:
    """What every worker reads at start (written by the parent)."""

    #: ``[{"path", "pin", "family", "generation"}]`` of the trusted CA certificates (PEM).
    ca_files: list[dict[str, Any]]
    #: The GRCA ARLs (DER files).
    arl_files: list[str]
    #: The issuing CA of the card (PEM) and the CRL address its certificates name.
    issuer_file: str
    crl_url: str
    #: Where the CDP's host is really served (the loopback repository).
    cdp_base: str
    index_dir: str
    index_key: str | None
    refresh_interval: float
    #: "worker": each worker's own refresher downloads and indexes a new CRL; "sync": a separate
    #: job does (:func:`sync_once`) and the workers only open what it wrote in the directory.
    refresh: str
    postgres_url: str
    schema: str
    redis_url: str
    redis_prefix: str
    django_database: str

    @classmethod
    def load(cls) -> BenchConfig:
        return cls(**json.loads(Path(os.environ[CONFIG_ENV]).read_text(encoding="utf-8")))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__), encoding="utf-8")


def _logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(process)d %(name)s %(levelname)s %(message)s")
    # One line per CRL actually downloaded and indexed (a 304 logs nothing at INFO).
    logging.getLogger("twcert.revocation.crl_cache").setLevel(logging.INFO)
    log.setLevel(logging.INFO)


# -- revocation: the shared index directory ---------------------------------------------------


class LoopbackFetcher:
    """The CDP's host is answered by the loopback repository (as a deployment's DNS or proxy
    would send it to a mirror): same path, the parent's server."""

    def __init__(self, base: str) -> None:
        from twcert.revocation.http import UrllibFetcher

        self.base = base.rstrip("/")
        self.inner = UrllibFetcher()

    def _local(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return self.base + parts.path + (f"?{parts.query}" if parts.query else "")

    def get(
        self, url: str, *, timeout: float, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self.inner.get(self._local(url), timeout=timeout, max_bytes=max_bytes, headers=headers)

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> Any:
        return self.inner.post(
            self._local(url), body, content_type=content_type, timeout=timeout, max_bytes=max_bytes
        )


def _issuer(cfg: BenchConfig) -> Any:
    from twcert import load_certificate

    return load_certificate(Path(cfg.issuer_file).read_bytes())


def start_refresh(cache: Any, cfg: BenchConfig, trust: Any = None) -> None:
    """Keep the CRL current, the way ``cfg.refresh`` says.

    "worker": the cache's refresher polls the CDP every ``refresh_interval`` s
    (``refresh_margin`` is set so the CRL is always due: a conditional GET, 304 until the parent
    publishes a new CRL), then downloads and indexes it in this worker. "sync": a thread opens
    what the sync job wrote to the shared directory every ``refresh_interval`` s (the
    ``DirectoryFollower`` of ``twcert crl sync`` where the library has it).
    """
    if cfg.refresh == "worker":
        cache.fetcher = LoopbackFetcher(cfg.cdp_base)
        cache.refresh_margin = dt.timedelta(days=365 * 100)
        cache.start_background_refresh([(cfg.crl_url, _issuer(cfg))], interval=cfg.refresh_interval)
        return
    from twcert.revocation.sync import DirectoryFollower

    # Without a deployment key the follower re-verifies each CRL and needs the CAs: without
    # them it would skip every file and never take a new CRL up.
    follower = DirectoryFollower(cfg.index_dir, cache, trust=trust)
    follower.reload()

    def follow() -> None:
        # reload() opens and checks every index again (~90 ms for a 1M-entry one): fine at the
        # library's 5-minute interval, but at this benchmark's 1 s it would take ~9 % of each
        # worker's core. So it runs only when a file in the directory changed.
        seen = _directory_state(cfg.index_dir)
        while True:
            time.sleep(cfg.refresh_interval)
            now = _directory_state(cfg.index_dir)
            if now != seen:
                seen = now
                with contextlib.suppress(OSError):
                    follower.reload()

    threading.Thread(target=follow, name="bench-crl-follow", daemon=True).start()


def _directory_state(directory: str) -> list[tuple[str, int, int]]:
    with os.scandir(directory) as entries:
        return sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries)


def sync_once(cfg: BenchConfig) -> None:
    """The sync job (run as its own process, like ``twcert crl sync`` from a timer): download the
    CDP's CRL if it changed, verify and index it into the shared directory."""
    from twcert.revocation import CRLCache

    _logging()
    key = bytes.fromhex(cfg.index_key) if cfg.index_key else None
    issuer = _issuer(cfg)
    cache = CRLCache(directory=cfg.index_dir, key=key, fetcher=LoopbackFetcher(cfg.cdp_base))
    cache.load_directory(**({} if key else {"issuers": [issuer]}))
    start = time.perf_counter()
    index = cache.fetch(cfg.crl_url, issuer, dt.datetime.now(dt.UTC), force=True)
    log.info(
        "sync %d: CRL number %s, %d entries, in the directory after %.2f s",
        os.getpid(),
        index.crl_number,
        len(index),
        time.perf_counter() - start,
    )


def crl_cache(cfg: BenchConfig, *, key: bytes | None) -> Any:
    """The worker's CRL cache: the shared directory opened (mmap, no ingest), refresher started."""
    from twcert.revocation import CRLCache

    cache = CRLCache(directory=cfg.index_dir, key=key)
    start = time.perf_counter()
    loaded = cache.load_directory()
    opened = (time.perf_counter() - start) * 1000
    index = cache.get(cfg.crl_url, _issuer(cfg).subject_key_identifier, dt.datetime.now(dt.UTC))
    log.info(
        "worker %d: opened %d CRL index(es) from the shared directory in %.1f ms; %s",
        os.getpid(),
        loaded,
        opened,
        f"{len(index):,} entries, CRL number {index.crl_number}" if index else "NO fresh index",
    )
    start_refresh(cache, cfg)
    _CACHE[:] = [cache, cfg]
    return cache


#: This worker's CRL cache and configuration, for :func:`crl_number`.
_CACHE: list[Any] = []


def crl_number() -> int | None:
    """The number of the CRL this worker answers with now (the protected page reports it)."""
    cache, cfg = _CACHE
    index = cache.get(cfg.crl_url, _issuer_key_id(cfg), dt.datetime.now(dt.UTC))
    return None if index is None else int(index.crl_number)


def _issuer_key_id(cfg: BenchConfig) -> bytes:
    if not _KEY_ID:
        _KEY_ID.append(_issuer(cfg).subject_key_identifier)
    return _KEY_ID[0]


_KEY_ID: list[bytes] = []


def profiled(app: Any) -> Any:
    """``app``, profiled on the chosen paths when ``TWCERT_BENCH_PROFILE`` names a directory."""
    directory = os.environ.get(PROFILE_ENV)
    if not directory:
        return app
    import atexit
    import cProfile

    paths = tuple(os.environ.get(PROFILE_ENV + "_PATHS", "/login").split(","))
    # CPU time, not wall time: on a shared machine the waits say more about the neighbours.
    profile = cProfile.Profile(time.process_time)
    atexit.register(lambda: profile.dump_stats(os.path.join(directory, f"{os.getpid()}.prof")))

    def wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("PATH_INFO", "")).endswith(paths):
            return app(environ, start_response)
        profile.enable()
        try:
            return list(app(environ, start_response))
        finally:
            profile.disable()

    return wrapper


# -- the floor --------------------------------------------------------------------------------


def floor(body: bytes, ca_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The least a login costs: parse the certificate, verify the CA's signature on it and the
    card's signature over the challenge. ``body`` is the login request's JSON plus ``tbs``."""
    data = json.loads(body)
    answer = data["response"]
    cert = x509.load_der_x509_certificate(base64.b64decode(answer["certb64"]))
    hash_algorithm = cert.signature_hash_algorithm
    assert hash_algorithm is not None
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm)
    card_key = cert.public_key()
    assert isinstance(card_key, rsa.RSAPublicKey)
    card_key.verify(
        base64.b64decode(answer["signature"]),
        data["tbs"].encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return {"status": "ok", "serial": format(cert.serial_number, "x")}


def _ca_key(cfg: BenchConfig) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(Path(cfg.issuer_file).read_bytes()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


# -- Flask ------------------------------------------------------------------------------------


def make_validator(cfg: BenchConfig, cache: Any) -> Any:
    from twcert.certificate import CAFamily
    from twcert.testing.kit import preloaded_validator
    from twcert.trust import TrustStore

    trust = TrustStore.empty()
    for ca in cfg.ca_files:
        trust = trust.with_pem_files(
            ca["path"], [ca["pin"]], family=CAFamily(ca["family"]), generation=ca["generation"]
        )
    arls = [Path(path).read_bytes() for path in cfg.arl_files]
    return preloaded_validator(trust, cache, arls)


def make_service(cfg: BenchConfig) -> Any:
    """PostgreSQL for personnel, bindings, agencies and PIN records; Redis for the challenges."""
    from twcert import LoginService
    from twcert.agency import AgencyResolver
    from twcert.login import LoginPolicy, LoginStores
    from twcert.pin import PinRecord
    from twcert.stores.redis import RedisNonceStore
    from twcert.stores.sql import SqlStores

    key = bytes.fromhex(cfg.index_key) if cfg.index_key else None
    validator = make_validator(cfg, crl_cache(cfg, key=key))
    sql = SqlStores(cfg.postgres_url, schema=cfg.schema, create=False)
    stores = LoginStores(
        nonces=RedisNonceStore(cfg.redis_url, prefix=cfg.redis_prefix),
        personnel=sql.personnel,
        bindings=sql.bindings,
        agencies=AgencyResolver(sql.agencies),
        pin_record=PinRecord(sql.pin_counters),
    )
    return LoginService(validator, stores, LoginPolicy(signature_type="PKCS1"))


def flask_app() -> Any:
    """The Flask adapter on the stores above, a protected page and the floor endpoint."""
    from flask import Flask, Response, request

    from twcert.contrib.flask import TWCert, get_principal, login_required

    _logging()
    cfg = BenchConfig.load()
    app = Flask("twcert_bench")
    # No TWCERT_ORIGIN: the origin is the request's (the port is picked at start).
    app.config.update(SECRET_KEY=SECRET_KEY)
    TWCert(app, login_service=make_service(cfg))
    ca_key = _ca_key(cfg)

    @app.get(PROTECTED_PATH)
    @login_required
    def protected() -> Any:
        principal = get_principal()
        assert principal is not None
        return {"status": "ok", "account": principal.account, "crl_number": crl_number()}

    @app.post(FLOOR_PATH)
    def floor_view() -> Any:
        return floor(request.get_data(), ca_key)

    @app.after_request
    def worker_header(response: Response) -> Response:
        response.headers["X-Worker"] = str(os.getpid())
        return response

    return profiled(app)


# -- Django -----------------------------------------------------------------------------------


def django_settings(cfg: BenchConfig) -> dict[str, Any]:
    """Users on PostgreSQL, sessions in Redis (cache engine), the twcert stores as for Flask."""
    from sqlalchemy.engine import make_url

    pg = make_url(cfg.postgres_url)
    twcert = {
        "TRUST_BUNDLED": False,
        "CA_FILES": [
            {"path": ca["path"], "pins": [ca["pin"]], "family": ca["family"], "generation": ca["generation"]}
            for ca in cfg.ca_files
        ],
        "CA_CRL_FILES": list(cfg.arl_files),
        "CRL_CACHE_DIR": cfg.index_dir,
        "REVOCATION_FETCH": False,
        "NONCE_STORE": cfg.redis_url,
        "REDIS_PREFIX": cfg.redis_prefix,
        "PIN_STORE": cfg.postgres_url,
        "BINDING_STORE": cfg.postgres_url,
        "PERSONNEL": cfg.postgres_url,
        "AGENCIES": cfg.postgres_url,
        "SQL_SCHEMA": cfg.schema,
        "SIGNATURE_TYPE": "PKCS1",
    }
    return {
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["*"],
        "USE_TZ": True,
        "ROOT_URLCONF": __name__,
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "twcert.contrib.django",
        ],
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        "AUTHENTICATION_BACKENDS": ["twcert.contrib.django.backends.TwcertBackend"],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": cfg.django_database,
                "USER": pg.username or "",
                "PASSWORD": pg.password or "",
                "HOST": pg.host or "",
                "PORT": str(pg.port or ""),
                "CONN_MAX_AGE": None,
            }
        },
        "CACHES": {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cfg.redis_url}
        },
        "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
        "TEMPLATES": [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
        "LOGGING_CONFIG": None,
        "TWCERT": twcert,
    }


def django_setup(cfg: BenchConfig) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**django_settings(cfg))
        django.setup()


def _django_service() -> Any:
    try:  # the adapter on the framework-neutral web layer builds it in service.py
        from twcert.contrib.django.service import get_service
    except ImportError:
        from twcert.contrib.django.conf import get_service
    return get_service()


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    cfg = BenchConfig.load()
    ca_key = _ca_key(cfg)

    def protected(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"status": "error"}, status=401)
        return JsonResponse(
            {"status": "ok", "account": request.user.get_username(), "crl_number": crl_number()}
        )

    @csrf_exempt
    def floor_view(request: HttpRequest) -> HttpResponse:
        return JsonResponse(floor(request.body, ca_key))

    return [
        path("auth/", include("twcert.contrib.django.urls")),
        path(PROTECTED_PATH.lstrip("/"), protected),
        path(FLOOR_PATH.lstrip("/"), csrf_exempt(floor_view)),
    ]


def __getattr__(name: str) -> Any:
    # Django reads ``urlpatterns`` from ROOT_URLCONF (this module) at the first request.
    if name == "urlpatterns":
        return _django_urls()
    raise AttributeError(name)


def django_app() -> Any:
    """The Django adapter: its service built from :func:`django_settings` at start."""
    from django.core.wsgi import get_wsgi_application

    _logging()
    cfg = BenchConfig.load()
    django_setup(cfg)
    application = get_wsgi_application()
    start = time.perf_counter()
    service = _django_service()  # opens the shared directory (keyless: each CRL verified again)
    built = (time.perf_counter() - start) * 1000
    cache = service.validator.checker.crls
    index = cache.get(cfg.crl_url, _issuer(cfg).subject_key_identifier, dt.datetime.now(dt.UTC))
    log.info(
        "worker %d: Django built its service (the shared directory opened) in %.1f ms; %s",
        os.getpid(),
        built,
        f"{len(index):,} entries, CRL number {index.crl_number}" if index else "NO fresh index",
    )
    start_refresh(cache, cfg, trust=service.validator.trust)
    _CACHE[:] = [cache, cfg]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        def with_worker(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker", str(os.getpid()))], *rest)

        return application(environ, with_worker)

    return profiled(app)


if __name__ == "__main__":  # python _http_app.py sync|migrate  (TWCERT_BENCH_CONFIG set)
    import sys

    if sys.argv[1:] == ["sync"]:
        sync_once(BenchConfig.load())
    elif sys.argv[1:] == ["migrate"]:
        from django.core.management import call_command

        django_setup(BenchConfig.load())
        call_command("migrate", verbosity=0, interactive=False)
