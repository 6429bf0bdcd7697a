"""Who is reached how: `contacts`, `assign`, `oncall`; and what was delivered: `outbox`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import app, err, out, parse_time, print_json, run, session
from cellpath.services import directory
from models.directory import AssignedRole

contacts_app = typer.Typer(
    # A traceback with local variables would print a patient's details (Typer shows them).
    pretty_exceptions_enable=False,
    help="How each member of staff is reached: e-mail, phone, Apprise URLs (chat, pager, SMS), "
    "language, time zone and quiet hours. Administrators set anyone's; staff their own.",
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")


@contacts_app.command("set")
def contacts_set(
    actor: Annotated[str, typer.Argument(help="the staff member's actor id")],
    email: Annotated[str | None, typer.Option("--email")] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="international, e.g. +447700900123")
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option("--url", metavar="APPRISE_URL", help="a chat, pager or SMS URL (repeatable)"),
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="e.g. en, zh")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="e.g. Asia/Shanghai")] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(
            "--quiet-hours", metavar="HH:MM-HH:MM", help="local; reminders wait until it ends"
        ),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(
            "--remove",
            metavar="email|phone|urls|quiet_hours",
            help="remove this channel or setting (repeatable)",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="who sets it")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Set a staff member's contact details: only the options given change (a new person
    starts with English and UTC). Refused naming the field when an address, URL, time zone
    or quiet-hours span is invalid, and when removing the last channel of someone who holds
    a recipient role — nothing stored."""
    given = {
        "email": email,
        "phone": phone,
        "urls": url or None,  # not given: Typer may hand an empty list
        "language": language,
        "timezone": timezone,
        "quiet_hours": quiet_hours,
    }
    fields: dict[str, Any] = {"actor": actor} | {k: v for k, v in given.items() if v is not None}
    for name in remove or []:
        if name not in ("email", "phone", "urls", "quiet_hours"):
            err.print(f"--remove {escape(name)}: expected email, phone, urls or quiet_hours")
            raise typer.Exit(2)
        fields[name] = [] if name == "urls" else None

    async def go() -> Any:
        return directory.set_contact(session(by), fields)

    row = run(go)
    if as_json:
        print_json(row)
        return
    channels = [c for c in ("email" if row.email else "", "phone" if row.phone else "") if c]
    channels += [f"{len(row.urls)} URL(s)"] if row.urls else []
    out.print(f"{actor}: {', '.join(channels) or 'no channel'} · {row.language} · {row.timezone}")


