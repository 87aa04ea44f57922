"""The demo served with Flask and :mod:`twcert.contrib.flask`.

Pages (Traditional Chinese): 首頁 → 登入 (the adapter's login page, in this site's layout) →
首次使用 (when needed) → 應用系統 → D.其他人事總處業務 → DD:事求人機關徵才系統 → 職缺登載 /
職缺查詢; 公開職缺 (public), 測試卡片 (the demo's cards and their reset).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from twcert_vacancy import WORK_PLACES, PersonKind
from twcert_vacancy.errors import VacancyError, VacancyInvalidError
from twcert_vacancy.model import KNOWN_PERSON_KINDS
from twcert_vacancy.rocdate import parse_roc_or_iso

from ..contrib.flask import TWCert, current_principal, login_required
from ..contrib.flask.responses import error_response
from ..contrib.flask.security import verify_post
from ..errors import TwcertError
from ..web.errors import UnexpectedError
from .forms import FIELDS, field_id
from .site import DemoSite, cards_context, roc
from .state import public_pki_file

__all__ = ["create_app"]

log = logging.getLogger("twcert.demo")

_HERE = Path(__file__).parent


def _principal() -> Any:
    principal = current_principal
    assert principal, "login_required lets only logged-in users here"
    return principal


def _pages(site: DemoSite) -> Blueprint:
    bp = Blueprint("demo", __name__, static_folder="static", static_url_path="/static/demo")

    @bp.get("/")
    def home() -> str:
        return render_template("demo/home.html")

    @bp.get("/login")
    def login() -> BaseResponse:
        target = request.args.get("next")
        return redirect(url_for("twcert.login_page", next=target) if target else url_for("twcert.login_page"))

    @bp.get("/apps")
    @login_required
    def apps() -> str:
        return render_template("demo/apps.html")

    @bp.get("/apps/D")
    @login_required
    def apps_d() -> str:
        return render_template("demo/apps_d.html")

    @bp.get("/vacancies")
    @login_required
    def board() -> str:
        return render_template("demo/board.html", agency=site.agency(_principal().agency_code))

    @bp.route("/vacancies/new", methods=["GET", "POST"])
    @login_required
    def register() -> BaseResponse | str | tuple[str, int]:
        principal = _principal()
        if request.method == "GET":
            return _form(site, site.form_defaults(principal), None)
        verify_post(None)
        try:
            checked = site.register(request.form, principal)
        except VacancyInvalidError as exc:
            return _form(site, _posted(), exc), exc.http_status
        except VacancyError as exc:
            return _form(site, _posted(), exc), exc.http_status
        return render_template("demo/registered.html", vacancy=checked.vacancy, warnings=checked.warnings)

    @bp.get("/vacancies/mine")
    @login_required
    def mine() -> str | tuple[str, int]:
        principal = _principal()
        text = (request.args.get("date") or "").strip()
        error = None
        day = site.today()
        if text:
            try:
                day = parse_roc_or_iso(text)
            except VacancyError as exc:
                error = exc
        vacancies = site.agency_vacancies(principal.agency_code or "", day)
        page = render_template("demo/mine.html", vacancies=vacancies, day=day, query=text, error=error)
        return (page, 400) if error else page

    @bp.get("/jobs")
    def jobs() -> str:
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        return render_template("demo/jobs.html", page=site.public(page))

    @bp.get("/jobs/<work_id>")
    def job(work_id: str) -> str:
        try:
            vacancy = site.get(work_id)
        except VacancyError:
            abort(404)
        if not vacancy.is_online(site.now()):
            abort(404)  # outside its online period a vacancy is not public
        return render_template("demo/job.html", vacancy=vacancy)

    @bp.get("/demo/cards")
    def cards() -> str:
        args = request.args
        return render_template("demo/cards.html", **cards_context(site, args.get("done"), args.get("card")))

    @bp.post("/demo/cards/<card_serial>/unlock")
    def unlock(card_serial: str) -> BaseResponse:
        verify_post(None)
        if not site.unlock(card_serial):
            abort(404)
        return redirect(url_for("demo.cards", done="unlocked", card=card_serial), 303)

    @bp.post("/demo/cards/<card_serial>/insert")
    def insert(card_serial: str) -> BaseResponse:
        verify_post(None)
        if not site.insert(None if card_serial == "all" else card_serial):
            abort(404)
        return redirect(url_for("demo.cards", done="inserted"), 303)

    @bp.get("/pki/<path:name>")
    def pki(name: str) -> BaseResponse:
        # CA certificates and CRLs only (an allow-list; the CA keys are not under pki/ at all).
        found = public_pki_file(site.state, name)
        if found is None:
            abort(404)
        return send_file(found[0], mimetype=found[1])

    return bp


def _posted() -> dict[str, Any]:
    values: dict[str, Any] = request.form.to_dict()
    values["work_places"] = request.form.getlist("work_places")
    return values


def _form(site: DemoSite, values: dict[str, Any], error: VacancyError | None) -> str:
    return render_template(
        "demo/register.html",
        values=values,
        error=error,
        problems=error.problems if isinstance(error, VacancyInvalidError) else (),
        fields=FIELDS,
        field_id=field_id,
        person_kinds=KNOWN_PERSON_KINDS,
        work_places=WORK_PLACES.values(),
        agency_code=_principal().agency_code,
        agency_name=site.agency_name(_principal()),
        general_minimum=site.rules.policy.minimum_for(PersonKind.GENERAL),
    )


def create_app(site: DemoSite, *, secret_key: str | None = None) -> Flask:
    """The demo app over a built :class:`DemoSite`."""
    app = Flask(__name__, template_folder=str(_HERE / "templates"), static_folder=None)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        TWCERT_URL_PREFIX="/auth",
        TWCERT_AGENT_URL=site.agent_url,
        TWCERT_LOGIN_REDIRECT="/apps",
    )
    TWCert(app, login_service=site.state.login_service)
    app.register_blueprint(_pages(site))

    @app.errorhandler(TwcertError)
    def catalogued(error: TwcertError) -> BaseResponse:  # e.g. a POST without the CSRF token
        return error_response(error, login_url=url_for("twcert.login_page"))

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template("demo/not_found.html"), 404

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> BaseResponse | HTTPException:
        if isinstance(error, HTTPException):
            return error
        # The type only: a foreign exception's message may quote form data.
        log.error("demo page failed: %s", type(error).__name__)
        return error_response(UnexpectedError(type(error).__name__), login_url=url_for("twcert.login_page"))

    app.add_template_global(roc, "roc")
    app.add_template_filter(lambda places: "、".join(p.name for p in places), "places")
    app.add_template_global(site.today, "today")
    app.add_template_global(site.now, "utcnow")
    app.add_template_global(site.holder, "holder")
    app.add_template_global(lambda name: url_for("twcert.static", filename=name), "twcert_asset")
    app.add_template_global(lambda: "flask", "framework")
    return app
