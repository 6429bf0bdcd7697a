"""The family's pages: sign-in by a link sent by e-mail, then one page for their own case.

A family session is a different kind of session from staff's: the cookie holds `family` (the
case) and no `actor`, so every staff page sends it to the staff sign-in, and the family's
pages take the case from the session only — no family URL names a case, so no other case can
be asked for. The session is also held server-side (`console_sessions`, under the family's
actor), ends after `family_session_hours`, and every page refuses a case that has closed.

The sign-in link opens a page with one button: a link scanner that fetches the link (mail
filters do) does not spend it; the family's click does, with a POST.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from cellpath.console import auth
from cellpath.console.i18n import day_for, gettext_for, money_for, when_for
from cellpath.delivery.messages import family_language
from cellpath.services import family
from cellpath.services.base import Refusal, Unreachable
from models.enums import RecordType
from models.pathway.data_records import SYMPTOMS

FAMILY_LANGUAGES = ("en", "zh_Hans", "ar", "ru", "es")


class FamilySignInRequired(Exception):
    """No valid family session: the page sends them to the family's sign-in form."""


def language_from(request: Request) -> str:
    """Before sign-in: `?lang=`, else the browser's Accept-Language, else English."""
    asked = request.query_params.get("lang")
    if asked in FAMILY_LANGUAGES:
        return asked
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip()
        lang = family_language(code) if code else None
        if lang in FAMILY_LANGUAGES:
            return lang
    return "en"


