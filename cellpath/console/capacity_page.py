"""Capacity in the console: a site's week grid (`/sites/{site}/slots`), the administrators'
resource form on it, and the case page's bookings (book the chain, move it, book one
resource, give one back).

Every action is a service call (`cellpath.services.capacity`): the case store decides who gets
the last place, the journey records it, and a refusal — full, closed that day, not at the
site — is shown next to its form with nothing kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cellpath.console import auth, i18n
from cellpath.services import capacity
from cellpath.services.base import Refusal, Session, Unreachable
from models.capacity import DAYS, ResourceKind
from models.roles import Action

Act = Callable[..., Awaitable[Response]]


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: expected a date YYYY-MM-DD, got {text.strip()!r}") from None


def capacity_routes(
    app: FastAPI, console: Any, *, actor: Any, act: Act, page: Any, outage: Any
) -> None:
    """Add the week grid, the resource form and the case page's booking actions."""

    async def week_page(
        request: Request, who: str, site: str, week: str, result: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        s = console.session(who)
        try:
            first = _day(week, "week") if week else date.today()
        except ValueError as e:
            first, result = date.today(), {"refused": str(e)}
        monday = first - timedelta(days=first.weekday())
        try:
            rows = capacity.week(s, site, monday)
            admin = _may(s, Action.MANAGE_STAFF)
        except Refusal as e:
            context = {"message": i18n.said(e), "code": 403, "actor": who}
            return page(request, "error.html", context, 403)
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        context = {
            "actor": who,
            "site": site,
            "monday": monday,
            "days": [monday + timedelta(days=i) for i in range(7)],
            "rows": rows,
            "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7),
            "admin": admin,
            "kinds": [k.value for k in ResourceKind],
            "weekdays": DAYS,
            "result": result,
        }
        return page(request, "slots.html", context, status)

    @app.get("/sites/{site}/slots", response_class=HTMLResponse)
    async def slots(
        request: Request, site: str, week: str = "", who: str = Depends(actor)
    ) -> HTMLResponse:
        return await week_page(request, who, site, week, {})

    @app.post("/sites/{site}/resources", dependencies=[Depends(auth.check_csrf)])
    async def set_resource(request: Request, site: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        s = console.session(who)
        fields: dict[str, Any] = {
            "site": site,
            "resource": str(form.get("resource", "")).strip(),
            "kind": str(form.get("kind", "")),
            "capacity": str(form.get("capacity", "")).strip(),
            "open_days": ",".join(str(d) for d in form.getlist("open_days")) or "all",
            "holidays": str(form.get("holidays", "")).strip().upper() or None,
            "closed": [d for d in str(form.get("closed", "")).replace(",", " ").split() if d],
        }
        try:
            row = capacity.set_resource(s, fields)
            done = i18n.gettext("{resource}: {capacity} per {per}").format(
                resource=row.resource, capacity=row.capacity, per=i18n.gettext(row.per)
            )
            result: dict[str, Any] = {"done": done}
            status = 200
        except Refusal as e:
            result, status = {"refused": i18n.said(e)}, 403 if e.code.value in _DENIED else 422
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return await week_page(request, who, site, str(form.get("week", "")), result, status)

    @app.post("/cases/{case_id}/bookings", dependencies=[Depends(auth.check_csrf)])
    async def book(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        what = str(form.get("action", ""))

        async def call(s: Session) -> str:
            if what == "release":
                booking = str(form.get("booking", ""))
                await capacity.release(s, case_id, [booking], str(form.get("reason", "")))
                return i18n.gettext("{booking} given back").format(booking=booking)
            start = _day(str(form.get("start", "")), "first day")
            if what == "chain":
                done = await capacity.book_chain(s, case_id, start)
            elif what == "move":
                done = await capacity.move_chain(s, case_id, start)
            else:
                end_text = str(form.get("end", "")).strip()
                end = _day(end_text, "last day") if end_text else None
                done = await capacity.book(
                    s, case_id, str(form.get("resource", "")).strip(), start, end
                )
            return i18n.gettext("booked: {slots}").format(
                slots="; ".join(
                    f"{b.resource} {b.first_day}"
                    + (f" → {b.last_day}" if b.last_day != b.first_day else "")
                    for b in done.bookings
                )
            )

        return await act(request, who, case_id, "bookings", call)


_DENIED = ("permission", "care_team")


def _may(s: Session, action: Action) -> bool:
    from models.roles import ALLOWED

    role = s.case_store().role_of(s.actor)
    return role is not None and role in ALLOWED[action]
