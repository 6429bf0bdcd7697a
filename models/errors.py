"""Domain errors. Workflows and activities turn them into non-retryable `ApplicationError`s
whose `type` is the class name, so callers can tell a refusal from an outage."""

from __future__ import annotations


class Refused(ValueError):
    """A message was refused: the text says what was wrong and what was expected.

    A refusal changes nothing in the journey.
    """


class CaseStoreError(RuntimeError):
    """The case store refused an operation that retrying cannot fix (e.g. a conflicting row)."""
