"""The Alembic revisions build exactly the models' schema, on PostgreSQL and SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import cellpath.store.tables  # noqa: F401  (the tables)
from cellpath.store import CaseStore, CaseStoreNotMigrated, migrations
from tests.support import create_database, drop_database, postgres_admin_url

ROOT = Path(__file__).resolve().parents[2]


def differences(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    return diff


def alembic(url: str, *args: str) -> None:
    """The `alembic` command line, as an operator runs it from the repository root."""
    subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=os.environ | {"CELLPATH_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


@pytest.fixture
def empty_postgres() -> str:
    admin = postgres_admin_url()
    url = create_database(admin, "cellpath_migrate")
    yield url
    drop_database(admin, url)


def test_alembic_upgrade_head_on_empty_postgres_equals_the_models(empty_postgres):
    with pytest.raises(CaseStoreNotMigrated, match="run `cellpath migrate`"):
        CaseStore.from_url(empty_postgres)  # not migrated yet: refused, naming the fix
    alembic(empty_postgres, "upgrade", "head")
    assert differences(empty_postgres) == []
    assert migrations.current(sa.create_engine(empty_postgres)) == migrations.head()
    CaseStore.from_url(empty_postgres)  # now accepted
    alembic(empty_postgres, "downgrade", "base")  # and the revision reverts cleanly
    assert sa.inspect(sa.create_engine(empty_postgres)).get_table_names() == ["alembic_version"]


def test_sqlite_is_migrated_on_first_use_and_equals_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    CaseStore.from_url(url)
    assert differences(url) == []


def test_a_store_created_before_migrations_is_refused_with_the_fix(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    SQLModel.metadata.create_all(engine)  # how stores were made before Alembic
    with pytest.raises(CaseStoreNotMigrated, match=r"delete \.cellpath/"):
        CaseStore.from_url(url)
