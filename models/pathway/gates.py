"""The gates of rules version 5: consent, the eligibility and readiness checklists, signatures.

A gate refuses a milestone, naming every item that is missing or failing, and changes nothing.
Each gate is a protocol setting (`ProtocolConfig.consent_gate`, `eligibility_checklist`,
`readiness_checklist`), on in every preset; `ProtocolConfig.gates_off` names the ones a
protocol turns off, and status shows them. Journeys started before version 5 have no gates
(`Journey.v5` is false for them), so they answer exactly as they did.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from models.enums import (
    AuditAction,
    ConsentType,
    EligibilityItem,
    MilestoneKind,
    Program,
    ReadinessItem,
    SignatureMeaning,
)
from models.errors import RefusalCode, refused
from models.messages import GateItem
from models.pathway import times
from models.state import ConsentRecord, Signature

if TYPE_CHECKING:
    from models.pathway.data import EligibilityAssessedData, ReadinessData
    from models.pathway.journey import Journey

K = MilestoneKind
S = SignatureMeaning

# The steps a consent must cover: a new trial consent version stops the next of them until the
# patient re-consents.
TREATMENT_STEPS = frozenset(
    {
        K.APHERESIS_COMPLETED,
        K.CONDITIONING_STARTED,
        K.CONDITIONING_COMPLETED,
        K.PRODUCT_THAWED,
        K.INFUSION_COMPLETED,
    }
)

# --- signatures -------------------------------------------------------------------------------


def fitting_meanings(kind: MilestoneKind, data: Any) -> tuple[SignatureMeaning, ...]:
    """The signature meanings that fit a clinical decision ("" = not a signed decision).

    Approving is only for a decision that lets the patient go on; a refusal or a request for
    more is signed as reviewed; discharging a patient makes the signer responsible.
    """
    if kind is K.ELIGIBILITY_ASSESSED:
        return (S.APPROVED, S.REVIEWED) if data.outcome == "eligible" else (S.REVIEWED,)
    if kind is K.PI_DECISION:
        return (S.APPROVED,) if data.decision == "accepted" else (S.REVIEWED,)
    if kind is K.DISCHARGED:
        return (S.RESPONSIBLE, S.APPROVED)
    return ()


# A physician acknowledging a critical alert takes it on or has seen it.
ACKNOWLEDGE_MEANINGS = (S.RESPONSIBLE, S.REVIEWED)

# The clinical decisions a physician signs, with every meaning that can fit one of them (a form
# offers these; the journey refuses the one that does not fit the decision recorded).
SIGNED_DECISIONS: dict[MilestoneKind, tuple[SignatureMeaning, ...]] = {
    K.ELIGIBILITY_ASSESSED: (S.APPROVED, S.REVIEWED),
    K.PI_DECISION: (S.APPROVED, S.REVIEWED),
    K.DISCHARGED: (S.RESPONSIBLE, S.APPROVED),
}


def check_signature(
    meaning: SignatureMeaning | None, fits: tuple[SignatureMeaning, ...], what: str
) -> None:
    """A signed decision needs a meaning that fits it (`what` names the decision)."""
    choices = ", ".join(m.value for m in fits)
    if meaning is None:
        raise refused(
            "{what} is a signed decision: expected signature_meaning (one of: {choices})",
            RefusalCode.MISSING_FIELD,
            what=what,
            choices=choices,
        )
    if meaning not in fits:
        raise refused(
            "signature_meaning {meaning} does not fit {what}; expected one of: {choices}",
            RefusalCode.INVALID_DATA,
            meaning=repr(meaning.value),
            what=what,
            choices=choices,
        )


def sign(
    j: Journey,
    decision: str,
    signer: str,
    meaning: SignatureMeaning,
    now: datetime,
    detail: str,
    *,
    transcribed_by: str | None = None,
    document_sha256: str | None = None,
) -> None:
    """Record a signature (who, when, what it means) and audit it. A transcribed one is the
    signer's, recorded by `transcribed_by` from the signed document `document_sha256`."""
    j.state.signatures.append(
        Signature(
            decision=decision,
            signer=signer,
            meaning=meaning,
            signed_at=now,
            detail=detail,
            transcribed_by=transcribed_by,
            document_sha256=document_sha256,
        )
    )
    audited: dict[str, Any] = {"decision": decision, "meaning": meaning.value, "detail": detail}
    if transcribed_by is not None:
        audited |= {"signer": signer, "transcribed_from_sha256": document_sha256}
    j.audit_entry(
        AuditAction.TRANSCRIBED if transcribed_by is not None else AuditAction.SIGNED,
        transcribed_by or signer,
        now,
        now,
        detail=audited,
    )


# --- consent ----------------------------------------------------------------------------------


