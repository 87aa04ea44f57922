"""Django settings for the adapter's tests: a host project trusting the committed fixture PKI.

Databases: ``default`` is an SQLite file and ``postgres`` a throw-away PostgreSQL database, both
named by environment variables that :func:`tests.twcert.contrib.django.setup.configure` sets
before Django starts, so worker processes spawned by the race tests open the same databases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[4]
GPKI = REPO / "fixtures" / "gpki"
MANIFEST = json.loads((GPKI / "manifest.json").read_text(encoding="utf-8"))
CAS = json.loads((GPKI / "cas.json").read_text(encoding="utf-8"))["cas"]

#: The instant the fixture certificates are judged at; tests move it (see ``clock``).
FIXTURE_NOW = dt.datetime.fromisoformat(MANIFEST["now"])
NOW = [FIXTURE_NOW]


def clock() -> dt.datetime:
    return NOW[0]


def _pin(path: Path) -> str:
    der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def _ca_files() -> list[dict[str, object]]:
    files: list[dict[str, object]] = []
    for label, info in CAS.items():
        if label.startswith(("ROGUE", "MOICA_ROGUE")):
            continue  # the impostor chain is never trusted
        path = GPKI / "ca" / f"{label}.pem"
        files.append(
            {
                "path": str(path),
                "pins": [_pin(path)],
                "family": info["family"],
                "generation": info["generation"],
            }
        )
    return files


def _crl_files() -> list[dict[str, object]]:
    crls = MANIFEST["crls"]
    names = ["MOICA2-complete"] + [
        f"{label}-complete"
        for label in ("MOICA1", "MOICA3", "GCA", "GTESTCA", "MOEACA", "XCA", "MOICA_EXPIRED")
    ]
    return [{"path": str(GPKI / crls[name]["file"]), "url": crls[name]["url"]} for name in names]


CA_FILES = _ca_files()
CRL_FILES = _crl_files()
CA_CRL_FILES = [str(GPKI / MANIFEST["crls"][f"GRCA{n}-arl"]["file"]) for n in (1, 2, 3)]
AGENCY_OID_MAP = {a["oid"]: a["code"] for a in MANIFEST["agencies"]}

TWCERT = {
    "TRUST_BUNDLED": False,
    "CA_FILES": CA_FILES,
    "CRL_FILES": CRL_FILES,
    "CA_CRL_FILES": CA_CRL_FILES,
    "REVOCATION_FETCH": False,
    "AGENCY_OID_MAP": AGENCY_OID_MAP,
    "CLOCK": "tests.twcert.contrib.django.settings.clock",
}

_TEST_DIR = Path(os.environ.get("TWCERT_DJANGO_TEST_DIR", "/nonexistent"))
_PG = make_url(
    os.environ.get("TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_TEST_DIR / "default.sqlite3"),
        # Several processes write the file in the race tests: wait for the lock, don't fail.
        "OPTIONS": {"timeout": 60, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"},
        "TEST": {"NAME": str(_TEST_DIR / "default.sqlite3")},
    },
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("TWCERT_DJANGO_PG_DB", "twcert_django_unset"),
        "USER": _PG.username or "",
        "PASSWORD": _PG.password or "",
        "HOST": _PG.host or "",
        "PORT": str(_PG.port or ""),
    },
}

SECRET_KEY = "twcert-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "jobs.example.gov.tw", "other.example.gov.tw"]
USE_TZ = True
TIME_ZONE = "Asia/Taipei"
LANGUAGE_CODE = "zh-hant"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # twcert must not follow this (it pins BigAutoField)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "twcert.contrib.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "twcert.contrib.django.backends.TwcertBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "tests.twcert.contrib.django.urls"
LOGIN_URL = "twcert:page"
LOGIN_REDIRECT_URL = "/home/"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING_CONFIG = None
