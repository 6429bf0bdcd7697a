"""Consent (rules version 5): signed, a trial's new form version, withdrawn.

A consent is recorded with its type, form version, signer, interpreter, witness and the
SHA-256 of the signed document; the document itself stays outside Temporal. What consents
gate is in `models.pathway.gates`: conditioning needs a treatment consent (and a trial's
current consent), registry deadlines need a registry consent; withdrawing a treatment or trial
consent closes the journey as withdrawn.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import (
    AlertKind,
    ConsentType,
    MilestoneKind,
    Outcome,
    Phase,
    Program,
    Severity,
    registry_deadline,
)
from models.errors import RefusalCode, refused
from models.pathway import deadlines, gates, registry
from models.pathway.data import ConsentData, ConsentVersionData, ConsentWithdrawnData
from models.pathway.milestones import follow_up
from models.pathway.rules import OPEN_PHASES, Accepted, MilestoneRule, rule
from models.state import ConsentRecord

if TYPE_CHECKING:
    from models.pathway.journey import Journey

# A consent may be signed (or withdrawn) at any time while the journey is open.


@rule
class ConsentSigned(MilestoneRule[ConsentData]):
    """A consent signed by the patient or their legal representative."""

    kind = MilestoneKind.CONSENT_SIGNED
    phases = OPEN_PHASES
    data = ConsentData

    def awaited(self, j: Journey) -> bool:
        return bool(gates.consent_missing(j)) and j.state.phase in (
            Phase.ARRIVAL,
            Phase.COLLECTION,
            Phase.MANUFACTURING,
            Phase.CONDITIONING,
        )

    def optional(self, j: Journey) -> bool:
        return not gates.consent_missing(j)

    def check(self, j: Journey, a: Accepted[ConsentData]) -> None:
        d = a.data
        _version_as_before(j, d.form_version)
        if d.consent_type is ConsentType.TRIAL:
            if j.facts.program is not Program.TRIAL:
                raise refused(
                    "consent_type trial: this journey's program is {program}; expected one of: "
                    "treatment, registry, data_transfer",
                    RefusalCode.INVALID_DATA,
                    program=j.facts.program,
                )
            current = j.state.trial_consent_version
            if current is not None and d.form_version != current:
                raise refused(
                    "trial consent form_version {version} is not the trial's current version; "
                    "expected {current} (record consent_version_changed first if the trial "
                    "issued a new one)",
                    RefusalCode.INVALID_DATA,
                    version=repr(d.form_version),
                    current=current,
                )

    def apply(self, j: Journey, a: Accepted[ConsentData], now: datetime) -> None:
        d, s = a.data, j.state
        registry_waited = not gates.registry_consented(j)
        s.consents.append(
            ConsentRecord(
                consent_type=d.consent_type,
                form_version=d.form_version,
                signer=d.signer,
                document_sha256=d.document_sha256,
                interpreter_language=d.interpreter_language,
                witness=d.witness,
                signed_at=a.occurred_at,
                recorded_by=a.raw.actor.strip(),
            )
        )
        if d.consent_type is ConsentType.TRIAL and s.trial_consent_version is None:
            s.trial_consent_version = d.form_version
        if (
            d.consent_type is ConsentType.REGISTRY
            and registry_waited
            and s.phase is Phase.FOLLOW_UP
            and s.infused_at is not None
        ):
            # Registry reporting was waiting for this consent.
            deadlines.open_registry(j, now)
        elif d.consent_type is ConsentType.REGISTRY and registry_waited and j.tracked:
            # The registry's track starts where the journey is (runs under `WATCHED`).
            if s.phase is Phase.CONDITIONING:
                registry.open_pre_infusion(j, a.occurred_at, now)
            elif s.phase is Phase.MONITORING:
                registry.open_after_infusion(j, now)


@rule
class ConsentVersionChanged(MilestoneRule[ConsentVersionData]):
    """The trial issued a new consent form version: re-consent before the next treatment step."""

    kind = MilestoneKind.CONSENT_VERSION_CHANGED
    phases = OPEN_PHASES
    data = ConsentVersionData

    def optional(self, j: Journey) -> bool:
        return True

    def awaited(self, j: Journey) -> bool:
        return False  # the trial decides when; a journey never waits for it

    def check(self, j: Journey, a: Accepted[ConsentVersionData]) -> None:
        _version_as_before(j, a.data.form_version)
        if j.facts.program is not Program.TRIAL:
            raise refused(
                "consent_version_changed applies to trial journeys; this one's program is "
                "{program}",
                RefusalCode.WRONG_PRODUCT,
                program=j.facts.program,
            )
        if a.data.form_version == j.state.trial_consent_version:
            raise refused(
                "form_version {version} is already the trial's current version; expected the new "
                "version",
                RefusalCode.ALREADY_DONE,
                version=repr(a.data.form_version),
            )

    def apply(self, j: Journey, a: Accepted[ConsentVersionData], now: datetime) -> None:
        j.state.trial_consent_version = a.data.form_version
        if j.v5 and j.state.phase is not Phase.FOLLOW_UP:
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.WARNING,
                now,
                f"Trial consent form version {a.data.form_version} issued: the patient must "
                "re-consent before the next treatment step",
            )


@rule
class ConsentWithdrawn(MilestoneRule[ConsentWithdrawnData]):
    """A consent withdrawn: treatment or trial → the journey closes withdrawn; registry →
    registry reporting stops; data transfer → the coordinator is warned."""

    kind = MilestoneKind.CONSENT_WITHDRAWN
    phases = OPEN_PHASES
    data = ConsentWithdrawnData

    def optional(self, j: Journey) -> bool:
        return True

    def awaited(self, j: Journey) -> bool:
        return False  # the patient decides; a journey never waits for it

    def check(self, j: Journey, a: Accepted[ConsentWithdrawnData]) -> None:
        t = a.data.consent_type
        if not any(c.consent_type is t and c.withdrawn_at is None for c in j.state.consents):
            held = sorted(
                {c.consent_type.value for c in j.state.consents if c.withdrawn_at is None}
            )
            raise refused(
                "no {kind} consent is held for this journey; expected one of: {held}",
                RefusalCode.PATHWAY_RULE,
                kind=t,
                held=", ".join(held) or "none (no consent is held)",
            )

    def apply(self, j: Journey, a: Accepted[ConsentWithdrawnData], now: datetime) -> None:
        t = a.data.consent_type
        for c in j.state.consents:
            if c.consent_type is t and c.withdrawn_at is None:
                c.withdrawn_at = a.occurred_at
        if t in (ConsentType.TREATMENT, ConsentType.TRIAL):
            j.close(Outcome.WITHDRAWN)
        elif t is ConsentType.REGISTRY:
            minimal = j.protocol.registry_minimal_track if j.tracked else ()
            for w in registry.track(j):
                if w.name not in minimal:
                    j.book.close(registry_deadline(w.name))
            # Follow-up may now be complete without the registry's windows.
            follow_up.maybe_done(j, now)
        else:
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.WARNING,
                now,
                "Consent to cross-border data transfer withdrawn: send no further medical data "
                "abroad for this case",
            )


def _version_as_before(j: Journey, version: str) -> None:
    """Runs before `FORMS_IN_WORDS` refused a form version with a space (and replay so)."""
    if " " in version and not j.forms_in_words:
        raise refused(
            "form_version: expected letters, digits and . _ - without spaces (this journey "
            "takes versions like 'ICF v3.0' from its next run)",
            RefusalCode.INVALID_DATA,
        )
