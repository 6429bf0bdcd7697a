"""Workflows of cellpath. Deterministic: no I/O, no settings, no clocks but `workflow.now()`."""

from workflows.delivery import DeliverNotification
from workflows.journey import PatientJourney

__all__ = ["DeliverNotification", "PatientJourney"]
