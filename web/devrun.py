"""``baton run`` (what ``make run`` calls): the whole of Baton on one machine, stopped by Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from engine import BatonError, DeploymentError, Engine, Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_PORT = 8010


def _local_secret_key(home: Path) -> str:
    """The session key of this machine's `make run`, kept in BATON_HOME (owner-only)."""
    path = home / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def run_everything(settings: Settings, *, with_services: bool = True) -> None:
    import migrations

    env = dict(os.environ)
    if settings.endpoints is None and (ROOT / "processes" / "endpoints.toml").exists():
        settings = settings.replace(endpoints=ROOT / "processes" / "endpoints.toml")
        env["BATON_ENDPOINTS"] = str(settings.endpoints)
    if settings.bus_url and settings.bus_routes is None and (ROOT / "processes" / "bus_routes.toml").exists():
        settings = settings.replace(bus_routes=ROOT / "processes" / "bus_routes.toml")
        env["BATON_BUS_ROUTES"] = str(settings.bus_routes)
    settings.home.mkdir(parents=True, exist_ok=True)
    env.setdefault("BATON_HOME", str(settings.home.resolve()))

    if not os.environ.get("BATON_SECRET_KEY"):  # sessions survive a restart of `make run`
        env["BATON_SECRET_KEY"] = _local_secret_key(settings.home)

    migrations.upgrade(settings.database_url)
    engine = Engine(settings)
    files = [(str(p.relative_to(ROOT)), p.read_bytes()) for p in sorted((ROOT / "processes").glob("*.bpmn"))]
    try:
        generated_password = engine.ensure_admin(settings.admin_password or None)
        for result in engine.deploy(files, name="bundled processes"):
            click.echo(result.describe())
    except BatonError as exc:  # a refused diagram, or a BATON_ADMIN_PASSWORD too short
        click.echo(f"BATON_ADMIN_PASSWORD: {exc}" if not isinstance(exc, DeploymentError) else str(exc), err=True)
        sys.exit(1)
    finally:
        engine.close()

    python = sys.executable
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(name: str, args: list[str]) -> None:
        children.append((name, subprocess.Popen([python, *args], env=env, cwd=ROOT)))

    if with_services:
        spawn("demo services", ["-m", "processes.services", "--host", "127.0.0.1", "--port", str(DEMO_PORT),
                                "--quiet"])
    spawn("worker", ["-m", "web.cli", "worker", "--loglevel=WARNING"])
    if settings.bus_url:  # the bus bridge, and the demo services that react to order_hybrid's events
        spawn("bus", ["-m", "web.cli", "bus", "--loglevel=WARNING"])
        if with_services:
            spawn("demo consumers", ["-m", "processes.services.consumers", "--quiet"])
    spawn("web", ["-m", "web.cli", "serve"])

    click.echo("")
    click.echo(f"Baton is running: http://{settings.host}:{settings.port}/  (API: /api/v1)")
    if with_services:
        click.echo(f"Demo endpoint services: http://127.0.0.1:{DEMO_PORT}/_control/calls")
    click.echo(f"Data: {settings.database_url}   Broker: {settings.broker_url}")
    if settings.bus_url:
        click.echo(f"Bus: exchange {settings.bus_exchange}, routes {settings.bus_routes}; try: "
                   ".venv/bin/baton start order_hybrid --var amount=42 --wait 10")
    click.echo("Try: .venv/bin/baton start order_fulfillment --var amount=42 --business-key order-1 --wait 10")
    if generated_password:
        click.echo(f"Log in as admin with the password {generated_password}  (shown once; "
                   "change it with: .venv/bin/baton user password admin)")
    elif settings.admin_password:
        click.echo("Log in as admin (password: BATON_ADMIN_PASSWORD) or as another user you created.")
    click.echo("API token: .venv/bin/baton token create --role operator")
    click.echo("Ctrl-C stops everything.")

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    click.echo(f"{name} exited with {child.returncode}; stopping everything", err=True)
                    stopping = True
            time.sleep(0.3)
    finally:
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for _, child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
