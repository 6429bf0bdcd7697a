"""What every service takes (a `Session`: who acts, against which Temporal and case store) and
the two ways a service fails (`Refusal`, `Unreachable`).

Interfaces (the CLI, the console) build a session, call services, and map the outcome: a
`Refusal` is an answer (exit 1, a message next to the form), `Unreachable` an outage or an
unknown case (exit 2, an error page). Nothing else about Temporal or the store leaks out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.client import Client

from cellpath.config import Settings, get_settings
from cellpath.store import CaseStore
from models.errors import RefusalCode, Refused, refused


class Refusal(Exception):
    """The request was refused (by a role, the journey, the intake, the store): nothing changed.

    `code` is the refusal's family (`models.errors.RefusalCode`).
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
        # The English template and its data when the refusal's words come from a catalogue
        # (`models.errors.refused`): the console shows them in the reader's language.
        self.template = template
        self.params = params or {}
        self.nested = nested or {}

    @classmethod
    def of(cls, e: Refused) -> Refusal:
        """The service's refusal for a domain refusal: its words, code and data kept."""
        return cls(str(e), e.code, template=e.template, params=e.params, nested=e.nested)


def refusing(
    template: str, code: RefusalCode = RefusalCode.PATHWAY_RULE, **params: object
) -> Refusal:
    """A service's refusal whose words a catalogue translates, as `models.errors.refused`
    keeps them (`make messages` extracts every `refusing("…")`)."""
    return Refusal.of(refused(template, code, **params))


class Unreachable(Exception):
    """Temporal or the case store could not be reached, or the case does not exist."""


def _ignore(_message: str) -> None:
    pass


@dataclass
class Session:
    """Who acts, and where: the one argument every service takes.

    `actor` is the identity the interface vouches for (the CLI: `--actor` or the login; the
    console: the signed-in user). The client and the store are opened on first use.
    `warn` receives problems that do not stop the request (an audit entry that could not be
    written); the CLI prints them.
    """

    actor: str
    settings: Settings = field(default_factory=get_settings)
    client: Client | None = None
    store: CaseStore | None = None
    warn: Callable[[str], None] = _ignore

    async def temporal(self) -> Client:
        """The Temporal client (the product's data converter), or `Unreachable`."""
        if self.client is None:
            from cellpath import connection

            try:
                target = connection.temporal_target()
                converter = connection.data_converter(self.settings)
            except ValueError as e:  # a bad envconfig profile or key ring: say which
                raise Unreachable(f"configuration: {e}") from None
            try:
                self.client = await connection.connect(converter=converter)
            except Exception as e:  # connection errors come in many types: "not reachable"
                raise Unreachable(f"cannot reach Temporal at {target.describe()}: {e}") from None
        return self.client

    def case_store(self) -> CaseStore:
        """The case store, or `Unreachable`."""
        if self.store is None:
            try:
                self.store = CaseStore.from_url(self.settings.database_url)
            except Exception as e:  # driver errors come in many types: "not reachable"
                raise Unreachable(f"cannot open the case store: {e}") from None
        return self.store
