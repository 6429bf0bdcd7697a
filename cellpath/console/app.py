"""The console's pages and actions (FastAPI, Jinja2 templates, htmx for partial updates).

Every page and action goes through the services, as the CLI does: the signed-in person is the
session's actor, a forbidden action is refused and audited by the service, a journey's
refusal comes back as the service's `Refusal` and is shown next to the form with nothing
changed. Forms work without JavaScript (a full page comes back); with htmx the case's body is
swapped in place.

Identifying details appear only on the case page for the care team (the service decides),
never in a URL, a page title or a log line: the intake form is a POST, and case pages are
addressed by case id.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client

from cellpath.config import Settings, get_settings
from cellpath.console import auth, i18n
from cellpath.console.board_page import board_routes
from cellpath.console.capacity_page import capacity_routes
from cellpath.console.desk_page import desk_routes
from cellpath.console.family_page import family_routes
from cellpath.console.filters import FILTERS, label, when
from cellpath.console.forms import (
    LAB_INPUTS,
    OBSERVATION_CHOICES,
    PHASES,
    cost_rows,
    for_signer,
    local_time,
    milestone_forms,
    observation_from_form,
)
from cellpath.console.intake_page import intake_routes
from cellpath.console.language import install, language_routes
from cellpath.console.measures_page import measures_routes
from cellpath.console.records_page import (
    keep_documents,
    records_context,
    records_routes,
    signed_documents,
)
from cellpath.console.search_page import search_routes
from cellpath.console.signin import signin_routes
from cellpath.console.signing import both_sign, sign
from cellpath.console.sso import oidc, sso_routes
from cellpath.services import access, caseload, handover, journeys
from cellpath.services.base import Refusal, Session, Unreachable
from cellpath.store import CaseStore
from models import bounds
from models.enums import MilestoneKind, Phase, Program, Severity
from models.errors import RefusalCode
from models.messages import (
    AcknowledgeAlertInput,
    MilestoneInput,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway import data_from_text
from models.pathway.gates import SIGNED_DECISIONS
from models.roles import Action

HERE = Path(__file__).parent
log = structlog.get_logger("cellpath.console")


class Console:
    """The console's shared parts: settings, one Temporal client and one case store for
    every request, the sign-in throttle, the templates."""

    def __init__(self, settings: Settings, client: Client | None, store: CaseStore | None):
        self.settings = settings
        self.client = client
        self.store = store
        self.throttle = auth.Throttle(
            settings.console_sign_in_attempts, settings.console_sign_in_window_minutes * 60
        )
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters.update(FILTERS)
        self.templates.env.globals.update(PHASES=PHASES, Severity=Severity, Action=Action)
        install(self.templates.env)

    def opened_store(self) -> CaseStore | None:
        """The case store, opened on first use (None while it cannot be opened)."""
        if self.store is None:
            try:
                self.store = CaseStore.from_url(self.settings.database_url)
            except Exception:  # the caller says what it cannot do without it
                self.store = None
        return self.store

    def session(self, actor: str) -> Session:
        """A service session for `actor`, sharing this process's client and store (the store
        opened on first use; if it cannot be opened, the service says so as `Unreachable`)."""
        if self.store is None:
            try:
                self.store = CaseStore.from_url(self.settings.database_url)
            except Exception:  # the session opens it again and reports why
                self.store = None
        return Session(actor=actor, settings=self.settings, client=self.client, store=self.store)

    def keep(self, s: Session) -> None:
        """Keep the Temporal client a session connected for the next requests."""
        self.client = self.client or s.client


# --- the application -------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    store: CaseStore | None = None,
) -> FastAPI:
    """The console application; `client` and `store` are opened on first use when not given."""
    settings = settings or get_settings()
    console = Console(settings, client, store)
    app = FastAPI(title="cellpath console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    secret = (
        settings.console_secret.get_secret_value()
        if settings.console_secret
        else secrets.token_urlsafe(32)
    )
    language_routes(app, console)  # inside the session middleware, added next
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="cellpath_session",
        max_age=int(settings.console_idle_minutes * 60),
        same_site="lax",
        https_only=settings.console_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    oauth = oidc(settings)
    templates = console.templates

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Pages of patients' cases: never cached, never framed, no outside script or style.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        )
        return response

    @app.exception_handler(auth.SignInRequired)
    async def to_sign_in(request: Request, _exc: auth.SignInRequired) -> Response:
        target = "/login?next=" + request.url.path
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": exc.detail, "code": exc.status_code, "actor": None},
            status_code=exc.status_code,
        )

    def actor(request: Request) -> str:
        return auth.signed_in(request, settings, console.opened_store())

    def page(
        request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        context = {"actor": None, "csrf": auth.csrf_token(request), **context}
        if context["actor"] and "may_intake" not in context:
            # The header offers "New case" only to those who may take one in.
            allowed = caseload.permissions(console.session(context["actor"]))
            context["may_intake"] = allowed.may(Action.INTAKE)
            context["may_manage"] = allowed.may(Action.MANAGE_STAFF)
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def outage(request: Request, who: str, e: Unreachable) -> HTMLResponse:
        code = 404 if str(e).startswith("no journey for case") else 503
        if code == 404:
            log.info("console.unknown_case", path=request.url.path)  # an answer, not an outage
        else:
            log.warning("console.unreachable", error=str(e), path=request.url.path)
        return page(request, "error.html", {"message": str(e), "code": code, "actor": who}, code)

    # --- sign-in ---------------------------------------------------------------------------

    signin_routes(app, console, page=page, outage=outage, sso=oauth is not None)
    if oauth is not None:
        sso_routes(app, console, oauth)

    # --- the worklist ----------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def worklist(
        request: Request,
        who: str = Depends(actor),
        phase: str = "",
        site: str = "",
        coordinator: str = "",
        program: str = "",
        page_token: str = "",
        given: str = "",
    ) -> HTMLResponse:
        s = console.session(who)
        context: dict[str, Any] = {
            "actor": who,
            "given": given[:64],  # a case just given to a colleague (desk_page)
            "filters": {
                "phase": phase,
                "site": site,
                "coordinator": coordinator,
                "program": program,
            },
            "phases": [p.value for p in Phase],
            "programs": [p.value for p in Program],
            "now": datetime.now(UTC),
            "page_token": page_token,
            "may_intake": caseload.permissions(s).may(Action.INTAKE),
            "may_identity": caseload.permissions(s).may(Action.READ_IDENTITY),
        }
        try:
            raw = {"phase": phase, "site": site, "coordinator": coordinator, "program": program}
            filters = caseload.Filters.model_validate({k: v for k, v in raw.items() if v})
            context["worklist"] = await caseload.worklist(s, filters, page_token or None)
        except ValidationError as e:
            context["error"] = "; ".join(_problem(err) for err in e.errors())
        except Refusal as e:
            context["error"] = str(e)
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        name = "worklist_rows.html" if request.headers.get("HX-Request") else "worklist.html"
        return page(request, name, context, 422 if "error" in context else 200)

    search_routes(app, console, actor=actor, page=page)
    board_routes(app, console, actor=actor, page=page, outage=outage)
    measures_routes(app, console, actor=actor, page=page, outage=outage)

    # --- a case ----------------------------------------------------------------------------

    async def case_page(
        request: Request,
        who: str,
        case_id: str,
        result: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        s = console.session(who)
        try:
            view = await caseload.case_view(s, case_id)
        except Unreachable as e:
            return await outage(request, who, e)
        except Refusal as e:
            context = {
                "message": i18n.said(e),
                "code": 403,
                "actor": who,
            }
            if e.code is RefusalCode.CARE_TEAM:
                # Someone outside the care team may still need the case now: the way in is
                # offered, with what it costs (audited, the coordinator told).
                context["break_glass"] = case_id
            return page(request, "error.html", context, 403)
        finally:
            console.keep(s)
        client = console.client
        namespace = client.namespace if client else "default"
        allowed = caseload.permissions(s)
        role_may = {
            "milestone": allowed.may(Action.MILESTONE),
            "observe": allowed.may(Action.OBSERVE),
            "acknowledge": allowed.may(Action.ACKNOWLEDGE),
            "acknowledge_critical": allowed.may(Action.ACKNOWLEDGE, critical=True),
            "reschedule": allowed.may(Action.RESCHEDULE),
            "withdraw": allowed.may(Action.WITHDRAW),
            "manage": allowed.may(Action.MANAGE_STAFF),
        }
        forms = [
            for_signer(f, who, signs=allowed.may(Action.MILESTONE, milestone=f.kind))
            for f in milestone_forms(view.status)
            if allowed.may(Action.MILESTONE, milestone=f.kind)
            or allowed.may(Action.MILESTONE, milestone=f.kind, transcribed=True)
        ]
        full = not request.headers.get("HX-Request")
        if result and "refused" in result:
            result["inline"] = result["where"] in _form_ids(view.status, forms, role_may)
        context = {
            "actor": who,
            "case": view,
            "s": view.status,
            "tz": view.timezone,
            "now": datetime.now(UTC),
            "forms": forms if role_may["milestone"] else [],
            "may": role_may,
            "choices": OBSERVATION_CHOICES,
            # A form's own id: the same form sent twice (a double click, a resend) is recorded
            # once (the journey acknowledges a repeated observation id as a duplicate).
            "form_id": f"console-{uuid.uuid4().hex}",
            "labs_form_id": f"console-{uuid.uuid4().hex}",
            "lab_inputs": LAB_INPUTS,
            "result": result or {},
            # Identifying details only on the whole page (a partial refresh does not look
            # them up again, so each look is one audited view).
            "patient": caseload.patient(s, case_id, allowed) if full else None,
            "ui_link": f"{console.settings.ui_url}/namespaces/{namespace}/workflows/"
            f"journey-{case_id}",
        }
        if full:
            context |= records_context(s, case_id, allowed.may)
        name = "case.html" if full else "case_body.html"
        return page(request, name, context, status)

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case(request: Request, case_id: str, who: str = Depends(actor)) -> HTMLResponse:
        return await case_page(request, who, case_id)

    async def act(
        request: Request,
        who: str,
        case_id: str,
        where: str,
        call: Any,
        typed: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """Run a service call from a form; show its outcome (or refusal) next to `where`.

        A refused form comes back with what was `typed` in it (the bedside form: a nurse
        answers the question asked and saves again, retyping nothing).
        """
        s = console.session(who)
        try:
            outcome = await call(s)
        except Refusal as e:
            status = _refusal_status(e)
            # In the reader's language when its words come from the catalogue; the code and
            # the data are the same in every language.
            words = i18n.said(e)
            shown = {"where": where, "refused": words, "code": e.code.value, "typed": typed}
            shown["english_only"] = e.template is None  # its details have no catalogue yet
            return await case_page(request, who, case_id, shown, status)
        except (ValueError, ValidationError) as e:
            message = (
                "; ".join(_problem(err) for err in e.errors())
                if isinstance(e, ValidationError)
                else i18n.gettext(str(e))  # the form's own questions (`forms.ASK_GIVEN`)
            )
            shown = {"where": where, "refused": message, "typed": typed}
            return await case_page(request, who, case_id, shown, 422)
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return await case_page(request, who, case_id, {"where": where, "done": outcome})

    @app.post("/cases/{case_id}/milestone", dependencies=[Depends(auth.check_csrf)])
    async def milestone(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        kind = str(form.get("kind", ""))
        tz = str(form.get("tz", "UTC"))
        fields = {
            str(k).removeprefix("data."): str(v)
            for k, v in form.multi_items()
            if str(k).startswith("data.") and isinstance(v, str)
        }

        async def call(s: Session) -> Any:
            # Signed documents chosen instead of their typed SHA-256: hashed into `fields`.
            documents = await signed_documents(s, case_id, form, fields)
            transcribed = bool(fields.get("transcribed_from_sha256", "").strip())
            signs = caseload.permissions(s).may(Action.MILESTONE, milestone=kind)
            if kind in SIGNED_DECISIONS and not transcribed and signs:
                # (Someone who may not sign it is refused by the service, naming the role.)
                await signing(s, case_id, kind, str(form.get("signing_password", "")))
            if kind == MilestoneKind.CUSTODY_TRANSFERRED:
                await both_sign(console, s, case_id, kind, fields, form)
            data = data_from_text(kind, fields)
            items = cost_rows(
                [(str(k), str(v)) for k, v in form.multi_items() if str(k).startswith("item.")]
            )
            if items:
                data["items"] = items
            m = MilestoneInput(
                kind=kind,
                actor=who,
                occurred_at=local_time(str(form.get("occurred_at", "")), tz, "when it happened"),
                note=str(form.get("note", "")),
                data=data,
            )
            ack = await journeys.record_milestone(s, case_id, m)
            keep_documents(s, case_id, kind, documents)
            said = i18n.gettext("%(what)s recorded") % {"what": label(kind)}
            return said + (i18n.gettext(" (already recorded)") if ack.duplicate else "")

        return await act(request, who, case_id, f"milestone-{kind}", call)

    async def signing(s: Session, case_id: str, decision: str, password: str) -> None:
        await sign(console, s, case_id, decision, password)

    async def observe(request: Request, case_id: str, who: str, where: str) -> Response:
        """The bedside form (`observe`) and the laboratory results form (`labs`): both are
        observations; a refusal comes back to the form it came from, with what was typed."""
        form = await request.form()
        text = {str(k): str(v) for k, v in form.items()}

        async def call(s: Session) -> Any:
            observed_at = local_time(
                text.get("observed_at", ""), text.get("tz", "UTC"), "observed at"
            )
            return await journeys.observe(s, case_id, observation_from_form(text, who, observed_at))

        return await act(request, who, case_id, where, call, typed=text)

    @app.post("/cases/{case_id}/observe", dependencies=[Depends(auth.check_csrf)])
    async def bedside(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        return await observe(request, case_id, who, "observe")

    @app.post("/cases/{case_id}/labs", dependencies=[Depends(auth.check_csrf)])
    async def labs(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        return await observe(request, case_id, who, "labs")

    @app.post("/cases/{case_id}/acknowledge", dependencies=[Depends(auth.check_csrf)])
    async def acknowledge(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        alert_id = str(form.get("alert_id", ""))

        meaning = str(form.get("signature_meaning", "")).strip() or None

        async def call(s: Session) -> Any:
            if meaning is not None:
                # A critical alert's acknowledgement is a signature (the form asks for the
                # meaning only then): the password again, as for every signed decision.
                await signing(
                    s, case_id, "alert_acknowledged", str(form.get("signing_password", ""))
                )
            a = AcknowledgeAlertInput(
                alert_id=alert_id,
                actor=who,
                note=str(form.get("note", "")),
                # A critical alert's acknowledgement is signed; pydantic refuses an unknown
                # meaning, and the journey one that does not fit.
                signature_meaning=meaning,  # type: ignore[arg-type]
            )
            alert = await journeys.acknowledge(s, case_id, a)
            return i18n.gettext("alert %(kind)s acknowledged") % {"kind": label(alert.kind)}

        return await act(request, who, case_id, f"alert-{alert_id}", call)

    @app.post("/cases/{case_id}/handover", dependencies=[Depends(auth.check_csrf)])
    async def send_handover(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        async def call(s: Session) -> Any:
            await handover.send(s, case_id, actor=who)
            return i18n.gettext("hand-over summary sent to the home oncologist")

        return await act(request, who, case_id, "handover", call)

    @app.get("/cases/{case_id}/handover.fhir.json")
    async def export_bundle(case_id: str, who: str = Depends(actor)) -> Response:
        """The hand-over bundle (the patient named only for the care team; audited)."""
        return await download(
            who,
            lambda s: handover.bundle(s, case_id),
            "application/fhir+json",
            f"handover-{case_id}.fhir.json",
        )

    @app.get("/cases/{case_id}/calendar.ics")
    async def export_calendar(case_id: str, who: str = Depends(actor)) -> Response:
        """The family's appointments and follow-up deadlines (audited)."""
        return await download(
            who, lambda s: handover.calendar(s, case_id), "text/calendar", f"{case_id}.ics"
        )

    async def download(who: str, call: Any, media_type: str, filename: str) -> Response:
        s = console.session(who)
        try:
            result = await call(s)
        except Refusal as e:
            raise HTTPException(_refusal_status(e), str(e)) from None
        except Unreachable as e:
            raise HTTPException(503, str(e)) from None
        finally:
            console.keep(s)
        data = result if isinstance(result, bytes) else result.data
        return Response(
            data,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.post("/cases/{case_id}/reschedule", dependencies=[Depends(auth.check_csrf)])
    async def reschedule(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        deadline = str(form.get("deadline", ""))
        tz = str(form.get("tz", "UTC"))

        async def call(s: Session) -> Any:
            due = local_time(str(form.get("due_at", "")), tz, "new due time")
            if due is None:
                raise ValueError("new due time: required")
            r = RescheduleInput(
                deadline=deadline, due_at=due, reason=str(form.get("reason", "")), actor=who
            )
            view = await journeys.reschedule(s, case_id, r)
            due = {"what": label(view.name), "when": when(view.due_at, tz)}
            return i18n.gettext("%(what)s now due %(when)s") % due

        return await act(request, who, case_id, f"deadline-{deadline}", call)

    @app.post("/cases/{case_id}/break-glass", dependencies=[Depends(auth.check_csrf)])
    async def break_glass(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        s = console.session(who)
        try:
            await access.break_glass(
                s,
                case_id,
                str(form.get("reason", "")),
                confirmed=form.get("confirm") == "yes",
            )
        except Refusal as e:
            context = {"message": i18n.said(e), "code": 403, "actor": who, "break_glass": case_id}
            return page(request, "error.html", context, _refusal_status(e))
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.post("/cases/{case_id}/withdraw", dependencies=[Depends(auth.check_csrf)])
    async def withdraw(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()

        async def call(s: Session) -> Any:
            if form.get("confirm") != "yes" and caseload.permissions(s).may(Action.WITHDRAW):
                # Closing a patient's journey is not undone: the form asks twice.
                raise ValueError(
                    "withdrawing closes the journey for good: tick the confirmation to withdraw"
                )
            w = WithdrawInput(reason=str(form.get("reason", "")), actor=who)
            await journeys.withdraw(s, case_id, w)
            return i18n.gettext("the journey is closed (withdrawn)")

        return await act(request, who, case_id, "withdraw", call)

    intake_routes(app, console, actor=actor, page=page, outage=outage, status_of=_refusal_status)
    records_routes(app, console, actor=actor, act=act)
    capacity_routes(app, console, actor=actor, act=act, page=page, outage=outage)
    desk_routes(app, console, actor=actor, act=act, page=page, outage=outage)
    family_routes(app, console)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _form_ids(status: Any, forms: list[Any], role_may: dict[str, bool]) -> set[str]:
    """The ids of the forms a case page shows (where a refusal can show next to its form)."""
    ids = {f"milestone-{f.kind}" for f in forms} if role_may["milestone"] else set()
    ids |= {f"alert-{a.id}" for a in status.alerts}
    ids |= {f"deadline-{d.name}" for d in status.open_deadlines}
    ids |= {"observe"} if role_may["observe"] and status.phase == Phase.MONITORING else set()
    after = status.phase in (Phase.MONITORING, Phase.FOLLOW_UP)
    ids |= {"labs"} if role_may["observe"] and status.watched and after else set()
    ids |= {"withdraw"} if role_may["withdraw"] and status.phase != Phase.CLOSED else set()
    return ids


def _refusal_status(e: Refusal) -> int:
    """403 for a refusal by role or care team (not yours to do), 422 for the rest."""
    return 403 if e.code in (RefusalCode.PERMISSION, RefusalCode.CARE_TEAM) else 422


def _problem(error: Any) -> str:
    """A pydantic error as `field: what is wrong`, in words (never the value)."""
    return bounds.problem(error)
