"""Around the desk, in the console: one's own page (`/me`: contact details, language, time
zone, quiet hours, one's own password, who covers one's cases) and the administrators' page
(`/staff`: staff and their roles, sites and passwords; the site directory; the on-call rota
with its gaps; covers; cases given to another coordinator).

Every form is a service call, as the CLI's (`cellpath contacts|staff|sites|assign|rota|cover|
reassign`), with the same permissions and the same audit; a refusal is shown next to its form
with nothing kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cellpath.console import auth, i18n
from cellpath.services import access, directory, staff
from cellpath.services.base import Refusal, Session, Unreachable, refusing
from cellpath.store.directory import Directory
from models.directory import AssignedRole
from models.errors import RefusalCode
from models.roles import ALLOWED, Action, Role

Call = Callable[[Session], Any]
ROTA_DAYS = 7


def _when(text: str, what: str, *, end_of_day: bool = False) -> datetime:
    """A form's date (`YYYY-MM-DD`, the day's start or end, UTC) or time with an offset."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day + timedelta(days=end_of_day), time(), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _is_admin(s: Session) -> bool:
    return s.case_store().role_of(s.actor) in ALLOWED[Action.MANAGE_STAFF]


def desk_routes(
    app: FastAPI, console: Any, *, actor: Any, act: Any, page: Any, outage: Any
) -> None:
    """Add `/me` and `/staff` and their forms."""

    def me_context(s: Session, result: dict[str, Any]) -> dict[str, Any]:
        contact = Directory(s.case_store()).contact(s.actor)
        covers = [c for c in access.covers(s) if s.actor in (c.absent, c.covering)]
        coordinators = [
            m.actor
            for m in s.case_store().staff()
            if m.role == Role.COORDINATOR.value and m.actor != s.actor
        ]
        member = s.case_store().member(s.actor)
        return {
            "actor": s.actor,
            "contact": contact,
            "covers": covers,
            "coordinators": coordinators,
            "is_coordinator": member is not None and member.role == Role.COORDINATOR.value,
            "result": result,
        }

    def staff_context(s: Session, result: dict[str, Any], site: str) -> dict[str, Any]:
        store = s.case_store()
        sites = directory.sites(s)
        chosen = site or (sites[0].site if sites else "")
        rota = directory.rota(s, chosen, days=ROTA_DAYS) if chosen else None
        return {
            "actor": s.actor,
            "members": store.staff(),
            "contacts": {c.actor: c for c in directory.contacts(s)},
            "roles": [r.value for r in Role],
            "assigned_roles": [r.value for r in AssignedRole],
            "sites": sites,
            "site": chosen,
            "rota": rota,
            "covers": access.covers(s),
            "coordinators": [m.actor for m in store.staff() if m.role == Role.COORDINATOR.value],
            "result": result,
        }

    async def show(
        request: Request, who: str, name: str, result: dict[str, Any], status: int, site: str = ""
    ) -> HTMLResponse:
        s = console.session(who)
        try:
            if name == "staff.html" and not _is_admin(s):
                message = f"{who!r} may not manage staff; expected an administrator"
                return page(
                    request, "error.html", {"message": message, "code": 403, "actor": who}, 403
                )
            context = me_context(s, result) if name == "me.html" else staff_context(s, result, site)
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return page(request, name, context, status)

    async def run(
        request: Request, who: str, name: str, where: str, call: Call, site: str = ""
    ) -> HTMLResponse:
        """Run a form's service call; show its outcome or refusal next to the form `where`."""
        s = console.session(who)
        status = 200
        try:
            outcome = call(s)
            if isinstance(outcome, Awaitable):
                outcome = await outcome
            result: dict[str, Any] = {"where": where, "done": outcome}
        except Refusal as e:
            denied = e.code.value in ("permission", "care_team")
            result, status = {"where": where, "refused": i18n.said(e)}, 403 if denied else 422
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            result, status = {"where": where, "refused": problems}, 422
        except ValueError as e:
            result, status = {"where": where, "refused": str(e)}, 422
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return await show(request, who, name, result, status, site)

    # --- one's own page --------------------------------------------------------------------

    @app.get("/me", response_class=HTMLResponse)
    async def me(request: Request, who: str = Depends(actor)) -> HTMLResponse:
        return await show(request, who, "me.html", {}, 200)

    @app.post("/me/contact", dependencies=[Depends(auth.check_csrf)])
    async def my_contact(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        # Empty e-mail, phone or quiet hours remove them; an empty language or zone keeps it.
        fields: dict[str, object] = {"actor": who}
        for key in ("email", "phone", "quiet_hours"):
            fields[key] = str(form.get(key, "")).strip() or None
        for key in ("language", "timezone"):
            if value := str(form.get(key, "")).strip():
                fields[key] = value

        def call(s: Session) -> str:
            directory.set_contact(s, fields)
            return i18n.gettext("your contact details are saved")

        return await run(request, who, "me.html", "contact", call)

    @app.post("/me/password", dependencies=[Depends(auth.check_csrf)])
    async def my_password(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        new, again = str(form.get("new", "")), str(form.get("again", ""))
        s = console.session(who)
        try:
            if new != again:
                raise refusing(
                    "the new password and its repetition differ; nothing was changed",
                    RefusalCode.INVALID_DATA,
                )
            staff.change_own_password(s, str(form.get("current", "")), new)
        except Refusal as e:
            result = {"where": "password", "refused": i18n.said(e)}
            status = 403 if e.code.value == "permission" else 422
            return await show(request, who, "me.html", result, status)
        finally:
            console.keep(s)
        # A new password ends every console session of theirs, this one too: sign in again.
        auth.end_session(request, console.opened_store())
        return RedirectResponse("/login?changed=1", status_code=303)

    @app.post("/covers", dependencies=[Depends(auth.check_csrf)])
    async def add_cover(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        back = "staff.html" if form.get("back") == "staff" else "me.html"

        def call(s: Session) -> str:
            starts_text = str(form.get("from", "")).strip()
            starts = _when(starts_text, "from") if starts_text else datetime.now(UTC)
            ends = _when(str(form.get("until", "")), "until", end_of_day=True)
            absent = str(form.get("absent", "") or who).strip()
            c = access.cover_colleague(
                s,
                absent,
                str(form.get("covering", "")).strip(),
                starts,
                ends,
                str(form.get("reason", "")),
            )
            return i18n.gettext("{covering} covers {absent}'s cases until {until} UTC").format(
                covering=c.covering, absent=c.absent, until=f"{c.ends_at:%Y-%m-%d %H:%M}"
            )

        return await run(request, who, back, "cover", call)

    @app.post("/covers/{cover_id}/end", dependencies=[Depends(auth.check_csrf)])
    async def end_cover(request: Request, cover_id: int, who: str = Depends(actor)) -> Response:
        form = await request.form()
        back = "staff.html" if form.get("back") == "staff" else "me.html"

        def call(s: Session) -> str:
            c = access.end_cover(s, cover_id)
            return i18n.gettext("cover {id} ended: {absent} coordinates their cases again").format(
                id=c.id, absent=c.absent
            )

        return await run(request, who, back, "cover", call)

    # --- the administrators' page ----------------------------------------------------------

    @app.get("/staff", response_class=HTMLResponse)
    async def staff_page(
        request: Request, site: str = "", who: str = Depends(actor)
    ) -> HTMLResponse:
        return await show(request, who, "staff.html", {}, 200, site)

    @app.post("/staff/member", dependencies=[Depends(auth.check_csrf)])
    async def set_member(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        member = str(form.get("member", "")).strip()
        what = str(form.get("action", ""))

        def call(s: Session) -> str:
            if what == "role":
                text = str(form.get("role", ""))
                staff.change_role(s, member, Role(text) if text else None)
                return f"{member}: {text or i18n.gettext('no role (removed)')}"
            if what == "password":
                staff.set_password(s, member, str(form.get("password", "")))
                return f"{member}: " + i18n.gettext("password set (their console sessions ended)")
            sites = [x for x in str(form.get("sites", "")).replace(",", " ").lower().split() if x]
            staff.set_sites(s, member, sites)
            shown = ", ".join(sites) or i18n.gettext("every site")
            return f"{member}: " + i18n.gettext("sites {sites}").format(sites=shown)

        return await run(request, who, "staff.html", "member", call)

    @app.post("/staff/site", dependencies=[Depends(auth.check_csrf)])
    async def set_site(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        typed = {k: str(form.get(k, "")).strip() for k in ("site", "name", "phone", "address")}
        fields: dict[str, object] = {k: v for k, v in typed.items() if v}
        if timezone := str(form.get("timezone", "")).strip():
            fields["timezone"] = timezone

        def call(s: Session) -> str:
            row = directory.set_site(s, fields)
            return i18n.gettext("site {site} saved").format(site=row.site)

        return await run(request, who, "staff.html", "site", call, str(fields.get("site", "")))

    @app.post("/staff/assign", dependencies=[Depends(auth.check_csrf)])
    async def assign(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        site = str(form.get("site", "")).strip().lower()

        def call(s: Session) -> str:
            fields: dict[str, object] = {
                "role": str(form.get("role", "")),
                "actor": str(form.get("member", "")).strip(),
                "site": site or None,
            }
            for key, end in (("valid_from", False), ("valid_until", True)):
                text = str(form.get(key, "")).strip()
                if text:
                    fields[key] = _when(text, key, end_of_day=end)
            a = directory.assign(s, fields)
            return i18n.gettext("{actor} is {role} at {site}").format(
                actor=a.actor, role=a.role, site=a.site or i18n.gettext("every site")
            )

        return await run(request, who, "staff.html", "rota", call, site)

    @app.post("/reassign", dependencies=[Depends(auth.check_csrf)])
    async def reassign(request: Request, who: str = Depends(actor)) -> Response:
        form = await request.form()
        cases = [c for c in str(form.get("cases", "")).replace(",", " ").split() if c]

        async def call(s: Session) -> str:
            if not cases:
                raise refusing("cases: expected one or more case ids", RefusalCode.MISSING_FIELD)
            done = await access.reassign(
                s, cases, str(form.get("to", "")).strip(), str(form.get("reason", ""))
            )
            refused = [f"{r.case_id}: {r.reason}" for r in done if not r.done]
            given = [r.case_id for r in done if r.done]
            if refused and not given:
                raise Refusal("; ".join(refused))
            out = i18n.gettext("given: {cases}").format(
                cases=", ".join(given) or i18n.gettext("none")
            )
            if refused:
                out += "; " + i18n.gettext("refused: {cases}").format(cases="; ".join(refused))
            return out

        return await run(request, who, "staff.html", "reassign", call)

    @app.post("/cases/{case_id}/reassign", dependencies=[Depends(auth.check_csrf)])
    async def reassign_case(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        to = str(form.get("to", "")).strip()
        s = console.session(who)
        try:
            [r] = await access.reassign(s, [case_id], to, str(form.get("reason", "")))
            refusal = None if r.done else Refusal(r.reason, _code(r.reason))
        except Refusal as e:
            refusal = e
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        if refusal is None:
            # The case is the colleague's now, and may be out of the giver's care team: back
            # to the worklist (htmx follows HX-Redirect rather than swapping a page in).
            target = f"/?given={case_id}"
            if request.headers.get("HX-Request"):
                return Response(status_code=200, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)

        async def refused(_: Session) -> str:
            raise refusal

        return await act(request, who, case_id, "team", refused)


def _code(reason: str) -> RefusalCode:
    return RefusalCode.PERMISSION if "may not" in reason else RefusalCode.PATHWAY_RULE
