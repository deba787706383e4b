"""Alembic environment and versions: the only way Baton's schema is created or changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent


def config(database_url: str) -> Config:
    """The Alembic configuration of these migrations, pointed at ``database_url``."""
    from alembic.config import Config

    if database_url.startswith("sqlite:///"):
        Path(database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    found = Config(str(HERE / "alembic.ini"))
    found.set_main_option("script_location", str(HERE))
    found.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return found


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` up to ``revision`` (creating it if empty)."""
    from alembic import command

    command.upgrade(config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database at ``database_url`` down to ``revision`` (``-1``: one step; ``base``: empty)."""
    from alembic import command

    command.downgrade(config(database_url), revision)


def revisions() -> list[str]:
    """Every revision id, oldest first; the last one is the head this code needs."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(HERE))
    return [found.revision for found in reversed(list(script.walk_revisions()))]
