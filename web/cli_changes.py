"""``baton change ...``: an operator changes an instance from the machine itself.

Like ``baton cancel``, these use the database directly (whoever runs them holds
``BATON_DATABASE_URL``); history names the change's author ``cli:<login name>``::

    baton change variables ID --set '{"approved": false}' --remove draft --reason "typo in the form"
    baton change modify ID --cancel review_application --start-before record_rejection
    baton change restart ID --at review_application
    baton change migrate user_registration --from 1 --to 2 --map review=review_v2 [--instance ID ...] [--plan-only]
    baton incident show ID          # every attempt's request and answer, as JSON
    baton incident note ID "inventory was down, OPS-7"
    baton incident retries ID 3     # resolve it, run the call again with 3 attempts

Each prints the instance's status (``migrate``: the plan and a result per instance, as JSON) and
exits 1 with the reason when the engine refuses.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from engine import Engine, InvalidRequest

from .cli_admin import current_settings


def _engine() -> Engine:
    from adapters.broker import CeleryNotifier
    from adapters.endpoints import call_in_process
    from adapters.tasks import create_celery

    settings = current_settings()
    return Engine(settings, notifier=CeleryNotifier(create_celery(settings)), in_process=call_in_process)


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _json_object(raw: str | None, what: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f'{what} must be a JSON object, like {{"approved": true}}')
    return value


@click.group()
def change() -> None:
    """Change an instance: its variables, its tokens, its version; restart an ended one."""


@change.command("variables")
@click.argument("instance_id")
@click.option("--set", "values", help="Variables to set, a JSON object.")
@click.option("--remove", multiple=True, help="A variable to remove (repeat for more).")
@click.option("--reason", help="Why (kept in the history).")
def change_variables(instance_id: str, values: str | None, remove: tuple[str, ...], reason: str | None) -> None:
    """Set and remove variables of a running or suspended instance."""
    click.echo(_engine().edit_variables(instance_id, _json_object(values, "--set"), list(remove), by=_who(),
                                        reason=reason))


@change.command("modify")
@click.argument("instance_id")
@click.option("--cancel", "cancel_at", multiple=True, help="Cancel the token(s) at this element.")
@click.option("--start-before", multiple=True, help="Start a token before this element.")
@click.option("--start-after", multiple=True, help="Start a token after this element (its one outgoing flow).")
@click.option("--reason", help="Why (kept in the history).")
def change_modify(instance_id: str, cancel_at: tuple[str, ...], start_before: tuple[str, ...],
                  start_after: tuple[str, ...], reason: str | None) -> None:
    """Move tokens in one step: cancels first, then the starts, all or none."""
    instructions = ([{"type": "cancel", "element": e} for e in cancel_at]
                    + [{"type": "start_before", "element": e} for e in start_before]
                    + [{"type": "start_after", "element": e} for e in start_after])
    click.echo(_engine().modify_instance(instance_id, instructions, by=_who(), reason=reason))


@change.command("restart")
@click.argument("instance_id")
@click.option("--at", "elements", multiple=True, required=True, help="Start a token before this element.")
@click.option("--set", "values", help="Variables to set on top of the last ones, a JSON object.")
@click.option("--reason", help="Why (kept in the history).")
def change_restart(instance_id: str, elements: tuple[str, ...], values: str | None, reason: str | None) -> None:
    """Start an ended (completed, compensated, cancelled) instance again with its last variables."""
    click.echo(_engine().restart_instance(instance_id, list(elements), by=_who(), reason=reason,
                                          variables=_json_object(values, "--set")))


@change.command("migrate")
@click.argument("key")
@click.option("--from", "source", type=int, required=True, help="The version the instances are of.")
@click.option("--to", "target", type=int, help="The version to migrate to (default: the latest).")
@click.option("--map", "pairs", multiple=True, help="SOURCE=TARGET element ids (SOURCE= unmaps one).")
@click.option("--instance", "instances", multiple=True, help="An instance to migrate (default: every running one).")
@click.option("--plan-only", is_flag=True, help="Check and print the plan; migrate nothing.")
@click.option("--reason", help="Why (kept in the history).")
def change_migrate(key: str, source: int, target: int | None, pairs: tuple[str, ...], instances: tuple[str, ...],
                   plan_only: bool, reason: str | None) -> None:
    """Migrate instances of KEY from one version to another with a checked plan."""
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        left, sep, right = pair.partition("=")
        if not sep or not left:
            raise InvalidRequest(f"--map {pair!r}: write SOURCE=TARGET (or SOURCE= to unmap)")
        mapping[left] = right or None
    engine = _engine()
    plan = engine.migration_plan(key, source, target, mapping)
    if plan_only:
        click.echo(json.dumps(plan, indent=2))
        return
    result = engine.migrate_instances(plan, list(instances) or None, by=_who(), reason=reason)
    click.echo(json.dumps(result, indent=2))
    if result["refused"]:
        raise SystemExit(1)


def add_incident_commands(incident: click.Group) -> None:
    """``baton incident show|note|retries``, on the CLI's existing ``incident`` group."""

    @incident.command("show")
    @click.argument("incident_id")
    def incident_show(incident_id: str) -> None:
        """The incident with its job and every attempt (request, answer or exception), as JSON."""
        click.echo(json.dumps(_engine().incident_detail(incident_id), indent=2))

    @incident.command("note")
    @click.argument("incident_id")
    @click.argument("text")
    def incident_note(incident_id: str, text: str) -> None:
        """Keep a note on the incident for the next person (an empty text clears it)."""
        _engine().note_incident(incident_id, text, by=_who())
        click.echo("noted")

    @incident.command("retries")
    @click.argument("incident_id")
    @click.argument("retries", type=int)
    def incident_retries(incident_id: str, retries: int) -> None:
        """Resolve the incident and run its call again with RETRIES attempts."""
        click.echo(_engine().set_incident_retries(incident_id, retries, by=_who()))