@contacts_app.command("list")
def contacts_list(
    by: Annotated[str | None, typer.Option("--by", "--actor", help="who is reading")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Every staff member's contact details (administrators). URLs are shown by scheme only:
    they hold secrets."""

    async def go() -> list[Any]:
        return directory.contacts(session(by))

    rows = run(go)
    if as_json:
        print_json(
            [r.model_dump(mode="json", exclude={"urls"}) | {"urls": len(r.urls)} for r in rows]
        )
        return
    table = Table("actor", "e-mail", "phone", "URLs", "language", "time zone", "quiet hours")
    for r in rows:
        schemes = ", ".join(u.split("://", 1)[0] for u in r.urls)
        table.add_row(
            r.actor,
            r.email or "",
            r.phone or "",
            schemes,
            r.language,
            r.timezone,
            r.quiet_hours or "",
        )
    out.print(table)


sites_app = typer.Typer(
    pretty_exceptions_enable=False,
    help="The treatment sites: the name, day-and-night phone and address every family message "
    "gives, and the console shows. Administrators set them; intake takes only known sites.",
    no_args_is_help=True,
)
app.add_typer(sites_app, name="sites")


@sites_app.command("set")
def sites_set(
    site: Annotated[str, typer.Argument(help="the site's id, e.g. site-a")],
    name: Annotated[str, typer.Option("--name", help="e.g. Beijing Boren Hospital")],
    phone: Annotated[str, typer.Option("--phone", help="answers day and night, e.g. +86…")],
    address: Annotated[str, typer.Option("--address")],
    timezone: Annotated[str, typer.Option("--timezone")] = "Asia/Shanghai",
    by: Annotated[str | None, typer.Option("--by", help="who sets it")] = None,
) -> None:
    """Set a site's details (administrators); refused naming the field, nothing stored."""
    fields = {"site": site, "name": name, "phone": phone, "address": address, "timezone": timezone}

    async def go() -> Any:
        return directory.set_site(session(by), fields)

    row = run(go)
    out.print(f"{row.site}: {escape(row.name)} · {row.phone} · {row.timezone}", highlight=False)


@sites_app.command("list")
def sites_list(
    by: Annotated[str | None, typer.Option("--by")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Every treatment site with its phone and address."""

    async def go() -> list[Any]:
        return directory.sites(session(by))

    rows = run(go)
    if as_json:
        print_json(rows)
        return
    table = Table("site", "name", "phone", "address", "time zone", title="sites")
    for r in rows:
        table.add_row(r.site, escape(r.name), r.phone, escape(r.address), r.timezone)
    out.print(table)


@app.command()
def assign(
    role: Annotated[
        AssignedRole, typer.Argument(help="lead_coordinator, medical_director or on_call")
    ],
    actor: Annotated[str, typer.Argument(help="who holds it")],
    site: Annotated[str | None, typer.Option("--site")] = None,
    program: Annotated[str | None, typer.Option("--program", help="trial or hospital")] = None,
    valid_from: Annotated[str | None, typer.Option("--from", help="ISO time with offset")] = None,
    valid_until: Annotated[str | None, typer.Option("--until", help="ISO time with offset")] = None,
    by: Annotated[str | None, typer.Option("--by")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Record who holds a recipient role (administrators). Without --site/--program it applies
    everywhere; the most specific assignment wins. on_call needs --site; its entries form the
    site's rota and may not overlap."""
    fields: dict[str, Any] = {
        "role": role.value,
        "actor": actor,
        "site": site,
        "program": program,
        "valid_from": parse_time(valid_from, "--from"),
        "valid_until": parse_time(valid_until, "--until"),
    }

    async def go() -> Any:
        return directory.assign(session(by), fields)

    a = run(go)
    if as_json:
        print_json(a)
        return
    where = " · ".join(x for x in (a.site or "", a.program or "") if x) or "everywhere"
    out.print(f"{a.actor} is {a.role} ({where}){_span(a)}")


def _span(a: Any) -> str:
    if a.valid_from is None and a.valid_until is None:
        return ""
    start = f"{a.valid_from:%Y-%m-%d %H:%M}" if a.valid_from else "…"
    end = f"{a.valid_until:%Y-%m-%d %H:%M}" if a.valid_until else "…"
    return f" from {start} until {end} UTC"


@app.command()
def oncall(
    site: Annotated[str, typer.Argument(help="the site")],
    week: Annotated[bool, typer.Option("--week", help="the next 7 days (default: 24 h)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """A site's on-call rota from now, and its gaps (a notification in a gap goes to the
    medical director). Exits 1 when there is a gap."""

    async def go() -> Any:
        return directory.rota(session(), site, days=7 if week else 1)

    r = run(go)
    if as_json:
        print_json(r)
    else:
        table = Table("on call", "from (UTC)", "until (UTC)", title=f"on call at {site}")
        for e in r.entries:
            table.add_row(
                e.actor,
                f"{e.valid_from:%Y-%m-%d %H:%M}" if e.valid_from else "…",
                f"{e.valid_until:%Y-%m-%d %H:%M}" if e.valid_until else "…",
            )
        out.print(table)
        for start, end in r.gaps:
            out.print(
                f"[red]gap[/red] {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC: nobody on call"
            )
    if r.gaps:
        raise typer.Exit(1)


@app.command()
def outbox(
    case: Annotated[str | None, typer.Argument(help="case id (default: every case)")] = None,
    undelivered: Annotated[
        bool, typer.Option("--undelivered", help="only what is not delivered")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Notifications and their deliveries: recipients, channels, attempts, when delivered, the
    last error."""

    async def go() -> list[Any]:
        return directory.outbox(session(), case, undelivered=undelivered)

    lines = run(go)
    if as_json:
        print_json(lines)
        return
    table = Table(
        "due (UTC)",
        "case",
        "notification",
        "to",
        "person · channel",
        "attempts",
        "delivered",
        "last error",
        title="outbox",
    )
    for n in lines:
        what = (
            f"{n.kind}"
            + (f" {n.level}" if n.kind == "escalation" else "")
            + (f" {n.deadline}" if n.deadline else "")
        )
        rows = n.deliveries or [None]
        for d in rows:
            table.add_row(
                f"{n.scheduled_for:%Y-%m-%d %H:%M}",
                n.case_id,
                what,
                n.recipient,
                f"{d.person} · {d.channel}" if d else "—",
                str(d.attempts) if d else "",
                (f"{d.delivered_at:%Y-%m-%d %H:%M}" if d and d.delivered_at else "")
                + (
                    f" (held until {d.held_until:%H:%M})"
                    if d and d.held_until and not d.delivered_at
                    else ""
                ),
                escape(d.last_error[:80]) if d else "",
                style=None if (d and d.delivered_at) else "yellow",
            )
    out.print(table)
