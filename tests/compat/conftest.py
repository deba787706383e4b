"""A real Baton (``baton serve`` and ``baton worker`` on 127.0.0.1, embedded SQLite and broker) and
Camunda 7's own external-task clients, pinned in this folder (``make compat-clients``).

The clients are installed by ``make test`` (the ``compat-clients`` target); run alone, the
``camunda_clients`` fixture installs them once when they are missing. In CI a client that cannot
be installed (no npm, no node) fails the tests, never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, PROCESSES, ROOT
from tests.e2e import Worker, baton_env

COMPAT = Path(__file__).resolve().parent
PYTHON_CLIENT = COMPAT / ".python"
JS_CLIENT = COMPAT / "node_modules" / "camunda-external-task-client-js"
WORKERS = COMPAT / "workers"
DIAGRAM = PROCESSES / "camunda7_invoice.bpmn"
ADMIN, OPERATOR, PASSWORD = "modeler-admin", "invoice-worker", "correct horse battery staple"


def _install() -> None:
    """What ``make compat-clients`` does, for a run of pytest alone."""
    subprocess.run(["make", "compat-clients"], cwd=ROOT, check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def camunda_clients() -> None:
    if not (PYTHON_CLIENT / "camunda").is_dir() or not JS_CLIENT.is_dir():
        if shutil.which("npm") is None or shutil.which("node") is None:
            message = "Camunda's JavaScript client needs node and npm (apt-get install nodejs npm)"
            if IN_CI:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        _install()
    assert (PYTHON_CLIENT / "camunda").is_dir() and JS_CLIENT.is_dir(), "make compat-clients did not install them"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Baton:
    """The running Baton of this session, and how to reach it."""

    base: str  # http://127.0.0.1:PORT
    env: dict[str, str]
    token: str  # an operator API token
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def engine_rest(self) -> str:
        return self.base + "/engine-rest"

    def http(self, user: str | None = None) -> httpx.Client:
        """A client of /engine-rest: Basic as ``user`` (the admin or the operator), else the token."""
        auth: Any = (user, PASSWORD) if user else None
        headers = {} if user else {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.engine_rest, auth=auth, headers=headers, timeout=30, trust_env=False)

    def instance(self, instance_id: str) -> dict[str, Any]:
        """Baton's own instance document (/api/v1), which keeps ended instances and their history."""
        answer = httpx.get(f"{self.base}/api/v1/process-instances/{instance_id}",
                           headers={"Authorization": f"Bearer {self.token}"}, timeout=30, trust_env=False)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, instance_id: str, done: Any, *, timeout: float = 30, what: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.instance(instance_id)
            if done(doc):
                return doc
            assert time.monotonic() < deadline, (
                f"instance {instance_id} did not reach {what or 'the expected state'} in {timeout} s: "
                f"{doc['status']}, {[(h['element_id'], h['event']) for h in doc.get('history', [])]}")
            time.sleep(0.2)

    def start(self, case: str, **variables: Any) -> str:
        """Start ``camunda7_invoice`` the Camunda way (typed variables, business key = case)."""
        typed = {"case": {"value": case, "type": "String"}}
        for name, value in variables.items():
            kind = "Integer" if isinstance(value, int) and not isinstance(value, bool) else "String"
            typed[name] = {"value": value, "type": kind}
        with self.http() as http:
            answer = http.post("/process-definition/key/camunda7_invoice/start",
                               json={"businessKey": case, "variables": typed})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    def worker(self, kind: str, worker_id: str, case: str, behaviour: str, *, lock_ms: int = 10_000,
               hold_ms: int = 1500, script: Path | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        """Start a worker process written with Camunda's ``python`` or ``js`` client; its log file."""
        log_file = self.logs / f"{worker_id}.jsonl"
        env = dict(os.environ, LOCK_MS=str(lock_ms), HOLD_MS=str(hold_ms), PYTHONUNBUFFERED="1")
        if kind == "python":
            env.update(PYTHONPATH=str(PYTHON_CLIENT), BATON_TOKEN=self.token)
            command = [sys.executable, str(script or WORKERS / "python_worker.py"), self.engine_rest, worker_id,
                       case, behaviour, str(log_file)]
        else:
            env.update(CAMUNDA_USER=OPERATOR, CAMUNDA_PASSWORD=PASSWORD)
            command = ["node", str(WORKERS / "js_worker.mjs"), self.engine_rest, worker_id, case, behaviour,
                       str(log_file)]
        with open(self.logs / f"{worker_id}.out", "wb") as out:
            proc = subprocess.Popen(command, cwd=COMPAT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.workers.append(proc)
        return proc, log_file

    def stop_workers(self) -> None:
        for proc in self.workers:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.workers.clear()


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_log(path: Path, done: Any, *, timeout: float = 30, what: str = "") -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = read_log(path)
        if done(lines):
            return lines
        assert time.monotonic() < deadline, f"{path.name}: no {what} in {timeout} s; it holds {lines}"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def baton(tmp_path_factory: pytest.TempPathFactory, camunda_clients: None) -> Iterator[Baton]:
    home = tmp_path_factory.mktemp("camunda7")
    logs = home / "logs"
    logs.mkdir()
    env = baton_env(home / "home", "http://127.0.0.1:9", endpoints=PROCESSES / "endpoints.toml")
    env.update(BATON_WEB_PROCESSES="1", BATON_WEB_THREADS="16", BATON_SECRET_KEY="compat-tests")
    # The database, users and token made in this process (four CLI runs cost seconds each on a busy machine).
    import migrations
    from engine import EndpointMap, Engine, Settings

    settings = Settings.from_env(env)
    migrations.upgrade(settings.database_url)
    setup = Engine(settings, endpoints=EndpointMap())
    try:
        setup.create_user(ADMIN, "admin", PASSWORD)
        setup.create_user(OPERATOR, "operator", PASSWORD)
        _, token = setup.create_token("operator", "compat")
        # deployed here too, so any test may start it alone (the Modeler's test deploys it again)
        setup.deploy([(DIAGRAM.name, DIAGRAM.read_bytes())], name="camunda7_invoice")
    finally:
        setup.close()
    port = _free_port()
    with open(logs / "serve.out", "wb") as out:
        serve = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                 cwd=ROOT, env=dict(os.environ, **env), stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    celery = Worker(env, logs, "celery", concurrency=1)  # the timer of the declined path is a Baton job
    running = Baton(f"http://127.0.0.1:{port}", env, token, logs)
    try:
        deadline = time.monotonic() + 60
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(running.base + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            assert serve.poll() is None, (logs / "serve.out").read_text()
            assert time.monotonic() < deadline, "baton serve did not come up in 60 s"
            time.sleep(0.2)
        yield running
    finally:
        running.stop_workers()
        celery.stop()
        with suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


@pytest.fixture
def workers(baton: Baton) -> Iterator[Baton]:
    """The session's Baton; the worker processes a test starts are killed when it ends."""
    try:
        yield baton
    finally:
        baton.stop_workers()
