"""Domain errors. Workflows and activities turn them into non-retryable `ApplicationError`s
whose `type` is the class name, so callers can tell a refusal from an outage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RefusalCode(StrEnum):
    """Why a message was refused, as a short stable code.

    Carried on `Refused`, in the `ApplicationError` details callers receive, and as the
    `reason` label of the `cellpath_refusals` metric (metrics must not carry free text).
    """

    WRONG_PHASE = "wrong_phase"
    WRONG_PRODUCT = "wrong_product"
    CHAIN_OF_IDENTITY = "chain_of_identity"
    DISCHARGE_CONDITIONS = "discharge_conditions"
    FOLLOW_UP_INCOMPLETE = "follow_up_incomplete"
    FUTURE_TIME = "future_time"
    OUT_OF_ORDER = "out_of_order"
    INVALID_TIME = "invalid_time"
    MISSING_FIELD = "missing_field"
    INVALID_DATA = "invalid_data"
    TOO_LARGE = "too_large"
    UNDECODABLE = "undecodable"
    ALREADY_DONE = "already_done"
    DUPLICATE_CONFLICT = "duplicate_conflict"
    UNKNOWN_NAME = "unknown_name"
    CLOSED = "closed"
    PERMISSION = "permission"
    # The role may do it, but not on this case: the actor is not in its care team.
    CARE_TEAM = "care_team"
    PATHWAY_RULE = "pathway_rule"
    # A site's resource cannot take the booking (full, closed that day, not at the site).
    OVER_CAPACITY = "over_capacity"
    INTERNAL = "internal"
    # The journey is starting a fresh run (continue-as-new): nothing was changed, and the same
    # message sent again in a moment is taken by the new run. The services do so themselves.
    CONTINUING = "continuing"


class Refused(ValueError):
    """A message was refused: the text says what was wrong and what was expected.

    A refusal changes nothing in the journey. `code` says which family of refusal it is.
    """

    def __init__(
        self,
        message: str,
        code: RefusalCode = RefusalCode.PATHWAY_RULE,
        *,
        template: str | None = None,
        params: dict[str, str] | None = None,
        nested: dict[str, list[tuple[str, dict[str, str]]]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        # The words apart from the data (`refused`): each reader's interface looks the English
        # template up in its own catalogue and fills in the same params; a param made of
        # sentences of their own (`Words`) is in `nested`, each translated the same way.
        self.template = template
        self.params = params or {}
        self.nested = nested or {}


@dataclass(frozen=True)
class Words:
    """A sentence apart from its data (`words`), to be one part of a refusal (several
    discharge conditions that fail, say): English when printed, translatable by its template."""

    template: str
    params: dict[str, str]

    def __str__(self) -> str:
        return self.template.format(**self.params)


def words(template: str, **params: object) -> Words:
    """A sentence whose words a catalogue translates (`make messages` extracts `words("…")`)."""
    return Words(template, {k: str(v) for k, v in params.items()})


def refused(template: str, code: RefusalCode, **params: object) -> Refused:
    """A refusal whose words a catalogue translates: `template` is English with `{name}`
    fields, the message id (`make messages` extracts every `refused("…")`); `params` are the
    data, kept as text — or sentences of their own (`Words`, or a list of them, joined with
    "; "). The message itself is the template filled in, in English."""
    values: dict[str, str] = {}
    nested: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for name, value in params.items():
        parts = [value] if isinstance(value, Words) else value
        if isinstance(parts, list) and parts and all(isinstance(w, Words) for w in parts):
            nested[name] = [(w.template, w.params) for w in parts]
            values[name] = "; ".join(str(w) for w in parts)
        else:
            values[name] = str(value)
    return Refused(template.format(**values), code, template=template, params=values, nested=nested)


class CaseStoreError(RuntimeError):
    """The case store refused an operation that retrying cannot fix (e.g. a conflicting row)."""
