"""The demo's pages as Django views (``--django``), over the same :class:`DemoSite` and templates.

The card login itself is :mod:`twcert.contrib.django` (its views under ``/auth/``, its backend);
these views only read who logged in from the session, as any host app would.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.http import (  # type: ignore[import-untyped, unused-ignore]
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import render  # type: ignore[import-untyped, unused-ignore]
from django.urls import include, path, reverse  # type: ignore[import-untyped, unused-ignore]
from django.views.static import serve  # type: ignore[import-untyped, unused-ignore]

from twcert_vacancy import WORK_PLACES, PersonKind
from twcert_vacancy.errors import VacancyError, VacancyInvalidError
from twcert_vacancy.model import KNOWN_PERSON_KINDS
from twcert_vacancy.rocdate import parse_roc_or_iso

from ..contrib.django.conf import SESSION_PRINCIPAL_KEY
from ..errors import TwcertError
from ..web.security import csrf_token
from .forms import FIELDS, field_id
from .site import DemoSite, Viewer, cards_context
from .state import public_pki_file

__all__ = ["bind", "csrf_failure", "demo_context", "handler404", "handler500", "urlpatterns"]

_HERE = Path(__file__).parent
#: The site the views serve (one per process: Django's settings are per process too).
_bound: dict[str, DemoSite] = {}

View = Callable[..., HttpResponse | FileResponse]


def bind(site: DemoSite) -> None:
    """Give the views their site (before the first request)."""
    _bound["site"] = site


def site() -> DemoSite:
    """The site the views serve."""
    return _demo()


def _demo() -> DemoSite:
    try:
        return _bound["site"]
    except KeyError:
        raise RuntimeError("twcert.demo.django_views.bind(site) was not called") from None


def _methods(*allowed: str) -> Callable[[View], View]:
    """Like Django's ``require_http_methods``, typed."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | FileResponse:
            if request.method not in allowed:
                return HttpResponseNotAllowed(list(allowed))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


_GET = _methods("GET", "HEAD")
_POST = _methods("POST")


def _viewer(request: HttpRequest) -> Viewer | None:
    return Viewer.from_dict(request.session.get(SESSION_PRINCIPAL_KEY))


