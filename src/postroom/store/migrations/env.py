"""Alembic environment: runs on the connection handed over by ``postroom.store.db.upgrade``,
or on ``POSTROOM_DATABASE_URL`` when Alembic is run by hand (``alembic -c ...``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from postroom.config import Settings
from postroom.store.db import create_db_engine
from postroom.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_db_engine(Settings.from_env().database_url)
    with engine.begin() as conn:
        _run(conn)
