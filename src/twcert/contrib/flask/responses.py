"""How the blueprint answers: JSON for scripts, a small Traditional Chinese page for browsers."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Response, json, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from twcert.errors import TwcertError
from twcert.web import contract

__all__ = ["error_response", "json_response", "no_store", "wants_json"]

R = TypeVar("R", bound=BaseResponse)


def wants_json() -> bool:
    """A script (fetch/XHR, JSON body or ``Accept: application/json``) rather than a page load."""
    if request.is_json or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def no_store(response: R) -> R:
    """Login answers and pages are personal: never cached, never sniffed, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    return no_store(Response(body, status=status, mimetype=contract.CONTENT_TYPE))


def error_response(error: TwcertError, *, login_url: str | None = None) -> Response:
    """The error as JSON or as the ``twcert/error.html`` page, with its HTTP status."""
    if wants_json():
        return json_response(contract.error_payload(error), error.http_status)
    page = render_template("twcert/error.html", error=error, login_url=login_url)
    return no_store(Response(page, status=error.http_status, mimetype="text/html"))
