"""The board across patients (`/board`): a week or a month of what happens when, per site and
per coordinator, with overdue and escalated cases marked; printable."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from cellpath.console import i18n
from cellpath.services import board as boards
from cellpath.services.base import Refusal, Unreachable


def board_routes(app: FastAPI, console: Any, *, actor: Any, page: Any, outage: Any) -> None:
    """Add `/board` to the console."""

    @app.get("/board", response_class=HTMLResponse)
    async def board(
        request: Request,
        who: str = Depends(actor),
        day: str = "",
        view: str = "week",
        site: str = "",
        coordinator: str = "",
    ) -> HTMLResponse:
        s = console.session(who)
        context: dict[str, Any] = {
            "actor": who,
            "filters": {"site": site, "coordinator": coordinator, "view": view, "day": day},
        }
        status = 200
        try:
            anchor = date.fromisoformat(day) if day else date.today()
            shown = "month" if view == "month" else "week"
            b = boards.board(
                s, anchor, shown, site=site.lower() or None, coordinator=coordinator or None
            )
            step = timedelta(days=7) if shown == "week" else timedelta(days=31)
            context |= {
                "board": b,
                "previous": (anchor - step).isoformat(),
                "next": (anchor + step).isoformat(),
                "month_of": anchor.replace(day=1),
                "limit": boards.LIMIT,
            }
        except ValueError:
            context["error"] = f"day: expected a date YYYY-MM-DD, got {day!r}"
            status = 422
        except Refusal as e:
            context["error"], status = i18n.said(e), 403
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return page(request, "board.html", context, status)