def valid_consent(j: Journey, consent_type: ConsentType) -> ConsentRecord | None:
    """The latest signed, not withdrawn consent of a type (a trial's: at its current version)."""
    for c in reversed(j.state.consents):
        if c.consent_type is not consent_type or c.withdrawn_at is not None:
            continue
        if consent_type is ConsentType.TRIAL and c.form_version != j.state.trial_consent_version:
            continue
        return c
    return None


def _gated(j: Journey) -> bool:
    return j.v5 and j.protocol.consent_gate


def reconsent_needed(j: Journey) -> str | None:
    """The trial changed its consent form since the patient signed: what to sign again."""
    version = j.state.trial_consent_version
    if not _gated(j) or j.facts.program is not Program.TRIAL or version is None:
        return None
    if valid_consent(j, ConsentType.TRIAL) is not None:
        return None
    return f"the trial consent at its current version {version} (re-consent)"


def consent_missing(j: Journey) -> list[str]:
    """What consent a treatment step still needs (empty: covered, or the gate is off)."""
    if not _gated(j):
        return []
    missing = []
    if valid_consent(j, ConsentType.TREATMENT) is None:
        missing.append("a signed treatment consent (consent_signed consent_type=treatment)")
    if j.facts.program is Program.TRIAL and valid_consent(j, ConsentType.TRIAL) is None:
        missing.append(
            reconsent_needed(j) or "a signed trial consent (consent_signed consent_type=trial)"
        )
    return missing


def check_treatment_step(j: Journey, kind: MilestoneKind) -> None:
    """A treatment step after a new trial consent version waits for re-consent (conditioning
    checks every consent it needs itself, with its readiness: `check_ready`)."""
    if kind not in TREATMENT_STEPS or kind is K.CONDITIONING_STARTED:
        return
    needed = reconsent_needed(j)
    if needed:
        raise refused(
            "{kind} refused: expected {needed}", RefusalCode.PATHWAY_RULE, kind=kind, needed=needed
        )


def registry_consented(j: Journey) -> bool:
    """Whether registry reporting may be scheduled (always, when the gate is off)."""
    return not _gated(j) or valid_consent(j, ConsentType.REGISTRY) is not None


# --- the eligibility checklist ----------------------------------------------------------------

# Each item: the data field it reads, and whether a value passes under the protocol.
ITEM_FIELDS: dict[EligibilityItem, str] = {
    EligibilityItem.PRIOR_LINES: "prior_lines",
    EligibilityItem.ECOG: "ecog",
    EligibilityItem.ORGAN_FUNCTION: "organ_function",
    EligibilityItem.NO_ACTIVE_INFECTION: "active_infection",
    EligibilityItem.NO_ACTIVE_CNS_DISEASE: "active_cns_disease",
    EligibilityItem.ANTIGEN_CONFIRMED: "antigen_confirmed",
    EligibilityItem.AGE: "age_years",
}


def _item_fails(j: Journey, item: EligibilityItem, value: Any) -> str | None:
    """Why a checklist value fails under the protocol (None: it passes)."""
    p = j.protocol
    if item is EligibilityItem.PRIOR_LINES and value < p.min_prior_lines:
        return f"prior_lines {value} (at least {p.min_prior_lines} expected)"
    if item is EligibilityItem.ECOG and value > p.max_ecog:
        return f"ecog {value} (at most {p.max_ecog} expected)"
    if item is EligibilityItem.ORGAN_FUNCTION and value != "adequate":
        return "organ_function inadequate"
    if item is EligibilityItem.NO_ACTIVE_INFECTION and value:
        return "active infection"
    if item is EligibilityItem.NO_ACTIVE_CNS_DISEASE and value:
        return "active CNS disease"
    if item is EligibilityItem.ANTIGEN_CONFIRMED and not value:
        return "target antigen not confirmed"
    if item is EligibilityItem.AGE:
        low, high, age = p.min_age_years, p.max_age_years, int(value)
        if (low is not None and age < low) or (high is not None and age > high):
            return f"age {age} (expected {low or 0}–{high if high is not None else 'any'})"
    return None


