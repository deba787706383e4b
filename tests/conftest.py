"""Shared fixtures. Real services only: PostgreSQL, Redis and RabbitMQ on 127.0.0.1.

With ``CI=true`` a test whose service is missing fails; on a developer machine it is skipped.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PROCESSES = ROOT / "processes"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

POSTGRES_ADMIN_URL = os.environ.get("BATON_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BATON_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("BATON_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")


def need_service(name: str, host: str, port: int) -> None:
    """Skip (developer machine) or fail (CI) when a service does not answer."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
        if IN_CI:
            pytest.fail(message + "; CI needs it", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    name = f"baton_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own: claimed with a lock key (other test runs and benchmarks on the
    machine use the same server), emptied before and after."""
    need_service("Redis", "127.0.0.1", 6379)
    import redis

    claimed = None
    for db in random.sample(range(1, 16), 15):
        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}")
        if client.set("baton:test-claim", "1", nx=True, ex=1800):
            claimed = (db, client)
            break
        client.close()
    if claimed is None:
        pytest.fail("every Redis database 1..15 is claimed by another test run")
    db, client = claimed
    client.flushdb()
    client.set("baton:test-claim", "1", ex=1800)
    try:
        yield f"redis://127.0.0.1:6379/{db}"
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    vhost = f"baton_t_{uuid.uuid4().hex[:8]}"
    import subprocess

    made = subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True).returncode == 0
    if made:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       capture_output=True, check=True)
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
    else:
        yield RABBITMQ_URL


@pytest.fixture(autouse=True)
def _fresh_log_context() -> Iterator[None]:
    """Each test starts with no ids bound: ``Engine.claim_job`` binds the claimed job's ids (and
    trace) for the rest of the thread, as a worker wants; a later test in the same process would
    otherwise start its instances inside an earlier test's trace."""
    from engine import logs

    token = logs.replace()
    try:
        yield
    finally:
        logs.restore(token)


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo endpoint services on a free loopback port; the endpoint map points at them."""
    from processes.services.server import start_in_thread

    server, base_url = start_in_thread("127.0.0.1", 0)
    monkeypatch.setenv("BATON_DEMO_SERVICES_URL", base_url)
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: embedded SQLite in tmp_path unless a URL is given."""
    from engine import Settings

    def make(**changes: object) -> Settings:
        base = {"home": tmp_path / "home", "endpoints": PROCESSES / "endpoints.toml",
                "retry_base_seconds": 0.05, "relay_interval_seconds": 0.5, "relay_stale_seconds": 2.0}
        base.update(changes)
        return Settings(**base)  # type: ignore[arg-type]

    return make


@pytest.fixture
def inline_engine_factory():  # type: ignore[no-untyped-def]
    """Makes embedded engines whose jobs run in this process (``engine.driver.drain()``) and whose
    in-process endpoints run inside the advance, as ``baton`` wires them; closed afterwards."""
    import migrations
    from adapters.endpoints import call_in_process
    from adapters.runner import InlineDriver
    from engine import Engine

    made = []

    def make(settings):  # type: ignore[no-untyped-def]
        migrations.upgrade(settings.database_url)
        driver = InlineDriver()
        engine = Engine(settings, notifier=driver.notify, in_process=call_in_process)
        driver.engine = engine
        engine.driver = driver  # type: ignore[attr-defined]
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def inline_engine(settings_factory, services, inline_engine_factory):  # type: ignore[no-untyped-def]
    """An embedded engine whose jobs run in this process right away (``engine.driver.drain()``)."""
    return inline_engine_factory(settings_factory())


@pytest.fixture
def bare_engine(settings_factory):  # type: ignore[no-untyped-def]
    """An embedded engine with no endpoint map (diagrams without service calls); the jobs it
    does make (timers, calls, publishes) run in this process with ``engine.driver.drain()``."""
    import migrations
    from adapters.runner import InlineDriver
    from engine import EndpointMap, Engine

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, notifier=driver.notify, endpoints=EndpointMap())
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    yield engine
    engine.close()


def baton_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Run the ``baton`` CLI in a subprocess (the public door), returning the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=timeout)
