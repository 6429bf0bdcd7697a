"""The care team of a case: who is in it, covering a case, reassigning it, and breaking the
glass.

Every case action is limited to the case's care team (`authority.in_care_team`, the rule in
`models.roles.check_care_team`). Here: listing the team, its coordinator or an administrator
adding and removing cover, giving cases to another coordinator (`reassign`, recorded by each
journey as `coordinator_changed`), and emergency access for anyone else with a clinical role — a
stated reason, a confirmation (the interfaces ask for it), a few hours, audited as
`break_glass` and told to the case's coordinator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, Unreachable, refusing
from cellpath.services.notices import tell_coordinator
from cellpath.store.access import CareTeams, Covers
from models import bounds
from models.enums import MilestoneKind, NotificationKind
from models.errors import RefusalCode, Refused, refused, words
from models.messages import MilestoneInput
from models.roles import CARE_TEAM_ROLES, Action, CaseFacts, Role


class CareTeamView(BaseModel):
    """A case's care team as the rule sees it."""

    case_id: str
    coordinator: str
    site: str | None
    covering: list[str]
    site_staff: list[str]


class Grant(BaseModel):
    """Emergency access given: to whom, on which case, until when."""

    case_id: str
    actor: str
    expires_at: datetime


def _case(session: Session, case: str) -> CaseFacts:
    facts = CareTeams(session.case_store()).case(case)
    if facts is None:
        raise Unreachable(f"no journey for case {case} in the case store")
    return facts


def team(session: Session, case: str) -> CareTeamView:
    """Who is in the case's care team (anyone who may read the case)."""
    authorise(session, Action.READ, case=case)
    store = session.case_store()
    facts = _case(session, case)
    staff = [
        m.actor
        for m in store.staff()
        if m.role in (Role.PHYSICIAN, Role.SITE_STAFF)
        and (not m.sites or (facts.site is not None and facts.site in m.sites))
    ]
    return CareTeamView(
        case_id=case,
        coordinator=facts.coordinator,
        site=facts.site,
        covering=[c.actor for c in CareTeams(store).covering(case)],
        site_staff=staff,
    )


def _may_change_team(session: Session, case: str, facts: CaseFacts) -> None:
    """The case's coordinator (or someone covering it as a coordinator) or an administrator."""
    role = session.case_store().role_of(session.actor)
    if role is Role.ADMINISTRATOR or (
        role is Role.COORDINATOR and session.actor == facts.coordinator
    ):
        return
    refusal = refusing(
        "{actor} may not change the care team of case {case}; expected its "
        "coordinator ({coordinator}) or an administrator",
        RefusalCode.PERMISSION,
        actor=repr(session.actor),
        case=case,
        coordinator=repr(facts.coordinator),
    )
    record_refusal(session, case, "care_team", None, str(refusal))
    raise refusal


def cover(session: Session, case: str, actor: str, *, remove: bool = False) -> str:
    """Add `actor` to the case's care team (or take them off); says what was done."""
    facts = _case(session, case)
    _may_change_team(session, case, facts)
    store = session.case_store()
    if store.role_of(actor) not in CARE_TEAM_ROLES:
        message = f"{actor!r} is not a coordinator, physician or site staff member"
        record_refusal(session, case, "care_team", None, message)
        raise refusing(
            "{actor} is not a coordinator, physician or site staff member; expected registered "
            "clinical staff",
            RefusalCode.INVALID_DATA,
            actor=repr(actor),
        )
    teams = CareTeams(store)
    if remove:
        try:
            teams.remove(case, actor, by=session.actor)
        except Exception as e:
            raise Refusal(str(e), RefusalCode.INVALID_DATA) from None
        return f"{actor} no longer covers case {case}"
    added = teams.add(case, actor, by=session.actor)
    return f"{actor} {'now covers' if added else 'already covers'} case {case}"


async def break_glass(session: Session, case: str, reason: str, *, confirmed: bool) -> Grant:
    """Emergency access to a case for someone outside its care team: a reason, a
    confirmation, `break_glass_hours` hours; audited and told to the case's coordinator."""
    store = session.case_store()
    role = store.role_of(session.actor)
    facts = _case(session, case)
    problem: Refusal | None = None
    if role not in CARE_TEAM_ROLES:
        problem = refusing(
            "{actor} is {role}; breaking the "
            "glass needs a coordinator, physician or site staff member",
            RefusalCode.PERMISSION,
            actor=repr(session.actor),
            role=role.value if role else words("not registered"),
        )
    elif not confirmed:
        problem = refusing(
            "breaking the glass needs a confirmation; expected --yes (or the console's "
            "confirmation) after reading that the access is audited and its coordinator told",
            RefusalCode.MISSING_FIELD,
        )
    else:
        try:
            bounds.check_text(reason, "reason", limit=2000, multiline=True)
            if len(reason.strip()) < 10:
                raise refused(
                    "reason is required: why this emergency access (at least 10 characters)",
                    RefusalCode.MISSING_FIELD,
                )
        except Refused as e:
            problem = Refusal.of(e)
    if problem is not None:
        record_refusal(session, case, "break_glass", None, str(problem))
        raise problem
    hours = session.settings.break_glass_hours
    grant = CareTeams(store).break_glass(case, session.actor, reason.strip(), hours)
    await _tell_coordinator(session, facts, grant.expires_at)
    return Grant(case_id=case, actor=session.actor, expires_at=grant.expires_at)