def check_eligibility(j: Journey, d: EligibilityAssessedData) -> list[str]:
    """Check the checklist of `eligibility_assessed`; returns the failing items.

    An item the protocol does not define is refused; `eligible` is refused while an item is
    missing or failing, naming each.
    """
    items = j.protocol.eligibility_checklist
    given = {item: getattr(d, f) for item, f in ITEM_FIELDS.items()}
    undefined = [ITEM_FIELDS[i] for i, v in given.items() if v is not None and i not in items]
    if undefined:
        raise refused(
            "{items}: not an item of protocol {protocol}'s eligibility checklist; expected "
            "only: {expected}",
            RefusalCode.INVALID_DATA,
            items=", ".join(undefined),
            protocol=j.protocol.name,
            expected=", ".join(ITEM_FIELDS[i] for i in items) or "none",
        )
    missing = [ITEM_FIELDS[i] for i in items if given[i] is None]
    failing = [why for i in items if given[i] is not None and (why := _item_fails(j, i, given[i]))]
    if d.outcome == "eligible" and (missing or failing):
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if failing:
            parts.append("failing " + "; ".join(failing))
        raise refused(
            "outcome eligible refused: the eligibility checklist is incomplete — {parts}; "
            "expected every item, passing, or outcome ineligible / more_info_needed",
            RefusalCode.PATHWAY_RULE,
            parts="; ".join(parts),
        )
    return failing


# --- readiness before conditioning ------------------------------------------------------------

READINESS_FIELDS: dict[ReadinessItem, str] = {
    ReadinessItem.TLS_PROPHYLAXIS: "tls_prophylaxis_started_at",
    ReadinessItem.TOCILIZUMAB: "tocilizumab_doses",
    ReadinessItem.ICU_BED: "icu_bed_confirmed",
    ReadinessItem.CAREGIVER: "caregiver_present",
}


def check_readiness_data(j: Journey, d: ReadinessData, now: datetime) -> None:
    """A readiness record: at least one item, only the protocol's items, times not ahead."""
    items = j.protocol.readiness_checklist
    given = {i: getattr(d, f) for i, f in READINESS_FIELDS.items() if getattr(d, f) is not None}
    if not given:
        raise refused(
            "expected at least one readiness item: {items}",
            RefusalCode.MISSING_FIELD,
            items=", ".join(READINESS_FIELDS[i] for i in items),
        )
    undefined = [READINESS_FIELDS[i] for i in given if i not in items]
    if undefined:
        raise refused(
            "{items}: not an item of protocol {protocol}'s readiness checklist; expected only: "
            "{expected}",
            RefusalCode.INVALID_DATA,
            items=", ".join(undefined),
            protocol=j.protocol.name,
            expected=", ".join(READINESS_FIELDS[i] for i in items) or "none",
        )
    if d.tls_prophylaxis_started_at is not None:
        times.check_time(
            j,
            d.tls_prophylaxis_started_at,
            now,
            "tls_prophylaxis_started_at",
            not_before=None,
            what="",
            then="",
        )


def readiness(j: Journey, at: datetime | None) -> list[GateItem]:
    """Each item of the protocol's readiness checklist: done or not, and what it needs.

    `at` is when conditioning would start (tumour-lysis prophylaxis must have started the
    protocol's lead time before it); None: judge by what is recorded alone.
    """
    p, r = j.protocol, j.state.readiness
    out: list[GateItem] = []
    for item in p.readiness_checklist:
        if item is ReadinessItem.TLS_PROPHYLAXIS:
            started = r.tls_prophylaxis_started_at
            need = f"tumour-lysis prophylaxis started ≥ {p.tls_prophylaxis_lead_hours} h before"
            if started is None:
                out.append(GateItem(item=item.value, done=False, detail=need))
            else:
                ok = at is None or started <= at - timedelta(hours=p.tls_prophylaxis_lead_hours)
                out.append(
                    GateItem(
                        item=item.value,
                        done=ok,
                        detail=f"started {started:%Y-%m-%d %H:%M} UTC"
                        + ("" if ok else f"; {need}"),
                    )
                )
        elif item is ReadinessItem.TOCILIZUMAB:
            doses = r.tocilizumab_doses or 0
            out.append(
                GateItem(
                    item=item.value,
                    done=doses >= p.tocilizumab_doses,
                    detail=f"{doses} of {p.tocilizumab_doses} doses of tocilizumab on hand",
                )
            )
        elif item is ReadinessItem.ICU_BED:
            out.append(
                GateItem(
                    item=item.value, done=bool(r.icu_bed_confirmed), detail="ICU bed confirmed"
                )
            )
        else:
            out.append(
                GateItem(
                    item=item.value, done=bool(r.caregiver_present), detail="caregiver present"
                )
            )
    return out


def check_ready(j: Journey, at: datetime) -> None:
    """`conditioning_started` at `at`: refused naming every consent and readiness item missing."""
    if not j.v5:
        return
    missing = consent_missing(j)
    missing += [f"{g.item}: {g.detail}" for g in readiness(j, at) if not g.done]
    if missing:
        raise refused(
            "conditioning_started refused: not ready — {missing}",
            RefusalCode.PATHWAY_RULE,
            missing="; ".join(missing),
        )


def ready(j: Journey) -> bool:
    """Whether everything conditioning needs is in place now (what's next uses it)."""
    return not consent_missing(j) and all(g.done for g in readiness(j, None))
