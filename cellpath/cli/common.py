"""What every command shares: the consoles, the session, running a service, exit codes, and
parsing and printing the values coordinators type and read.

Exit codes (the contract): 0 done · 1 refused (the reason on stderr, nothing changed) ·
2 usage or connection error.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
import typer.core
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cellpath.codec import UnknownKeyError
from cellpath.services.base import Refusal, Session, Unreachable
from models.deadlines import DeadlineView
from models.messages import MilestoneAck
from models.pathway import list_fields, text_value

T = TypeVar("T")


def _flags_without_a_type() -> None:
    """Show flags as flags in --help: Typer (0.2x) labels every option with its type, so a
    flag read `--json <bool>`, as if it took a value. A flag takes none; it gets no label."""
    option = getattr(typer.core, "TyperOption", None)
    labelled = getattr(option, "display_type_rich", None)
    if option is None or labelled is None:  # another Typer: nothing to correct
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else labelled(self, ctx)

    option.display_type_rich = display_type_rich


_flags_without_a_type()

app = typer.Typer(
    # A traceback with local variables would print a patient's details (Typer shows them).
    pretty_exceptions_enable=False,
    name="cellpath",
    help="Run patients' CAR-T / CAR-NK journeys: record milestones, read status and deadlines.",
    no_args_is_help=True,
    add_completion=False,
)


class _Output(Console):
    """The console commands print to: a reader that goes away (`cellpath status X | head -1`)
    has had enough, which is not a refusal — rich would exit 1, this exits 0."""

    def on_broken_pipe(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more reaches the closed pipe
        raise SystemExit(0)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print; a table's cells wrap instead of being cut (an id cut to `CRB-20…` is no
        id), whatever the width."""
        for o in objects:
            if isinstance(o, Table):
                for column in o.columns:
                    column.overflow = "fold"
        super().print(*objects, **kwargs)


# Piped or redirected output is not a terminal's 80 columns: tables take the width they need
# (up to `WIDE`), and still wrap past it.
WIDE = 200
out = _Output(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else WIDE)
err = Console(stderr=True)


def default_actor() -> str:
    """Who is typing: `CELLPATH_ACTOR`, else the login name."""
    return os.environ.get("CELLPATH_ACTOR") or getpass.getuser()


def session(actor: str | None = None) -> Session:
    """A service session acting as `actor` (default: who is typing); warnings go to stderr."""
    return Session(
        actor=actor or default_actor(),
        warn=lambda message: err.print(f"warning: {escape(message)}", highlight=False),
    )


# The journey's messages name its fields; a person at the terminal typed flags.
FLAGS = {
    "temperature_c": "--temperature",
    "systolic_bp": "--systolic",
    "heart_rate": "--heart-rate",
    "respiratory_rate": "--respiratory-rate",
    "oxygen_flow_l_min": "--oxygen-flow",
    "oxygen_device": "--oxygen-device",
    "ice_score": "--ice-score",
    "ferritin_ng_ml": "--ferritin",
    "gvhd_skin_bsa_pct": "--gvhd-skin-bsa",
    "bilirubin_mg_dl": "--bilirubin",
    "stool_ml_day": "--stool",
    "occurred_at": "--at",
    "observed_at": "--at",
    "due_at": "--due",
    "milestone_id": "--id",
    "observation_id": "--id",
}
_FIELD = re.compile(r"(?<![\w.-])(" + "|".join(FLAGS) + r")(?![\w-])")


def in_flags(message: str, extra: dict[str, str] | None = None) -> str:
    """A refusal as the person at the terminal reads it: fields named by their flags (and a
    command's own, `extra`: acknowledge's `signature_meaning` is its `--meaning`)."""
    message = _FIELD.sub(lambda m: FLAGS[m.group(1)], message)
    for field, flag in (extra or {}).items():
        message = re.sub(rf"(?<![\w.-]){re.escape(field)}(?![\w-])", flag, message)
    return message


