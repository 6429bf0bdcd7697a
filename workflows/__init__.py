"""Workflows of cellpath. Deterministic: no I/O, no settings, no clocks but `workflow.now()`."""

from workflows.journey import PatientJourney

__all__ = ["PatientJourney"]
