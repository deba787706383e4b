"""The ``baton`` command: the composition root that wires engine, adapters and web together.

JSON output (``--json``, ``start --wait``) is stable; tools read it. Exit codes: 0 ok, 1 refused
or failed (the reason on stderr), 2 ``--wait`` timed out.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from engine import BatonError, DeploymentError, Engine, Settings

from .cli_admin import current_settings, db, history

ENDED = {"completed", "cancelled", "terminated", "compensated"}


def _settings() -> Settings:
    return Settings.from_env()


def _engine() -> Engine:
    from adapters.broker import CeleryNotifier
    from adapters.endpoints import call_in_process
    from adapters.tasks import create_celery

    settings = current_settings()
    return Engine(settings, notifier=CeleryNotifier(create_celery(settings)), in_process=call_in_process)


def _fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


class _Baton(click.Group):
    """Every refusal the engine raises ends the command the same way: its message, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BatonError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)


@click.group(cls=_Baton)
def main() -> None:
    """Baton: deploy BPMN diagrams and orchestrate services with them."""


def collect_files(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(list(path.rglob("*.bpmn")) + list(path.rglob("*.dmn"))):
                files.append((str(found), found.read_bytes()))
        elif path.is_file():
            files.append((str(path), path.read_bytes()))
        else:
            _fail(f"{raw}: no such file or folder")
    return files


@main.command()
@click.argument("paths", nargs=-1, required=True)
def deploy(paths: tuple[str, ...]) -> None:
    """Deploy BPMN/DMN files (or every such file in folders) together, all or nothing."""
    files = collect_files(paths)
    if not files:
        _fail("no .bpmn or .dmn files found")
    try:
        results = _engine().deploy(files)
    except DeploymentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    for result in results:
        click.echo(result.describe())


def _parse_vars(pairs: tuple[str, ...], raw_json: str | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except ValueError as exc:
            _fail(f"--vars is not JSON: {exc}")
        if not isinstance(loaded, dict):
            _fail("--vars must be a JSON object")
        variables.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            _fail(f"--var {pair!r}: write NAME=VALUE")
        try:
            variables[name] = json.loads(value)
        except ValueError:
            variables[name] = value
    return variables


@main.command()
@click.argument("key")
@click.option("--var", "pairs", multiple=True, help="NAME=VALUE (VALUE read as JSON when it parses).")
@click.option("--vars", "raw_json", help="A JSON object of variables.")
@click.option("--business-key")
@click.option("--version", type=int, help="Start this version instead of the latest.")
@click.option("--wait", type=float, help="Wait up to SECONDS until the instance is no longer running.")
def start(key: str, pairs: tuple[str, ...], raw_json: str | None, business_key: str | None,
          version: int | None, wait: float | None) -> None:
    """Start an instance; print its id (or, with --wait, its document)."""
    engine = _engine()
    instance_id = engine.start(key, _parse_vars(pairs, raw_json), business_key=business_key, version=version)
    if wait is None:
        click.echo(instance_id)
        return
    deadline = time.monotonic() + wait
    while True:
        doc = engine.get_instance(instance_id)
        if doc["status"] != "running":
            _print_json(doc)
            return
        if time.monotonic() >= deadline:
            _print_json(doc)
            sys.exit(2)
        time.sleep(0.1)


@main.command()
@click.option("--status")
@click.option("--definition")
@click.option("--business-key")
@click.option("--limit", type=int, default=50)
@click.option("--json", "as_json", is_flag=True)
def instances(status: str | None, definition: str | None, business_key: str | None, limit: int,
              as_json: bool) -> None:
    """List instances, newest first."""
    page = _engine().list_instances(status=status, definition=definition, business_key=business_key, limit=limit)
    if as_json:
        _print_json(page)
        return
    for item in page["items"]:
        d = item["definition"]
        click.echo(f"{item['id']}  {item['status']:<10} {d['key']} v{d['version']}  {item['business_key'] or ''}")


@main.command()
@click.argument("instance_id")
@click.option("--json", "as_json", is_flag=True)
def show(instance_id: str, as_json: bool) -> None:
    """Show an instance: status, variables, history, jobs, incidents."""
    engine = _engine()
    doc = engine.get_instance(instance_id)
    doc["compensation"] = engine.get_compensation(instance_id)
    if as_json:
        _print_json(doc)
        return
    d = doc["definition"]
    click.echo(f"{doc['id']}  {doc['status']}  {d['key']} v{d['version']}  {doc['business_key'] or ''}")
    click.echo("variables: " + json.dumps(doc["variables"]))
    for h in doc["history"]:
        click.echo(f"  {h['at']}  {h['event']:<10} {h['element_id']}")
    for i in doc["incidents"]:
        state = "resolved" if i["resolved_at"] else "OPEN"
        click.echo(f"  incident {i['id']} [{state}] {i['message']}")


@main.group()
def task() -> None:
    """User and manual tasks."""


@task.command("complete")
@click.argument("instance_id")
@click.argument("element_id")
@click.option("--vars", "raw_json")
def task_complete(instance_id: str, element_id: str, raw_json: str | None) -> None:
    """Complete the waiting user/manual task ELEMENT_ID of INSTANCE_ID."""
    status = _engine().complete_user_task(instance_id, element_id, _parse_vars((), raw_json))
    click.echo(status)


@main.group()
def incident() -> None:
    """Incidents."""


@incident.command("retry")
@click.argument("incident_id")
def incident_retry(incident_id: str) -> None:
    """Resolve the incident and run its job again."""
    status = _engine().retry_incident(incident_id)
    click.echo(status)


@main.command()
@click.argument("name")
@click.option("--correlate", "pairs", multiple=True, help="KEY=VALUE a waiting instance must match.")
@click.option("--vars", "raw_json", help="A JSON object of variables the message carries.")
@click.option("--business-key")
@click.option("--message-id", help="Makes the publish idempotent.")
@click.option("--ttl", type=float, help="Seconds to keep the message if nothing waits for it yet.")
def message(name: str, pairs: tuple[str, ...], raw_json: str | None, business_key: str | None,
            message_id: str | None, ttl: float | None) -> None:
    """Publish message NAME: resume the one instance waiting for it, or start one."""
    result = _engine().correlate(name, correlation=_parse_vars(pairs, None),
                                 variables=_parse_vars((), raw_json), business_key=business_key,
                                 message_id=message_id, ttl_seconds=ttl)
    _print_json(result)


@main.command()
@click.argument("name")
@click.option("--vars", "raw_json", help="A JSON object of variables the signal carries.")
def signal(name: str, raw_json: str | None) -> None:
    """Broadcast signal NAME to every instance waiting for it (and start processes it starts)."""
    result = _engine().broadcast_signal(name, _parse_vars((), raw_json))
    _print_json(result)


@main.command()
@click.argument("instance_id")
def suspend(instance_id: str) -> None:
    """Hold an instance: none of its jobs run until `baton resume`."""
    click.echo(_engine().suspend(instance_id))


@main.command()
@click.argument("instance_id")
def resume(instance_id: str) -> None:
    """Let a suspended instance run again."""
    click.echo(_engine().resume(instance_id))


@main.command()
@click.argument("instance_id")
@click.option("--reason")
def cancel(instance_id: str, reason: str | None) -> None:
    """Cancel a running or waiting instance."""
    status = _engine().cancel(instance_id, reason)
    click.echo(status)


@main.command()
@click.option("--host")
@click.option("--port", type=int)
@click.option("--processes", type=int, help="Worker processes (default BATON_WEB_PROCESSES: one per core).")
@click.option("--threads", type=int, help="Threads per process (default BATON_WEB_THREADS).")
def serve(host: str | None, port: int | None, processes: int | None, threads: int | None) -> None:
    """Serve the UI and the API with gunicorn (a production WSGI server)."""
    from .serve import serve_forever

    settings = current_settings()
    serve_forever(settings, host or settings.host, port or settings.port, threads or settings.web_threads,
                  processes or settings.web_processes)


@main.command()
@click.option("--concurrency", type=int)
@click.option("--beat/--no-beat", default=True, help="Also run the periodic relay (default: yes).")
@click.option("--loglevel", default="INFO")
def worker(concurrency: int | None, beat: bool, loglevel: str) -> None:
    """Run a Celery worker that executes service jobs.

    Exits 0 after a requested stop (SIGTERM: the jobs in hand are finished first), non-zero when
    the worker could not start or lost its beat: run it under a supervisor that restarts it
    (``baton run`` does; docs/deployment.md shows systemd and containers)."""
    import logging
    import os

    from adapters.tasks import create_celery, worker_exit_code

    settings = current_settings()
    app = create_celery(settings)
    # A node name of its own: Celery's default, celery@<host>, is the same for every worker of a
    # machine, and on RabbitMQ each node's control queue is exclusive, so a second worker (or one
    # restarted while its predecessor's connection lingers) died at start with RESOURCE_LOCKED.
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency or settings.worker_concurrency}",
            "--queues=baton,baton.relay", "--without-gossip", "--without-mingle",
            f"--hostname=baton-{os.getpid()}@%h"]
    if beat:
        argv.append("--beat")
    code = 1  # anything but a clean return is a failure
    try:
        app.worker_main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        code = worker_exit_code(code)
        # Leave at once: after a pool process was killed, billiard's exit handler can wait forever
        # for a queue lock that process held, and a worker that never exits is never restarted.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@main.command()
