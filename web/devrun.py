"""``baton run`` (what ``make run`` calls): the whole of Baton on one machine, stopped by Ctrl-C."""

from __future__ import annotations

import contextlib
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

    supervisor = Supervisor(env, cwd=ROOT)
    if with_services:
        supervisor.spawn("demo services", ["-m", "processes.services", "--host", "127.0.0.1", "--port",
                                           str(DEMO_PORT), "--quiet"])
    supervisor.spawn("worker", ["-m", "web.cli", "worker", "--loglevel=WARNING"])
    if settings.bus_url:  # the bus bridge, and the demo services that react to order_hybrid's events
        supervisor.spawn("bus", ["-m", "web.cli", "bus", "--loglevel=WARNING"])
        if with_services:
            supervisor.spawn("demo consumers", ["-m", "processes.services.consumers", "--quiet"])
    supervisor.spawn("web", ["-m", "web.cli", "serve"])

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

    supervisor.run()


class Supervisor:
    """Runs ``baton run``'s processes and restarts one that exits, with a growing pause.

    Each child is the leader of its own process group, so a restart or a stop also ends what it
    left behind (a worker's pool processes), and Ctrl-C reaches only this process, which then
    asks each child to stop (SIGTERM: a worker finishes the jobs in hand) and kills what is left
    after ``grace`` seconds. The pause before a restart doubles from 1 s to 30 s and starts over
    once a child has run for 30 s, so a child that cannot start does not spin.
    """

    def __init__(self, env: dict[str, str], *, cwd: Path, grace: float = 15.0):
        self.env, self.cwd, self.grace = env, cwd, grace
        self.children: dict[str, _Child] = {}
        self.stopping = False

    def spawn(self, name: str, args: list[str]) -> None:
        self.children[name] = _Child(name, [sys.executable, *args])
        self.children[name].start(self.env, self.cwd)

    def run(self) -> None:
        def stop(*_: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not self.stopping:
                self.tend()
                time.sleep(0.3)
        finally:
            self.stop_all()

    def tend(self) -> None:
        """Restart the children that exited, once their pause is over."""
        now = time.monotonic()
        for child in self.children.values():
            code = child.proc.poll() if child.proc else None
            if child.proc is not None and code is not None:
                child.reap()  # what the child left behind in its group
                child.pause = 1.0 if now - child.started > 30 else min(30.0, child.pause * 2)
                child.restart_at = now + child.pause
                click.echo(f"{child.name} exited with {code}; restarting it in {child.pause:.0f} s", err=True)
                child.proc = None
            if child.proc is None and now >= child.restart_at:
                child.start(self.env, self.cwd)
                child.restarts += 1

    def stop_all(self) -> None:
        running = [c for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        for child in running:
            child.proc.terminate()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.grace
        for child in running:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                click.echo(f"{child.name} did not stop within {self.grace:.0f} s; killing it", err=True)
        for child in self.children.values():
            child.reap()


class _Child:
    def __init__(self, name: str, argv: list[str]):
        self.name, self.argv = name, argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = self.restart_at = 0.0
        self.pause = 0.5  # doubled before the first restart: 1 s
        self.restarts = 0

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(self.argv, env=env, cwd=cwd, start_new_session=True)
        self.started = time.monotonic()

    def reap(self) -> None:
        """SIGKILL the child's process group (its leftovers), and collect the child."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
