"""Case-store fixtures on SQLite and on a real PostgreSQL server.

PostgreSQL is `CELLPATH_TEST_POSTGRES_URL` (default: the CI machines' server,
`postgresql+psycopg://postgres@127.0.0.1:5432/test`, trust auth). The session creates its own
database there, migrates it with the package's Alembic revisions, and drops it at the end;
each test starts from empty tables. Where no server answers, the PostgreSQL variants are
skipped with a message saying so (never silently passed).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cellpath.store import CaseStore, migrations

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("CELLPATH_TEST_POSTGRES_URL", DEFAULT_PG)


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database next to `admin_url`'s; returns its URL. Skips if unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.skip(
            f"PostgreSQL not reachable at {make_url(admin_url).render_as_string()} "
            f"({type(e.orig).__name__}); set CELLPATH_TEST_POSTGRES_URL to run these tests"
        )
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


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
                "dead_letters RESTART IDENTITY CASCADE"
            )
        )
    return store
