"""Alembic environment and versions: the only way Baton's schema is created or changed."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` up to ``revision`` (creating it if empty)."""
    from alembic import command
    from alembic.config import Config

    if database_url.startswith("sqlite:///"):
        Path(database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, revision)
