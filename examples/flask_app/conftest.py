"""The app's test set-up: twcert's plugin gives a fake PKI, cards and a login service."""

from __future__ import annotations

import pytest
from app import create_app
from flask import Flask

from twcert import LoginService

pytest_plugins = ["twcert.testing.pytest_plugin"]


@pytest.fixture
def app(twcert_login_service: LoginService) -> Flask:
    return create_app(twcert_login_service, TESTING=True)
