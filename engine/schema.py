"""Is the database's schema the one this Baton was written for?

Baton refuses to run on a schema that is behind (or ahead of) its own migrations instead of
failing later on a missing column in the middle of an instance. The check reads Alembic's
``alembic_version`` row and compares it with the chain of revisions the caller knows (the CLI
passes ``migrations.revisions()``: the engine does not import the migrations package, which
imports the engine's models)::

    from engine import check_schema
    check_schema(settings.database_url, migrations.revisions())   # raises SchemaOutdated

``baton db upgrade`` is the remedy it names; ``baton run`` upgrades its embedded database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, inspect, pool, text

from .errors import ConfigurationError

UPGRADE_COMMAND = "baton db upgrade"


class SchemaOutdated(ConfigurationError):
    """The database's schema revision is not the head of this Baton's migrations."""

    def __init__(self, message: str, *, current: str | None, head: str):
        super().__init__(message)
        self.current = current
        self.head = head


def database_revision(database_url: str) -> str | None:
    """The Alembic revision the database is at; ``None`` when it has no schema yet."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        # Connecting would create an empty file for a database that was never made.
        if path and path != ":memory:" and not Path(path).exists():
            return None
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def check_schema(database_url: str, revisions: Sequence[str]) -> str:
    """Return the database's revision if it is ``revisions[-1]`` (the head); else raise
    :class:`SchemaOutdated` saying where it is, what is needed and which command to run."""
    head = revisions[-1]
    current = database_revision(database_url)
    if current == head:
        return current
    if current is None:
        message = f"the database has no Baton schema yet, Baton needs {head}: run `{UPGRADE_COMMAND}`"
    elif current in revisions:
        message = f"the database schema is at {current}, Baton needs {head}: run `{UPGRADE_COMMAND}`"
    else:
        message = (f"the database schema is at {current}, which this Baton does not know (it needs {head}): "
                   "it was migrated by a newer Baton; run that version")
    raise SchemaOutdated(message, current=current, head=head)