def family_routes(app: FastAPI, console: Any) -> None:
    """Add the family's pages to the console."""
    settings = console.settings
    templates = console.templates

    @app.exception_handler(FamilySignInRequired)
    async def to_family_sign_in(request: Request, _exc: FamilySignInRequired) -> Response:
        return RedirectResponse("/family", status_code=303)

    def signed_in_family(request: Request) -> family.FamilySession:
        case = request.session.get("family")
        since = float(request.session.get("since", 0))
        sid = request.session.get("sid")
        store = console.opened_store()
        if not case or store is None or not sid:
            raise FamilySignInRequired
        expired = time.time() - since > settings.family_session_hours * 3600
        if expired or not store.console_session_open(str(sid), family.family_actor(str(case))):
            request.session.clear()
            raise FamilySignInRequired
        return family.FamilySession(str(case), console.session(family.family_actor(str(case))))

    def render(
        request: Request, name: str, language: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        view = context.get("view")
        timezone = view.timezone if isinstance(view, family.FamilyView) else "UTC"
        context = {
            "csrf": auth.csrf_token(request),
            "lang": language,
            "_": gettext_for(language),
            "when": when_for(language, timezone),
            "day": day_for(language, timezone),
            "money": money_for(language),
            "record_types": [t.value for t in RecordType],
            "symptoms": SYMPTOMS,
            **context,
        }
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/family", response_class=HTMLResponse)
    async def family_start(request: Request) -> HTMLResponse:
        return render(request, "family_start.html", language_from(request), {})

    @app.post("/family/request", dependencies=[Depends(auth.check_csrf)])
    async def family_request(request: Request) -> HTMLResponse:
        form = await request.form()
        language = str(form.get("lang", "")) or language_from(request)
        language = language if language in FAMILY_LANGUAGES else "en"
        s = console.session("family-request")
        try:
            await family.request_link(s, str(form.get("email", "")))
        except Unreachable:
            pass  # the same answer either way: nothing says whether the address is on file
        finally:
            console.keep(s)
        return render(request, "family_start.html", language, {"requested": True})

    def link_language(request: Request, token: str) -> str:
        try:
            known = family.link_language(console.session("family-sign-in"), token)
        except Unreachable:
            known = None
        return known if known in FAMILY_LANGUAGES else language_from(request)

    @app.get("/family/sign-in/{token}", response_class=HTMLResponse)
    async def family_link(request: Request, token: str) -> HTMLResponse:
        language = link_language(request, token)
        return render(request, "family_confirm.html", language, {"token": token})

    @app.post("/family/sign-in/{token}", dependencies=[Depends(auth.check_csrf)])
    async def family_sign_in(request: Request, token: str) -> Response:
        s = console.session("family-sign-in")
        language = link_language(request, token)
        try:
            case = family.sign_in(s, token)
            code = await family.send_code(s, token, case)
        except Refusal as e:
            context = {"token": token, "error": str(e)}
            return render(request, "family_confirm.html", language, context, 403)
        except Unreachable as e:
            context = {"token": token, "error": str(e)}
            return render(request, "family_confirm.html", language, context, 503)
        finally:
            console.keep(s)
        request.session.clear()  # no staff session survives into a family's, nor the reverse
        if code is not None:
            link_id, last_digits = code
            request.session.update(
                {
                    "family_pending": link_id,
                    "lang": language,
                    "phone_end": last_digits,
                    "csrf": secrets.token_urlsafe(32),
                }
            )
            return RedirectResponse("/family/code", status_code=303)
        start(request, case)
        return RedirectResponse("/family/home", status_code=303)

    def start(request: Request, case: str) -> None:
        store = console.opened_store()
        request.session.clear()
        sid = store.open_console_session(family.family_actor(case)) if store else None
        request.session.update(
            {"family": case, "since": time.time(), "sid": sid, "csrf": secrets.token_urlsafe(32)}
        )

    @app.get("/family/code", response_class=HTMLResponse)
    async def family_code_form(request: Request) -> Response:
        if not request.session.get("family_pending"):
            return RedirectResponse("/family", status_code=303)
        language = str(request.session.get("lang", "en"))
        context = {"phone_end": request.session.get("phone_end", "")}
        return render(request, "family_code.html", language, context)

    @app.post("/family/code", dependencies=[Depends(auth.check_csrf)])
    async def family_code(request: Request) -> Response:
        pending = request.session.get("family_pending")
        if not pending:
            return RedirectResponse("/family", status_code=303)
        form = await request.form()
        s = console.session("family-sign-in")
        try:
            case = family.check_code(s, int(pending), str(form.get("code", "")))
        except Refusal as e:
            language = str(request.session.get("lang", "en"))
            context = {"phone_end": request.session.get("phone_end", ""), "error": str(e)}
            return render(request, "family_code.html", language, context, 403)
        finally:
            console.keep(s)
        start(request, case)
        return RedirectResponse("/family/home", status_code=303)

    async def home_page(
        request: Request,
        f: family.FamilySession,
        result: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        try:
            view = await family.view(f)
        except Refusal as e:
            request.session.clear()
            return render(request, "family_start.html", "en", {"error": str(e)}, 403)
        except Unreachable:
            context = {"error": "The page cannot be shown right now; call the centre."}
            return render(request, "family_start.html", "en", context, 503)
        finally:
            console.keep(f.session)
        context = {"view": view, "result": result or {}}
        return render(request, "family_home.html", view.language, context, status)

    @app.get("/family/home", response_class=HTMLResponse)
    async def family_home(
        request: Request, f: family.FamilySession = Depends(signed_in_family)
    ) -> HTMLResponse:
        return await home_page(request, f)

    async def act(request: Request, f: family.FamilySession, where: str, call: Any) -> Response:
        try:
            done = await call()
        except Refusal as e:
            return await home_page(request, f, {"where": where, "refused": str(e)}, 422)
        except Unreachable:
            refused = {"where": where, "refused": "not sent: please try again, or call the centre"}
            return await home_page(request, f, refused, 503)
        finally:
            console.keep(f.session)
        return await home_page(request, f, {"where": where, "done": done})

    @app.post("/family/symptom", dependencies=[Depends(auth.check_csrf)])
    async def family_symptom(
        request: Request, f: family.FamilySession = Depends(signed_in_family)
    ) -> Response:
        form = await request.form()

        async def call() -> str:
            await family.report_symptom(
                f, str(form.get("symptom", "")), str(form.get("details", ""))
            )
            return "symptom"

        return await act(request, f, "symptom", call)

    @app.post("/family/message", dependencies=[Depends(auth.check_csrf)])
    async def family_message(
        request: Request, f: family.FamilySession = Depends(signed_in_family)
    ) -> Response:
        form = await request.form()

        async def call() -> str:
            await family.message(f, str(form.get("text", "")))
            return "message"

        return await act(request, f, "message", call)

    @app.post("/family/upload", dependencies=[Depends(auth.check_csrf)])
    async def family_upload(
        request: Request, f: family.FamilySession = Depends(signed_in_family)
    ) -> Response:
        form = await request.form()
        upload = form.get("file")

        async def call() -> str:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise Refusal("choose a file to send")
            data = await upload.read(settings.records_max_bytes + 1)
            await family.upload(
                f,
                data,
                record_type=str(form.get("record_type", "")),
                filename=upload.filename,
                declared=upload.content_type,
            )
            return "upload"

        return await act(request, f, "upload", call)

    @app.get("/family/calendar.ics")
    async def family_calendar(f: family.FamilySession = Depends(signed_in_family)) -> Response:
        try:
            data = await family.calendar(f)
        except (Refusal, Unreachable):
            return RedirectResponse("/family", status_code=303)
        finally:
            console.keep(f.session)
        return Response(
            data,
            media_type="text/calendar",
            headers={"Content-Disposition": 'attachment; filename="my-appointments.ics"'},
        )

    @app.post("/family/sign-out", dependencies=[Depends(auth.check_csrf)])
    async def family_sign_out(request: Request) -> Response:
        auth.end_session(request, console.opened_store())
        return RedirectResponse("/family", status_code=303)
