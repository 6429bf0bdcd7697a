"""The program's measures in the console (`/measures`): each measure a bar chart drawn on the
server as SVG (no script, no CDN, nothing inline the Content-Security-Policy would refuse),
its table beside it, and the whole as CSV (`/measures.csv`, the same numbers as
`cellpath report --csv`)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cellpath.services import measures
from cellpath.services.base import Refusal, Unreachable
from cellpath.store.measures import Report


def bars(values: dict[str, float], unit: str = "") -> list[dict[str, Any]]:
    """One bar per group, scaled to the largest (a percentage width for the SVG)."""
    top = max(values.values(), default=0) or 1
    return [
        {"label": k, "value": v, "width": round(100 * v / top, 1), "unit": unit}
        for k, v in sorted(values.items())
    ]


def charts(r: Report) -> list[dict[str, Any]]:
    """The charts a report draws: durations (median days), on-time shares, escalations."""
    out: list[dict[str, Any]] = []
    for measure, by_group in r.durations.items():
        out.append(
            {
                "title": f"{measure[:1].upper()}{measure[1:]}: median days",
                "bars": bars({g: s.median for g, s in by_group.items()}, "d"),
                "table": [(g, f"{s.median}", f"{s.p80}", s.n) for g, s in sorted(by_group.items())],
                "columns": ("median days", "80th percentile", "journeys"),
            }
        )
    for deadline, by_group in r.on_time.items():
        out.append(
            {
                "title": f"Deadline {deadline.replace('_', ' ')}: share on time",
                "bars": bars({g: round(100 * v[0]) for g, v in by_group.items()}, "%"),
                "table": [(g, f"{100 * v[0]:.0f}%", v[1]) for g, v in sorted(by_group.items())],
                "columns": ("on time", "journeys"),
            }
        )
    for g, by_recipient in sorted(r.escalations.items()):
        out.append(
            {
                "title": f"Escalations per 100 journeys, {g}, by who received them",
                "bars": bars(by_recipient),
                "table": [(k, v) for k, v in by_recipient.items()],
                "columns": ("per 100 journeys",),
            }
        )
    return [c for c in out if c["bars"]]


def measures_routes(app: FastAPI, console: Any, *, actor: Any, page: Any, outage: Any) -> None:
    """Add `/measures` and `/measures.csv` to the console."""

    @app.get("/measures", response_class=HTMLResponse)
    async def measures_page(
        request: Request, who: str = Depends(actor), by: str = "site", quarter: str = ""
    ) -> HTMLResponse:
        s = console.session(who)
        context: dict[str, Any] = {"actor": who, "filters": {"by": by, "quarter": quarter}}
        status = 200
        try:
            r = measures.measures(s, by=by, quarter=quarter)
            context |= {"report": r, "charts": charts(r)}
        except Refusal as e:
            context["error"], status = str(e), 422
        except Unreachable as e:
            return await outage(request, who, e)
        finally:
            console.keep(s)
        return page(request, "measures.html", context, status)

    @app.get("/measures.csv")
    async def measures_csv(
        who: str = Depends(actor), by: str = "site", quarter: str = ""
    ) -> Response:
        s = console.session(who)
        try:
            r = measures.measures(s, by=by, quarter=quarter)
        except Refusal as e:
            return Response(str(e), status_code=422, media_type="text/plain")
        finally:
            console.keep(s)
        name = f"cellpath-measures-{r.quarter or 'all'}-by-{r.by}.csv"
        return Response(
            measures.as_csv(r),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
