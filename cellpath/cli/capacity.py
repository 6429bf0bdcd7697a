"""A site's scarce resources: `cellpath sites resource` (administrators), `cellpath slots SITE
[--week]` (a week's use) and `cellpath bookings add|chain|move|release|list` (a case's)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from cellpath.cli.common import app, out, print_json, run, session
from cellpath.cli.directory import sites_app
from cellpath.services import capacity, journeys
from cellpath.services.capacity import Booked


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date YYYY-MM-DD, got {text!r}", param_hint=option
        ) from None


@sites_app.command("resource")
def sites_resource(
    site: Annotated[str, typer.Argument(help="the site's id, e.g. site-a")],
    resource: Annotated[str, typer.Argument(help="the resource's id, e.g. apheresis")],
    kind: Annotated[str, typer.Option("--kind", help="apheresis, manufacturing, bed, icu_bed")],
    capacity_: Annotated[int, typer.Option("--capacity", help="how many per day (or week)")],
    per: Annotated[str | None, typer.Option("--per", help="day or week (default: by kind)")] = None,
    open_days: Annotated[str, typer.Option("--open", help="e.g. mon-fri, or all")] = "all",
    holidays: Annotated[
        str | None,
        typer.Option("--holidays", help="closed on a country's public holidays, e.g. CN"),
    ] = None,
    closed: Annotated[
        list[str] | None, typer.Option("--closed", help="a closed date (repeat)")
    ] = None,
    product: Annotated[
        str | None,
        typer.Option("--product", help="manufacturing: for this product only (car_t, car_nk)"),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="who sets it")] = None,
) -> None:
    """Declare or change a site's resource (administrators); refused naming the field."""
    fields: dict[str, Any] = {
        "site": site,
        "resource": resource,
        "kind": kind,
        "capacity": capacity_,
        "per": per,
        "open_days": open_days,
        "holidays": holidays,
        "closed": closed or [],
        "product": product,
    }

    async def go() -> Any:
        return capacity.set_resource(session(by), fields)

    row = run(go)
    out.print(
        f"{row.site}/{row.resource}: {row.kind}, {row.capacity} per {row.per}, open "
        f"{row.open_days}" + (f", closed on {row.holidays} holidays" if row.holidays else ""),
        highlight=False,
    )


@app.command()
def slots(
    site: Annotated[str, typer.Argument(help="the site's id")],
    week: Annotated[
        str | None, typer.Option("--week", help="a day of the week to show (default: this week)")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """A site's resources over a week: places used of the capacity, day by day (closed
    days marked ·, full ones *)."""
    day = _day(week, "--week") or date.today()
    monday = day - timedelta(days=day.weekday())

    async def go() -> list[capacity.WeekRow]:
        return capacity.week(session(actor), site, monday)

    rows = run(go)
    if as_json:
        print_json(
            [
                {
                    "resource": r.resource.model_dump(mode="json"),
                    "days": [
                        {"day": d.isoformat(), "used": used, "closed": shut}
                        for d, used, shut in r.days
                    ],
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out.print(f"{site} has no resources declared (cellpath sites resource)")
        return
    days = [monday + timedelta(days=i) for i in range(7)]
    table = Table(
        "resource", "per", *(f"{d:%a %d %b}" for d in days), title=f"{site}, week of {monday}"
    )
    for r in rows:
        cap = r.resource.capacity
        cells = [
            "·" if shut else f"{used}/{cap}" + (" *" if used >= cap else "")
            for _, used, shut in r.days
        ]
        table.add_row(f"{r.resource.resource} ({r.resource.kind.value})", r.resource.unit, *cells)
    out.print(table)


bookings_app = typer.Typer(
    pretty_exceptions_enable=False,
    help="A case's bookings of its site's resources: the case store grants the place first "
    "(the last one to exactly one coordinator), then the journey records it.",
    no_args_is_help=True,
)
app.add_typer(bookings_app, name="bookings")


def _print_booked(result: Booked, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "bookings": [b.model_dump(mode="json") for b in result.bookings],
                "replaced": result.replaced,
            }
        )
        return
    for b in result.bookings:
        step = f" [{b.chain_step}]" if b.chain_step else ""
        out.print(
            f"booked {b.booking_id}{step}: {b.resource} {b.first_day} → {b.last_day}",
            highlight=False,
        )
    if result.replaced:
        out.print(f"given back: {', '.join(result.replaced)}", highlight=False)


@bookings_app.command("add")
def bookings_add(
    case: Annotated[str, typer.Argument(help="case id")],
    resource: Annotated[str, typer.Argument(help="a resource of the case's site")],
    start: Annotated[str, typer.Option("--start", help="first day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option("--end", help="last day (default: the first)")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Book one resource of the case's site; over capacity it is refused naming the booking
    holding the place and the next free day."""
    first, last = _day(start, "--start"), _day(end, "--end")
    assert first is not None

    async def go() -> Booked:
        return await capacity.book(session(actor), case, resource, first, last, note)

    _print_booked(run(go), as_json)


@bookings_app.command("chain")
def bookings_chain(
    case: Annotated[str, typer.Argument(help="case id")],
    start: Annotated[str, typer.Option("--start", help="the arrival day, YYYY-MM-DD")],
    note: Annotated[str, typer.Option("--note")] = "",
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Book the protocol's chain from the arrival day (bed at arrival, apheresis,
    manufacturing, conditioning bed): all of it or nothing."""
    first = _day(start, "--start")
    assert first is not None

    async def go() -> Booked:
        return await capacity.book_chain(session(actor), case, first, note)

    _print_booked(run(go), as_json)


@bookings_app.command("move")
def bookings_move(
    case: Annotated[str, typer.Argument(help="case id")],
    start: Annotated[str, typer.Option("--start", help="the new arrival day, YYYY-MM-DD")],
    note: Annotated[str, typer.Option("--note")] = "",
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Move the booked chain: every booking moves with the first, or none does (the refusal
    names the step that does not fit)."""
    first = _day(start, "--start")
    assert first is not None

    async def go() -> Booked:
        return await capacity.move_chain(session(actor), case, first, note)

    _print_booked(run(go), as_json)


@bookings_app.command("release")
def bookings_release(
    case: Annotated[str, typer.Argument(help="case id")],
    booking: Annotated[list[str], typer.Argument(help="booking id(s)")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Give bookings back; their places are free at once."""

    async def go() -> Any:
        return await capacity.release(session(actor), case, booking, reason)

    run(go)
    out.print(f"released: {', '.join(booking)}", highlight=False)


@bookings_app.command("list")
def bookings_list(
    case: Annotated[str, typer.Argument(help="case id")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """The bookings a case's journey holds, and those it gave back."""

    async def go() -> Any:
        return await journeys.status(session(actor), case)

    status = run(go)
    if as_json:
        print_json([b.model_dump(mode="json") for b in status.bookings])
        return
    table = Table(
        "booking", "resource", "from", "to", "step", "by", "state", title=f"bookings of {case}"
    )
    for b in status.bookings:
        state = "held" if b.active else f"released: {b.release_reason}"
        table.add_row(
            b.booking_id, b.resource, str(b.start), str(b.end), b.chain or "", b.booked_by, state
        )
    out.print(table)
