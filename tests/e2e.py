"""Helpers for the end-to-end tests: the ``baton`` CLI, worker processes, the demo services.

Everything goes through the public doors: ``baton`` commands in subprocesses (``baton_cli``),
workers started as ``python -m web.cli worker`` in their own process group (so a test can
SIGKILL a whole worker, pool children included), and the demo services' HTTP control API.
Every wait here is bounded and fails with what it last saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import PROCESSES, ROOT, baton_cli

T = TypeVar("T")

#: What a worker's stderr must never contain in a healthy run (lower case).
BAD_STDERR = ("traceback", "deadlock", "could not serialize")


def baton_env(home: Path, services_url: str, *, database_url: str = "", broker_url: str = "",
              endpoints: Path = PROCESSES / "endpoints.toml") -> dict[str, str]:
    """The environment of every ``baton`` process of one test.

    An empty ``database_url``/``broker_url`` means the embedded defaults (SQLite and the
    embedded broker under ``home``): the empty value also hides any URL set in the caller's
    environment, since Baton treats an empty ``BATON_*`` variable as unset.
    """
    return {
        "BATON_HOME": str(home),
        "BATON_DATABASE_URL": database_url,
        "BATON_BROKER_URL": broker_url,
        "BATON_ENDPOINTS": str(endpoints),
        "BATON_DEMO_SERVICES_URL": services_url,
        "BATON_RETRY_BASE_SECONDS": "0.2",
        "BATON_RELAY_INTERVAL_SECONDS": "1",
        "BATON_RELAY_STALE_SECONDS": "3",
        "BATON_JOB_LEASE_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }


# -- the CLI ------------------------------------------------------------------------------------

def cli(env: dict[str, str], *args: str, timeout: float = 60, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``baton ARGS``; with ``ok`` (default) fail the test unless it exits 0."""
    done = baton_cli(*args, env=env, timeout=timeout)
    if ok:
        assert done.returncode == 0, (f"baton {' '.join(args)} exited {done.returncode}\n"
                                      f"stdout: {done.stdout}\nstderr: {done.stderr}")
    return done


def cli_json(env: dict[str, str], *args: str, timeout: float = 60) -> dict[str, Any]:
    done = cli(env, *args, timeout=timeout)
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise AssertionError(f"baton {' '.join(args)} did not print JSON: {done.stdout!r}") from exc


def show(env: dict[str, str], instance_id: str) -> dict[str, Any]:
    return cli_json(env, "show", instance_id, "--json")


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.3,
             what: str = "condition", describe: Callable[[T], str] = repr) -> T:
    """Call ``probe`` until ``done(value)``; fail after ``timeout`` seconds with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {describe(value)}")
        time.sleep(interval)


def wait_status(env: dict[str, str], instance_id: str, status: str, *, timeout: float) -> dict[str, Any]:
    """Poll ``baton show ID --json`` until the instance has ``status``; return the document.

    Fails at once (not at the timeout) when the instance ended in another status.
    """
    ended = {"completed", "cancelled", "terminated", "compensated"}

    def done(doc: dict[str, Any]) -> bool:
        if doc["status"] != status and doc["status"] in ended:
            raise AssertionError(f"instance {instance_id} ended {doc['status']}, not {status}: {summary(doc)}")
        return doc["status"] == status

    return wait_for(lambda: show(env, instance_id), done, timeout=timeout, interval=0.2,
                    what=f"instance {instance_id} to be {status}", describe=summary)


def summary(doc: dict[str, Any]) -> str:
    """A short, readable account of an instance document for assertion messages."""
    history = [f"{h['element_id']}:{h['event']}" for h in doc.get("history", [])]
    jobs = [f"{j['element_id']}:{j['status']}x{j['attempts']} {j['last_error'] or ''}".strip()
            for j in doc.get("jobs", [])]
    return f"status={doc.get('status')} history={history} jobs={jobs} incidents={doc.get('incidents')}"


def events(doc: dict[str, Any], element_id: str) -> list[str]:
    return [h["event"] for h in doc["history"] if h["element_id"] == element_id]


# -- workers ------------------------------------------------------------------------------------

class Worker:
    """One ``baton worker`` process group (the Celery main process, its pool and its beat)."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str, concurrency: int = 2):
        self.name = name
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        full_env = dict(os.environ)
        full_env.update(env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "worker", "--concurrency", str(concurrency),
                 "--loglevel", os.environ.get("E2E_WORKER_LOGLEVEL", "WARNING")],
                cwd=ROOT, env=full_env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def bad_lines(self) -> list[str]:
        """stderr lines that show an error (a traceback, a deadlock, a serialization failure)."""
        return [line for line in self.stderr().splitlines() if any(bad in line.lower() for bad in BAD_STDERR)]

    def assert_alive(self) -> None:
        code = self.proc.poll()
        assert code is None, f"worker {self.name} exited {code}; stderr:\n{self.stderr()[-3000:]}"

    def _signal_group(self, sig: int) -> None:
        with suppress(ProcessLookupError):  # the group is the worker's own session (start_new_session)
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group: main process, pool children, beat. No goodbye."""
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"worker {self.name} survived SIGKILL") from exc

    def stop(self, grace: float = 10) -> None:
        """Warm shutdown (SIGTERM to the main process), then SIGKILL whatever is left of the group."""
        if self.proc.poll() is None:
            with suppress(ProcessLookupError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)  # pool children that outlived their parent
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


@contextmanager
def worker_pool(env: dict[str, str], log_dir: Path, *names: str, concurrency: int = 2) -> Iterator[list[Worker]]:
    """Start one worker per name; stop every worker started here, whatever happens.

    The list is live: a test may append workers it starts later, they are stopped too.
    """
    started: list[Worker] = []
    try:
        for name in names:
            started.append(Worker(env, log_dir, name, concurrency))
        yield started
    finally:
        for worker in started:
            worker.stop()


def wait_workers_ready(env: dict[str, str], count: int, *, timeout: float = 30) -> None:
    """Wait until ``count`` workers answer a broadcast ping (``celery inspect ping``).

    Only for brokers with broadcast (Redis, RabbitMQ); a message sent before a worker is up
    waits in the queue anyway, so this matters only when a test needs every worker consuming.
    """
    from adapters.tasks import create_celery
    from engine import Settings

    app = create_celery(Settings.from_env(env))
    try:
        wait_for(lambda: app.control.ping(timeout=0.5), lambda replies: len(replies) >= count,
                 timeout=timeout, interval=0.2, what=f"{count} worker(s) to answer a ping")
    finally:
        app.close()


# -- the demo services --------------------------------------------------------------------------

class Services:
    """The demo services' control API (processes/README.md)."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10, trust_env=False)

    def fail(self, path: str, mode: str, **options: Any) -> None:
        answer = self.http.post("/_control/fail", json={"path": path, "mode": mode, **options})
        assert answer.status_code == 200, answer.text

    def reset(self) -> None:
        assert self.http.post("/_control/reset").status_code == 200

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return self.http.get("/_control/calls").json()

    def calls(self, path: str | None = None, instance_id: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.snapshot()["calls"]
                if (path is None or c["path"] == path) and (instance_id is None or c["instance_id"] == instance_id)]

    def effects(self, path: str | None = None, instance_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.snapshot()["effects"]
                if (path is None or e["path"] == path) and (instance_id is None or e["instance_id"] == instance_id)]

    def close(self) -> None:
        self.http.close()
