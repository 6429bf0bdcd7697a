"""The program's measures in the console (`/measures`): each measure a bar chart drawn on the
server as SVG (no script, no CDN, nothing inline the Content-Security-Policy would refuse),
its table beside it, and the whole as CSV (`/measures.csv`, the same numbers as
`cellpath report --csv`)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cellpath.console.i18n import gettext, said
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
    """The charts a report draws: durations (median days), on-time shares, escalations; their
    titles and columns in the reader's language (the CSV keeps the English names)."""
    out: list[dict[str, Any]] = []
    for measure, by_group in r.durations.items():
        name = gettext(measure)
        out.append(
            {
                "title": gettext("%(measure)s: median days")
                % {"measure": name[:1].upper() + name[1:]},
                "bars": bars({g: s.median for g, s in by_group.items()}, gettext("d")),
                "table": [(g, f"{s.median}", f"{s.p80}", s.n) for g, s in sorted(by_group.items())],
                "columns": (
                    gettext("median days"),
                    gettext("80th percentile"),
                    gettext("journeys"),
                ),
            }
        )
    for deadline, by_group in r.on_time.items():
        out.append(
            {
                "title": gettext("Deadline %(deadline)s: share on time")
                % {"deadline": gettext(deadline.replace("_", " "))},
                "bars": bars({g: round(100 * v[0]) for g, v in by_group.items()}, "%"),
                "table": [(g, f"{100 * v[0]:.0f}%", v[1]) for g, v in sorted(by_group.items())],
                "columns": (gettext("on time"), gettext("journeys")),
            }
        )
    for g, by_recipient in sorted(r.escalations.items()):
        out.append(
            {
                "title": gettext("Escalations per 100 journeys, %(group)s, by who received them")
                % {"group": g},
                "bars": bars({gettext(k.replace("_", " ")): v for k, v in by_recipient.items()}),
                "table": [(gettext(k.replace("_", " ")), v) for k, v in by_recipient.items()],
                "columns": (gettext("per 100 journeys"),),
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
            context["error"], status = said(e), 422
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
