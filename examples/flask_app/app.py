"""A Flask app with card login (twcert[flask]): the login page and one protected page."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from twcert.contrib.flask import TWCert, current_principal, login_required


def create_app(login_service: object, **config: Any) -> Flask:
    """``login_service``: the app's LoginService, or a callable ``(app) -> LoginService``."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-secret"),
        TWCERT_LOGIN_REDIRECT="/me",
        **config,
    )
    TWCert(app, login_service=login_service)

    @app.get("/me")
    @login_required
    def me() -> dict[str, Any]:
        principal = current_principal
        assert principal is not None  # login_required let the request through
        return {"id": principal.principal_id, "kind": principal.kind, "agency": principal.agency_code}

    return app
