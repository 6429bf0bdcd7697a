"""Workflows of cellpath. Deterministic: no I/O, no settings, no clocks but `workflow.now()`.

The names are loaded on first use: the workflow sandbox re-imports this package for every
workflow instance it creates, and a journey should not pay for importing the delivery
workflow too (and the other way round).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.delivery import DeliverNotification
    from workflows.journey import PatientJourney

__all__ = ["DeliverNotification", "PatientJourney"]


def __getattr__(name: str) -> Any:
    if name == "PatientJourney":
        from workflows.journey import PatientJourney

        return PatientJourney
    if name == "DeliverNotification":
        from workflows.delivery import DeliverNotification

        return DeliverNotification
    raise AttributeError(f"module 'workflows' has no attribute {name!r}")
