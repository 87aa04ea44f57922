"""The settings example of docs/django.md passes twcert's own checks on a new project."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.test import override_settings

from twcert.contrib.django.checks import check_popup_policy

GUIDE = Path(__file__).resolve().parents[4] / "docs" / "django.md"
# The MIDDLEWARE of `django-admin startproject` (Django 5.2).
STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def _guide_settings() -> dict[str, Any]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("## 1. settings.py")
    match = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(text, start)
    assert match is not None
    namespace: dict[str, Any] = {"__file__": str(GUIDE)}
    exec(compile(match.group(1), "docs/django.md", "exec"), namespace)  # the guide is ours, not input
    return namespace


def test_the_guides_settings_keep_the_hipki_popup_working() -> None:
    guide = _guide_settings()
    with override_settings(MIDDLEWARE=STARTPROJECT_MIDDLEWARE):
        assert [m.id for m in check_popup_policy()] == ["twcert.W007"]  # a new project without the line
        with override_settings(SECURE_CROSS_ORIGIN_OPENER_POLICY=guide["SECURE_CROSS_ORIGIN_OPENER_POLICY"]):
            assert check_popup_policy() == []
    assert guide["LOGIN_URL"] == "twcert:page"
