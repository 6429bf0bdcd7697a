"""The registry's track by consent (runs under `WATCHED`; CIBMTR cellular therapy forms).

With registry consent: the pre-infusion form (F4000) before conditioning starts, the infusion
form (F4006) within `registry_infusion_days` of the infusion, the protocol's follow-up windows
(F4100: day 100, month 6, year 1), then a yearly form to `long_term_follow_up_years` for the
long-term therapies (gene-modified products are followed 15 years; FDA LTFU guidance). Without
it, only the windows the protocol's `registry_minimal_track` names. Earlier runs keep the
protocol's windows alone, opened at follow-up with consent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import registry_deadline
from models.protocol import RegistryWindow

if TYPE_CHECKING:
    from models.pathway.journey import Journey

PRE_INFUSION = "pre_infusion"
INFUSION = "infusion"
# Each window's usual form, named in the deadline (the coordinator names the one sent).
FORMS = {PRE_INFUSION: "F4000", INFUSION: "F4006"}


def track(j: Journey) -> list[RegistryWindow]:
    """Every registry window of this journey, in order (days after infusion; the
    pre-infusion form has none and is listed first)."""
    p = j.protocol
    if not j.tracked:
        return list(p.registry_windows)
    out = [
        RegistryWindow(name=PRE_INFUSION, label="pre-infusion form", opens_day=0, closes_day=1),
        RegistryWindow(
            name=INFUSION,
            label=f"infusion form, within {p.registry_infusion_days} days",
            opens_day=0,
            closes_day=p.registry_infusion_days,
        ),
        *p.registry_windows,
    ]
    if j.facts.therapy in p.long_term_follow_up_therapies:
        named = {w.name for w in out}
        window = p.long_term_check_in_window_days
        out += [
            RegistryWindow(
                name=f"year_{y}",
                label=f"year {y}",
                opens_day=365 * y,
                closes_day=365 * y + window,
            )
            for y in range(2, p.long_term_follow_up_years + 1)
            if f"year_{y}" not in named
        ]
    return out


def due(j: Journey) -> list[RegistryWindow]:
    """The windows this journey reports: all with registry consent, else the minimal track."""
    from models.pathway import gates

    windows = track(j)
    if gates.registry_consented(j):
        return windows
    return [w for w in windows if w.name in j.protocol.registry_minimal_track]


def left(j: Journey) -> list[RegistryWindow]:
    """The windows due and not yet reported."""
    return [w for w in due(j) if w.name not in j.state.registry_reported]


def open_pre_infusion(j: Journey, at: datetime, now: datetime) -> None:
    """Conditioning: the pre-infusion form, due when conditioning is due to start."""
    if not j.tracked or PRE_INFUSION not in {w.name for w in left(j)}:
        return
    p = j.protocol
    j.book.open(
        registry_deadline(PRE_INFUSION),
        now=now,
        start=at,
        due_at=at + timedelta(days=p.conditioning_escalate_days),
        summary="Registry pre-infusion form (CIBMTR F4000) before conditioning",
        before=[timedelta(days=1)],
        level2_after=j.level2_after(),
    )


def open_after_infusion(j: Journey, now: datetime) -> None:
    """Monitoring: the infusion form."""
    if not j.tracked:
        return
    for w in left(j):
        if w.name == INFUSION:
            _open(j, w, now, "CIBMTR F4006")


def open_follow_up(j: Journey, now: datetime) -> None:
    """Follow-up: every window left (the infusion form too, if it is), the yearly ones one
    at a time (the next after each report). A deadline already open is left as it is."""
    protocol_windows = {w.name for w in j.protocol.registry_windows}
    yearly = False
    for w in left(j):
        if w.name == PRE_INFUSION:
            continue  # its deadline, if still open, stays open (never restarted)
        if w.name.startswith("year_") and w.name not in protocol_windows:
            if yearly:
                continue
            yearly = True
        _open(j, w, now, "CIBMTR " + form_for(w.name))


def _open(j: Journey, w: RegistryWindow, now: datetime, form: str) -> None:
    """A window's deadline, due at its close, reminded at its opening (unless already open)."""
    if j.book.get(registry_deadline(w.name)) is not None:
        return
    opens, closes = j.day(w.opens_day), j.day(w.closes_day)
    j.book.open(
        registry_deadline(w.name),
        now=now,
        due_at=closes,
        summary=f"Registry follow-up, {w.label} ({form})",
        before=[closes - opens, timedelta(days=7)],
        level2_after=j.level2_after(),
    )


def form_for(window: str) -> str:
    """The usual CIBMTR form of a window."""
    return FORMS.get(window, "F4100")
