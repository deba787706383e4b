"""``baton trace KEY``: an order (any correlation or business key) across instances and the bus,
as ``GET /api/v1/trace`` answers it: one line per step or event, oldest first (``--json``: the
whole document)."""

from __future__ import annotations

import json

import click

from engine import Engine, InvalidRequest

from .cli_admin import current_settings


@click.command("trace")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the trace document as JSON.")
def trace(key: str, as_json: bool) -> None:
    """Instances and bus events that carried KEY, on one timeline."""
    engine = Engine(current_settings())
    try:
        found = engine.trace(key)
    except InvalidRequest as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for i in found["instances"]:
        click.echo(f"instance {i['id']} {i['definition']['key']} v{i['definition']['version']} {i['status']}")
    for t in found["timeline"]:
        if t["type"] == "activity":
            click.echo(f"{t['at']}  {t['instance_id'][:8]} {t['element_id']} {t['event']}")
        else:
            resumed = f" -> {t['outcome']} {t['instance_id'] or ''}".rstrip() if t["kind"] == "consumed" else ""
            click.echo(f"{t['at']}  bus {t['kind']} {t['event']} from {t['source'] or '?'}{resumed}")
    if not found["timeline"]:
        click.echo(f"nothing carried {key}")
