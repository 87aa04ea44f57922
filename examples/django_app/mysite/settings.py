"""A Django project with card login (twcert[django]); production trusts the bundled GRCA."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-secret")
ALLOWED_HOSTS = ["jobs.example.gov.tw"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
INSTALLED_APPS += ["twcert.contrib.django"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
AUTHENTICATION_BACKENDS = ["twcert.contrib.django.backends.TwcertBackend"]
ROOT_URLCONF = "mysite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
USE_TZ = True
LOGIN_URL = "twcert:page"
LOGIN_REDIRECT_URL = "/me/"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"  # the HiPKI popup
TWCERT = {"CRL_CACHE_DIR": os.environ.get("TWCERT_CRL_DIR", "/var/cache/twcert/crl")}
