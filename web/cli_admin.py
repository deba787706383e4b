"""``baton db ...`` and ``baton history ...``: the schema, and how long finished instances stay.

Kept apart from ``cli.py`` (the composition root, which registers these groups) because they
look after the database rather than run processes. :func:`current_settings` lives here too: it is
the schema check every other database command passes first, pointing at ``baton db upgrade``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from engine import Engine, Settings, check_schema, database_unavailable


def current_settings() -> Settings:
    """The settings, once the database's schema is known to be this Baton's (else exit 1 naming
    `baton db upgrade`): every command that uses the database comes through here, except
    `baton db` itself and `baton run`, which migrates its embedded database on its own."""
    import migrations

    settings = Settings.from_env()
    try:
        check_schema(settings.database_url, migrations.revisions())
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        raise click.ClickException(f"the database is not reachable ({type(exc).__name__}); "
                                   "check BATON_DATABASE_URL and try again") from exc
    return settings


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema at BATON_DATABASE_URL."""
    import migrations

    migrations.upgrade(Settings.from_env().database_url)
    click.echo("database is at the latest revision")


@click.group()
def history() -> None:
    """Finished instances and their history."""


@history.command("prune")
@click.option("--older-than", required=True, help="Age of the end: 90d, 12h, 30m or ISO 8601 (P90D).")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="Instances (call trees) per transaction.")
@click.option("--json", "as_json", is_flag=True)
def history_prune(older_than: str, dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Delete instances that ended (completed, compensated, cancelled) before the cut-off, with
    all their rows. Running, waiting, suspended and incident instances are never touched."""
    engine = Engine(current_settings())  # no notifier: pruning makes no jobs
    try:
        report = engine.prune_history(older_than, dry_run=dry_run, batch_size=batch_size)
    finally:
        engine.close()
    if as_json:
        _print_json(report)
        return
    verb = "would delete" if dry_run else "deleted"
    kinds = ", ".join(f"{key} {count}" for key, count in report["by_definition"].items())
    click.echo(f"{verb} {report['instances']} instances that ended before {report['cutoff']}"
               + (f": {kinds}" if kinds else ""))
    rows = ", ".join(f"{table} {count}" for table, count in report["rows"].items() if count)
    if rows:
        click.echo(f"  rows: {rows}")
    if report["kept"]:
        click.echo(f"  kept {report['kept']} call trees in which an instance has not ended")

