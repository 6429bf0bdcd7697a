"""A journey's schedule as the case store keeps it for the board across patients: each step
of the pathway, done (when) or ahead (expected when, and the range), as
`models.pathway.projection` computes it. Written with every journey write; no PHI."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ProjectedStep(BaseModel):
    """One step: when it is expected, the earliest and latest it may be, and why (`basis`:
    protocol, deadline, planned, site history); a step done has `done_at` and basis
    `recorded`."""

    step: str  # the milestone that marks it, e.g. infusion_completed
    expected: datetime
    earliest: datetime
    latest: datetime
    basis: str
    done_at: datetime | None = None