def _wants_json() -> bool:
    """Whether the command was asked for JSON (`--json`): its refusals are JSON too."""
    return "--json" in sys.argv[1:]


def run(service: Callable[[], Awaitable[T]], flags: dict[str, str] | None = None) -> T:
    """Run a service call; map its failures to the contract's exit codes (`flags`: the
    command's own names for fields, used in its refusals)."""
    try:
        return asyncio.run(service())  # type: ignore[arg-type]
    except Refusal as e:
        if _wants_json():
            # A script asked for JSON: the refusal too, with its code (on stderr, exit 1).
            reason = {"refused": in_flags(str(e), flags), "code": e.code.value}
            print(json.dumps(reason, ensure_ascii=False), file=sys.stderr)
            raise typer.Exit(1) from None
        # escape(): a reason may hold text rich would read as markup (a pattern's "[A-Z]").
        err.print(f"[red]refused:[/red] {escape(in_flags(str(e), flags))}", highlight=False)
        raise typer.Exit(1) from None
    except (Unreachable, UnknownKeyError) as e:
        if _wants_json():
            print(json.dumps({"error": str(e), "code": "unreachable"}), file=sys.stderr)
            raise typer.Exit(2) from None
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None
    except KeyError as e:
        # The SDK's converter names an encoding it has no codec for: encrypted payloads read
        # by a process without keys.
        if "binary/encrypted" not in str(e):
            raise
        err.print(
            "[red]error:[/red] this journey's payloads are encrypted and this process has no "
            "keys; set CELLPATH_ENCRYPTION_KEY_FILE (or CELLPATH_ENCRYPTION_KEYS)",
            highlight=False,
        )
        raise typer.Exit(2) from None


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO time with a UTC offset (`Z` allowed); a naive one is a usage error."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO time such as 2026-11-21T10:00+08:00, got {text!r}", param_hint=option
        ) from None
    if value.tzinfo is None:
        raise typer.BadParameter(
            "the time needs a UTC offset, e.g. 2026-11-21T10:00+08:00", param_hint=option
        )
    return value


def parse_data(kind: str, pairs: list[str], data_json: str | None) -> dict[str, Any]:
    """`--data k=v` pairs (and `--data-json`) as the milestone's data.

    A value that is JSON (a number, `true`, a list) is taken as JSON; otherwise as text. For a
    field the milestone declares as a list, `a,b` is split at commas and repeated keys collect.
    """
    data: dict[str, Any] = {}
    if data_json:
        try:
            loaded = json.loads(data_json)
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"not JSON: {e}", param_hint="--data-json") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("expected a JSON object", param_hint="--data-json")
        data.update(loaded)
    lists = list_fields(kind)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--data")
        value = text_value(text, is_list=key in lists)
        data[key] = [*data.get(key, []), *value] if key in lists else value
    return data


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    """Machine-readable output for scripts."""
    if isinstance(value, dict):
        out.print_json(json.dumps(value))
    elif isinstance(value, list):
        out.print_json(
            json.dumps(
                [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            )
        )
    else:
        out.print_json(value.model_dump_json())


def deadlines_table(deadlines: list[DeadlineView]) -> Table:
    """Open deadlines as a table, overdue ones in red."""
    table = Table("deadline", "due (UTC)", "level", "overdue", title="open deadlines")
    for d in deadlines:
        style = "red" if d.overdue else None
        table.add_row(
            d.name,
            f"{d.due_at:%Y-%m-%d %H:%M}",
            str(d.escalation_level),
            "yes" if d.overdue else "",
            style=style,
        )
    return table


def print_ack(ack: MilestoneAck, as_json: bool) -> None:
    """An accepted milestone (or withdrawal): the phase after it and the open deadlines."""
    if as_json:
        print_json(ack)
        return
    note = " (duplicate: already recorded)" if ack.duplicate else ""
    out.print(f"accepted{note} — phase [bold]{ack.phase}[/bold]")
    if ack.next_deadlines:
        out.print(deadlines_table(ack.next_deadlines))
