"""Alembic migrations of the case store, shipped inside the package.

`upgrade(url)` is what `cellpath migrate` and the compose file's one-shot `migrate` job run;
`alembic upgrade head` (with `alembic.ini` at the repository root) does the same for
developers. The case store's schema is defined once, by the SQLModel tables in
`models/store.py`; each revision here moves a database from one version of them to the next,
and `tests/activities/test_migrations.py` checks that head equals the models exactly.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent


def config(url: str | None = None, connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for a URL or an open connection (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["url"] = url
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent: a current database is left be)."""
    command.upgrade(config(url), revision)


def upgrade_engine(engine: sa.Engine) -> None:
    """Bring the database behind `engine` to head, in one transaction."""
    with engine.begin() as connection:
        command.upgrade(config(connection=connection), "head")


def head() -> str:
    """The newest revision in this package."""
    return ScriptDirectory.from_config(config()).get_current_head() or ""


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
