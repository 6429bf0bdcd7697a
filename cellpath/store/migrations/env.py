"""Alembic environment: the SQLModel metadata of `models.store`, the URL from the caller.

The database is the connection in `config.attributes["connection"]`, else the URL in
`config.attributes["url"]` (both set by `migrations`), else, for the `alembic` command line,
`CELLPATH_DATABASE_URL` through cellpath's settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import cellpath.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from cellpath.store import make_engine

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds tables when a revision needs it.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:  # the caller's connection (CaseStore on its own engine)
    run(given)
else:
    url = config.attributes.get("url")
    if url is None:
        from cellpath.config import get_settings

        url = get_settings().database_url
    engine = make_engine(url)
    with engine.begin() as connection:
        run(connection)
    engine.dispose()
