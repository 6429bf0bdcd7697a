"""Find a case: by its id, or — for the patient's care team — by the patient's name in any
spelling or their passport number (`caseload.search`). Results are worklist rows, the names
shown only to the care team, each look audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from cellpath.console import i18n
from cellpath.services import caseload
from cellpath.services.base import Refusal, Unreachable
from models.enums import Phase, Program
from models.roles import Action


def search_routes(app: FastAPI, console: Any, *, actor: Any, page: Any) -> None:
    """Add `/search` to the console."""

    @app.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: str = "", who: str = Depends(actor)) -> HTMLResponse:
        s = console.session(who)
        allowed = caseload.permissions(s)
        context: dict[str, Any] = {
            "actor": who,
            "q": q,
            "filters": {},
            "phases": [p.value for p in Phase],
            "programs": [p.value for p in Program],
            "now": datetime.now(UTC),
            "may_intake": allowed.may(Action.INTAKE),
            "may_identity": allowed.may(Action.READ_IDENTITY),
        }
        try:
            rows = caseload.search(s, q)
            context["worklist"] = caseload.Worklist(
                scope=f"{len(rows)} found for “{q.strip()}”",
                attention=[],
                rows=rows,
                timezone=caseload.viewer_timezone(s),
            )
        except Refusal as e:
            context["error"] = i18n.said(e)
        except Unreachable as e:
            context["error"] = f"the case store cannot be reached: {e}"
        finally:
            console.keep(s)
        return page(request, "worklist.html", context, 422 if "error" in context else 200)
