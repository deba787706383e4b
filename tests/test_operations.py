"""The probes an orchestrator asks, and what callers see while the database is away.

The outage test runs its own PostgreSQL (initdb + pg_ctl in a temporary folder, on a free port)
and stops and starts THAT server; the machine's shared one is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest

from tests.auth_helpers import login, make_token
from tests.conftest import IN_CI, PROCESSES, need_service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """One PostgreSQL server of this test's own. PostgreSQL refuses to run as root: as root the
    commands run as the ``postgres`` user."""

    def __init__(self, bin_dir: Path, folder: Path):
        self.bin_dir, self.data = bin_dir, folder / "data"
        self.port = _free_port()
        self.log = folder / "server.log"
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    need_service("PostgreSQL", "127.0.0.1", 5432)  # the machine has PostgreSQL: so has CI
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found or (os.geteuid() == 0 and shutil.which("runuser") is None):
        message = "PostgreSQL's initdb/pg_ctl are not in /usr/lib/postgresql/*/bin"
        pytest.fail(message, pytrace=False) if IN_CI else pytest.skip(message)
    folder = Path(f"/tmp/baton-pg-{os.getpid()}-{_free_port()}")  # short path: socket names are limited
    server = PrivatePostgres(Path(found[-1]).parent, folder)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _app(settings):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Engine
    from web import create_app

    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=lambda tickets: None)
    return create_app(settings, engine=engine), engine


def test_healthz_answers_without_the_database_and_the_old_health_route_still_does(settings_factory):
    app, engine = _app(settings_factory())
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "alive"}
    assert client.get("/api/v1/health").json == {"ok": True}
    engine.close()


def test_readyz_is_unready_while_the_database_is_away_and_ready_once_it_is_back(private_postgres, settings_factory):
    app, engine = _app(settings_factory(database_url=private_postgres.url))
    engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + make_token(engine, "operator")
    browser = app.test_client()
    login(browser, "viewer")

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ready"
    assert {name: check["ok"] for name, check in ready.json["checks"].items()} == {
        "database": True, "schema": True, "broker": True}
    assert ready.json["checks"]["schema"]["revision"] == ready.json["checks"]["schema"]["head"]

    private_postgres.stop()
    try:
        unready = client.get("/readyz")
        assert unready.status_code == 503 and unready.headers["Retry-After"].isdigit()
        assert unready.json["checks"]["database"]["ok"] is False and unready.json["checks"]["broker"]["ok"] is True
        assert client.get("/healthz").status_code == 200  # alive all along: nobody should restart us

        for call in (client.get("/api/v1/process-instances"), client.get("/api/v1/process-definitions"),
                     client.post("/api/v1/process-definitions/order_fulfillment/start", json={})):
            assert call.status_code == 503, call.data
            assert call.mimetype == "application/problem+json" and call.headers["Retry-After"].isdigit()
            assert call.json["status"] == 503 and "database" in call.json["detail"]
        page = browser.get("/instances")
        assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
        assert b"database" in page.data and page.mimetype == "text/html"
    finally:
        private_postgres.start()

    deadline = time.monotonic() + 20
    while (back := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert back.status_code == 200, back.json
    started = client.post("/api/v1/process-definitions/order_fulfillment/start", json={"variables": {"amount": 5}})
    assert started.status_code == 201, started.json
    assert browser.get("/instances").status_code == 200
    engine.close()


def test_readyz_is_unready_when_the_schema_is_not_at_head(settings_factory):
    import migrations

    settings = settings_factory()
    app, engine = _app(settings)
    migrations.downgrade(settings.database_url, "-1")
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    schema = answer.json["checks"]["schema"]
    assert schema["ok"] is False and schema["revision"] != schema["head"] and "baton db upgrade" in schema["detail"]
    engine.close()


def test_readyz_is_unready_when_the_broker_is_unreachable(settings_factory):
    closed = _free_port()  # nothing listens there
    app, engine = _app(settings_factory(broker_url=f"redis://127.0.0.1:{closed}/0"))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()
    checks = answer.json["checks"]
    assert checks["database"]["ok"] and checks["schema"]["ok"] and checks["broker"]["ok"] is False
    assert checks["broker"]["detail"]
    engine.close()


def test_readyz_is_ready_with_a_reachable_redis_broker(settings_factory, redis_url):
    app, engine = _app(settings_factory(broker_url=redis_url))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200, answer.json
    assert answer.json["checks"]["broker"] == {"ok": True}
    engine.close()