def demo_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor for the Django-template pages (the adapter's login, first use, errors)."""
    viewer = _viewer(request)
    holder = _demo().holder(viewer.kind, viewer.principal_id) if viewer else ""
    return {"demo_viewer": viewer, "demo_holder": holder, "demo_twcert_csrf": csrf_token(request.session)}


def _login_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | FileResponse:
        if _viewer(request) is None:
            return HttpResponseRedirect(f"{reverse('twcert:page')}?next={quote(request.get_full_path())}")
        return view(request, *args, **kwargs)

    return wrapper


def error_page(request: HttpRequest, error: TwcertError) -> HttpResponse:
    return render(request, "demo/error.html", {"error": error, "problems": ()}, status=error.http_status)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal, shown like every other refusal (code, zh-TW, English, action)."""
    from ..web.errors import RequestForgeryError

    return error_page(request, RequestForgeryError(f"Django CSRF: {reason[:80]}"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "demo/not_found.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500, shown with the catalogued text (Django logs the failure itself)."""
    from ..web.errors import UnexpectedError

    return error_page(request, UnexpectedError("django 500"))


handler404 = not_found
handler500 = server_error


@_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html")


@_GET
def login_redirect(request: HttpRequest) -> HttpResponse:
    target = request.GET.get("next")
    page = str(reverse("twcert:page"))
    return HttpResponseRedirect(f"{page}?next={quote(target)}" if target else page)


@_GET
@_login_required
def apps(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/apps.html")


@_GET
@_login_required
def apps_d(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/apps_d.html")


@_GET
@_login_required
def board(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    return render(
        request, "demo/board.html", {"agency": _demo().agency(viewer.agency_code if viewer else None)}
    )


def _form(
    request: HttpRequest, values: dict[str, Any], error: VacancyError | None, status: int = 200
) -> HttpResponse:
    site = _demo()
    viewer = _viewer(request)
    context = {
        "values": values,
        "error": error,
        "problems": error.problems if isinstance(error, VacancyInvalidError) else (),
        "fields": FIELDS,
        "field_id": field_id,
        "person_kinds": KNOWN_PERSON_KINDS,
        "work_places": WORK_PLACES.values(),
        "agency_code": viewer.agency_code if viewer else None,
        "agency_name": site.agency_name(viewer) if viewer else "",
        "general_minimum": site.rules.policy.minimum_for(PersonKind.GENERAL),
    }
    return render(request, "demo/register.html", context, status=status)


@_methods("GET", "POST")
@_login_required
def register(request: HttpRequest) -> HttpResponse:
    site = _demo()
    viewer = _viewer(request)
    assert viewer is not None
    if request.method == "GET":
        return _form(request, site.form_defaults(viewer), None)
    try:
        checked = site.register(request.POST, viewer)
    except VacancyError as exc:
        values: dict[str, Any] = request.POST.dict()
        values["work_places"] = request.POST.getlist("work_places")
        return _form(request, values, exc, exc.http_status)
    return render(request, "demo/registered.html", {"vacancy": checked.vacancy, "warnings": checked.warnings})


@_GET
@_login_required
def mine(request: HttpRequest) -> HttpResponse:
    site = _demo()
    viewer = _viewer(request)
    text = (request.GET.get("date") or "").strip()
    error = None
    day = site.today()
    if text:
        try:
            day = parse_roc_or_iso(text)
        except VacancyError as exc:
            error = exc
    vacancies = site.agency_vacancies((viewer.agency_code if viewer else None) or "", day)
    context = {"vacancies": vacancies, "day": day, "query": text, "error": error}
    return render(request, "demo/mine.html", context, status=400 if error else 200)


@_GET
def jobs(request: HttpRequest) -> HttpResponse:
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    return render(request, "demo/jobs.html", {"page": _demo().public(page)})


@_GET
def job(request: HttpRequest, work_id: str) -> HttpResponse:
    site = _demo()
    try:
        vacancy = site.get(work_id)
    except VacancyError:
        raise Http404 from None
    if not vacancy.is_online(site.now()):
        raise Http404  # outside its online period a vacancy is not public
    return render(request, "demo/job.html", {"vacancy": vacancy})


@_GET
def cards(request: HttpRequest) -> HttpResponse:
    context = cards_context(_demo(), request.GET.get("done"), request.GET.get("card"))
    return render(request, "demo/cards.html", context)


@_POST
def unlock(request: HttpRequest, card_serial: str) -> HttpResponse:
    if not _demo().unlock(card_serial):
        raise Http404
    return HttpResponseRedirect(f"{reverse('cards')}?done=unlocked&card={quote(card_serial)}", status=303)


@_POST
def insert(request: HttpRequest, card_serial: str) -> HttpResponse:
    if not _demo().insert(None if card_serial == "all" else card_serial):
        raise Http404
    return HttpResponseRedirect(f"{reverse('cards')}?done=inserted", status=303)


@_GET
def pki(request: HttpRequest, name: str) -> HttpResponse | FileResponse:
    """CA certificates and CRLs only (an allow-list; the CA keys are not under pki/ at all)."""
    found = public_pki_file(_demo().state, name)
    if found is None:
        raise Http404
    return FileResponse(found[0].open("rb"), content_type=found[1])


@_GET
def demo_static(request: HttpRequest, filename: str) -> HttpResponse | FileResponse:
    return serve(request, filename, document_root=str(_HERE / "static"))


urlpatterns = [
    path("", home, name="home"),
    path("login", login_redirect, name="login"),
    path("apps", apps, name="apps"),
    path("apps/D", apps_d, name="apps_d"),
    path("vacancies", board, name="board"),
    path("vacancies/new", register, name="register"),
    path("vacancies/mine", mine, name="mine"),
    path("jobs", jobs, name="jobs"),
    path("jobs/<str:work_id>", job, name="job"),
    path("demo/cards", cards, name="cards"),
    path("demo/cards/<str:card_serial>/unlock", unlock, name="unlock"),
    path("demo/cards/<str:card_serial>/insert", insert, name="insert"),
    path("pki/<path:name>", pki, name="pki"),
    path("static/demo/<path:filename>", demo_static, name="demo_static"),
    path("auth/", include("twcert.contrib.django.urls")),
]
