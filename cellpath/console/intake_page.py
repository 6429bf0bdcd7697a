"""The intake form: a new case typed in by a coordinator or physician, refused field by field
with what was typed kept (for this person only, never logged)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cellpath.console import auth
from cellpath.console.forms import intake_document
from cellpath.services import caseload, intake
from cellpath.services.base import Refusal, Unreachable
from models.enums import Program
from models.protocol import PRESETS
from models.roles import Action

if TYPE_CHECKING:
    from cellpath.console.app import Console


def intake_routes(
    app: FastAPI,
    console: Console,
    *,
    actor: Callable[[Request], str],
    page: Callable[..., HTMLResponse],
    outage: Callable[[Request, str, Unreachable], Awaitable[HTMLResponse]],
    status_of: Callable[[Refusal], int],
) -> None:
    """`/intake`: the form, and taking the case in (then its case page)."""

    @app.get("/intake", response_class=HTMLResponse)
    async def intake_form(request: Request, who: str = Depends(actor)) -> HTMLResponse:
        if not caseload.permissions(console.session(who)).may(Action.INTAKE):
            message = f"{who!r} may not take in new cases; intake needs a coordinator or physician"
            return page(request, "error.html", {"message": message, "code": 403, "actor": who}, 403)
        return page(request, "intake.html", _intake_context(who, {}))

    @app.post("/intake", dependencies=[Depends(auth.check_csrf)])
    async def take_in(request: Request, who: str = Depends(actor)) -> Response:
        form = {str(k): str(v) for k, v in (await request.form()).items()}
        s = console.session(who)
        try:
            admitted = await intake.take_in(s, intake_document(form))
        except Refusal as e:
            problems = [p.strip() for p in str(e).split("\n  - ")[1:]] or [str(e)]
            status = status_of(e)
            # The form comes back with what was typed (to this person only; never logged).
            context = _intake_context(who, form) | {"problems": problems}
            return page(request, "intake.html", context, status)
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return RedirectResponse(f"/cases/{admitted.journey.case_id}", status_code=303)

    def _intake_context(who: str, form: dict[str, str]) -> dict[str, Any]:
        return {
            "actor": who,
            # A new case is the signed-in coordinator's unless they name another.
            "form": form or {"coordinator": who, "home_timezone": "UTC"},
            "presets": sorted(PRESETS),
            "programs": [p.value for p in Program],
        }