@click.option("--check", is_flag=True, help="Read BATON_BUS_ROUTES, print the bindings and exit.")
@click.option("--loglevel", default="INFO")
def bus(check: bool, loglevel: str) -> None:
    """Consume domain events from the bus (BATON_BUS_URL) and correlate them (BATON_BUS_ROUTES)."""
    import logging
    import signal

    from adapters.bus import BusConsumer
    from adapters.bus_routes import BusRoutes

    settings = _settings()
    if not settings.bus_routes:
        _fail("BATON_BUS_ROUTES is not set: name the TOML file of bus routes (see processes/bus_routes.toml)")
    routes = BusRoutes.load(settings.bus_routes)
    if check:
        for route in routes.routes:
            keys = ", ".join(f"{k}={p}" for k, p in route.correlate.items()) or "no correlation keys"
            kind = f" (event type {route.event_type})" if route.event_type else ""
            click.echo(f"{route.routing_key}{kind} -> message {route.message} [{keys}]")
        for out in routes.outbound.values():
            click.echo(f"message {out.message} -> publishes with routing key {out.routing_key}")
        for watch in routes.watches:
            keys = ", ".join(f"{k}={p}" for k, p in watch.correlate.items())
            click.echo(f"{watch.routing_key} -> watched on {routes.watch_queue}, recorded for traces [{keys}]")
        click.echo(f"queue {routes.queue} on exchange {settings.bus_exchange}; "
                   f"dead letters: {routes.dead_letter or 'logged and dropped'}")
        return
    if not settings.bus_url:
        _fail("BATON_BUS_URL is not set: give the bus, amqp://... or redis://...")
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    consumer = BusConsumer(_engine(), routes)

    def stop(*_: object) -> None:
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    consumer.run()



@main.command("run")
@click.option("--services/--no-services", default=True, help="Also start the demo endpoint services.")
def run_all(services: bool) -> None:
    """Everything on one machine: migrate, deploy processes/, web + worker + demo services."""
    from .devrun import run_everything

    run_everything(_settings(), with_services=services)


from .cli_changes import add_incident_commands, change  # noqa: E402  (baton change ..., baton incident show|note|retries)
from .cli_instances import bulk, search  # noqa: E402  (baton search ..., baton bulk ACTION IDS)
from .cli_trace import trace  # noqa: E402  (baton trace KEY)
from .cli_users import token, user  # noqa: E402  (baton user ..., baton token ...)

main.add_command(db)  # baton db upgrade
main.add_command(history)  # baton history prune
main.add_command(user)
main.add_command(token)
main.add_command(trace)
main.add_command(search)
main.add_command(bulk)
main.add_command(change)  # baton change variables|modify|restart|migrate (web/cli_changes.py)
add_incident_commands(incident)

if __name__ == "__main__":
    main()