async def _tell_coordinator(session: Session, facts: CaseFacts, until: datetime) -> None:
    """Tell the case's coordinator who broke the glass, and until when."""
    await tell_coordinator(
        session,
        facts.case_id,
        facts.coordinator,
        f"{session.actor} broke the glass to open case {facts.case_id}, which is yours, "
        f"until {until:%Y-%m-%d %H:%M} UTC.",
        kind=NotificationKind.ACCESS,
    )


class Reassigned(BaseModel):
    """What became of one case of a reassignment: done, or refused and why."""

    case_id: str
    previous: str | None = None
    done: bool
    reason: str = ""


async def reassign(session: Session, cases: list[str], to: str, reason: str) -> list[Reassigned]:
    """Give each case to the coordinator `to` (`coordinator_changed`, recorded by its journey);
    for each, its coordinator or an administrator. One case refused does not hold back the
    others: each says what became of it."""
    from cellpath.services.journeys import record_by_service

    store = session.case_store()
    if store.role_of(to) is not Role.COORDINATOR:
        raise refusing(
            "{actor} is not a coordinator; expected a registered coordinator to take the cases",
            RefusalCode.INVALID_DATA,
            actor=repr(to),
        )
    out: list[Reassigned] = []
    for case in dict.fromkeys(cases):
        try:
            facts = _case(session, case)
            _may_change_team(session, case, facts)
            milestone = MilestoneInput(
                kind=MilestoneKind.COORDINATOR_CHANGED.value,
                actor=session.actor,
                data={"coordinator": to, "previous": facts.coordinator, "reason": reason},
            )
            await record_by_service(session, case, milestone)
        except (Refusal, Unreachable) as e:
            out.append(Reassigned(case_id=case, done=False, reason=str(e)))
            continue
        out.append(Reassigned(case_id=case, previous=facts.coordinator, done=True))
    return out


class Cover(BaseModel):
    """A coordinator covering a colleague's cases for a period."""

    id: int
    absent: str
    covering: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    added_by: str


# The longest cover set at once (a leave; longer is a reassignment).
MAX_COVER = timedelta(days=366)


def _may_set_cover(session: Session, absent: str) -> None:
    role = session.case_store().role_of(session.actor)
    if role is Role.ADMINISTRATOR or (role is Role.COORDINATOR and session.actor == absent):
        return
    refusal = refusing(
        "{actor} may not set who covers {absent}; expected {absent} themselves or an administrator",
        RefusalCode.PERMISSION,
        actor=repr(session.actor),
        absent=repr(absent),
    )
    record_refusal(session, "staff", "cover", None, str(refusal))
    raise refusal


def cover_colleague(
    session: Session, absent: str, covering: str, starts: datetime, ends: datetime, reason: str
) -> Cover:
    """`covering` covers every case `absent` coordinates from `starts` until `ends`: in their
    care team, and their worklist and board may show them. Audited with the staff's changes."""
    _may_set_cover(session, absent)
    store = session.case_store()
    problems = [
        words("{actor} is not a coordinator", actor=repr(who))
        for who in dict.fromkeys((absent, covering))
        if store.role_of(who) is not Role.COORDINATOR
    ]
    if absent == covering:
        problems.append(words("a coordinator cannot cover themselves"))
    if starts.tzinfo is None or ends.tzinfo is None:
        problems.append(words("times must include a UTC offset"))
    elif ends <= starts:
        problems.append(words("the cover must end after it starts"))
    elif ends <= datetime.now(UTC):
        problems.append(words("the cover must end in the future"))
    elif ends - starts > MAX_COVER:
        problems.append(words("a cover lasts at most a year; reassign the cases instead"))
    if not 3 <= len(reason.strip()) <= 500:
        problems.append(words("reason: expected 3 to 500 characters"))
    if problems:
        raise refusing(
            "{problems}; expected two coordinators and a period ahead",
            RefusalCode.INVALID_DATA,
            problems=problems,
        )
    row = Covers(store).add(absent, covering, starts, ends, reason.strip(), by=session.actor)
    return Cover.model_validate(row, from_attributes=True)


def end_cover(session: Session, cover_id: int) -> Cover:
    """End a cover now (the colleague is back early): the absent one or an administrator."""
    covers = {c.id: c for c in Covers(session.case_store()).current()}
    found = covers.get(cover_id)
    if found is None:
        raise refusing("no cover {id} in force or ahead", RefusalCode.UNKNOWN_NAME, id=cover_id)
    _may_set_cover(session, found.absent)
    row = Covers(session.case_store()).end(cover_id, by=session.actor)
    return Cover.model_validate(row, from_attributes=True)


def covers(session: Session) -> list[Cover]:
    """Every cover in force or ahead (anyone signed in may read who covers whom)."""
    authorise(session, Action.READ)
    current = Covers(session.case_store()).current()
    return [Cover.model_validate(c, from_attributes=True) for c in current]
