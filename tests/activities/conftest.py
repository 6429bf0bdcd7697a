"""Case-store fixtures on SQLite and on a real PostgreSQL server.

PostgreSQL is `CELLPATH_TEST_POSTGRES_URL` (default: the CI machines' server,
`postgresql+psycopg://postgres@127.0.0.1:5432/test`, trust auth). The session creates its own
database there, migrates it with the package's Alembic revisions, and drops it at the end;
each test starts from empty tables. Where no server answers, the PostgreSQL variants are
skipped with a message saying so (never silently passed).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from cellpath.store import CaseStore, migrations
from tests.support import create_database, drop_database, postgres_admin_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session."""
    admin = postgres_admin_url()
    url = create_database(admin, "cellpath_test")
    migrations.upgrade(url)
    yield url
    drop_database(admin, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_store(request: pytest.FixtureRequest, tmp_path) -> CaseStore:
    """An empty case store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return CaseStore.from_url(f"sqlite:///{tmp_path / 'store.db'}")
    url = request.getfixturevalue("postgres_url")
    store = CaseStore.from_url(url)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE patients, cases, journeys, notification_outbox, audit_log, staff, "
                "dead_letters, site_resources, slot_bookings, slot_seats, journey_schedule, "
                "scheduled_outbox "
                "RESTART IDENTITY CASCADE"
            )
        )
    return store
