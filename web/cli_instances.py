"""``baton search ...`` and ``baton bulk ...``: find instances the way the instance list does, and
act on many at once, each with its own result (the selection bar of the UI, on the machine).

``baton search 'trip*'`` (prefix), ``'*trip*'`` (contains), ``--element review --element-state
active``, ``--incident``; ``--ids`` prints only the ids, one a line, to feed ``baton bulk``::

    baton search 'order-2026*' --status waiting --ids | xargs baton bulk cancel --reason "withdrawn"

``baton bulk`` exits 1 when any instance was refused (each refusal is printed with its reason).
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from engine import Engine

from .cli_admin import current_settings

MATCHES = ("exact", "prefix", "contains")
ELEMENT_STATES = ("active", "incident", "completed", "cancelled")


def _engine() -> Engine:
    from adapters.broker import CeleryNotifier
    from adapters.endpoints import call_in_process
    from adapters.tasks import create_celery

    settings = current_settings()
    return Engine(settings, notifier=CeleryNotifier(create_celery(settings)), in_process=call_in_process)


@click.command()
@click.argument("business_key", required=False)
@click.option("--match", "key_match", type=click.Choice(MATCHES),
              help="default: as typed ('k*' prefix, '*k*' contains)")
@click.option("--definition", help="process key")
@click.option("--version", type=int)
@click.option("--status")
@click.option("--variable", help="a top-level variable; with --value")
@click.option("--value", default="")
@click.option("--value-match", type=click.Choice(MATCHES), default="exact")
@click.option("--element", help="an element id: instances with that element in --element-state")
@click.option("--element-state", type=click.Choice(ELEMENT_STATES), default="active")
@click.option("--incident/--no-incident", default=None, help="with / without an open incident")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--ids", "only_ids", is_flag=True, help="print the ids only, one a line")
@click.option("--json", "as_json", is_flag=True)
def search(business_key: str | None, key_match: str | None, definition: str | None, version: int | None,
           status: str | None, variable: str | None, value: str, value_match: str, element: str | None,
           element_state: str, incident: bool | None, limit: int, only_ids: bool, as_json: bool) -> None:
    """Instances matching every filter, newest first (as the UI's instance list)."""
    page = _engine().find_instances(
        business_key=business_key, key_match=key_match, definition=definition, version=version, status=status,
        variable=variable, value=value, value_match=value_match, element=element, element_state=element_state,
        incident=incident, limit=limit)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for item in page["items"]:
        if only_ids:
            click.echo(item["id"])
            continue
        d = item["definition"]
        click.echo(f"{item['id']}  {item['status']:<10} {d['key']} v{d['version']}  {item['business_key'] or ''}")
    if not only_ids:
        more = "+" if page["total_capped"] else ""
        click.echo(f"{page['total']}{more} match; {len(page['items'])} shown", err=True)


@click.command()
@click.argument("action", type=click.Choice(("cancel", "suspend", "resume", "retry", "migrate")))
@click.argument("instance_ids", nargs=-1)
@click.option("--reason", help="kept in each instance's history")
@click.option("--target-version", type=int, help="migrate: the version to move to (default: the latest)")
@click.option("--stdin", "from_stdin", is_flag=True, help="read more ids from standard input, one a line")
@click.option("--json", "as_json", is_flag=True)
def bulk(action: str, instance_ids: tuple[str, ...], reason: str | None, target_version: int | None,
         from_stdin: bool, as_json: bool) -> None:
    """ACTION each of INSTANCE_IDS (cancel, suspend, resume, retry its incidents, migrate)."""
    ids = list(instance_ids)
    if from_stdin:
        ids += [line.strip() for line in sys.stdin if line.strip()]
    results: list[dict[str, Any]] = _engine().act_on_instances(
        action, ids, reason=reason, by=f"cli:{getpass.getuser()}", target_version=target_version)
    if as_json:
        click.echo(json.dumps({"action": action, "results": results}, indent=2))
    else:
        for r in results:
            click.echo(f"{r['id']}  {'ok  ' + r['status'] if r['ok'] else 'refused: ' + r['error']}")
    refused = sum(1 for r in results if not r["ok"])
    click.echo(f"{action}: {len(results) - refused} done, {refused} refused", err=True)
    if refused:
        sys.exit(1)
