"""The hosts' programs: a private PostgreSQL and Redis, ``baton serve``, ``baton worker``, the demo
services, each started with ``ip netns exec`` in its host's namespace; and a client side for the
test: threads that live in the client host's namespace.

Every wait is bounded and fails with what it last saw; every process is started in its own
process group and stopped by its pid (and, at the very end, whatever is left in our namespaces is
killed by :meth:`netns.Network.destroy`).
"""

from __future__ import annotations

import glob
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import ROOT

from .netns import Network, enter_netns, run

T = TypeVar("T")


def postgres_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else ""


def missing_programs() -> str:
    """'' when PostgreSQL's server programs, redis-server and runuser are here; else what is not."""
    missing = []
    if not postgres_bindir():
        missing.append("/usr/lib/postgresql/*/bin/initdb")
    for program in ("redis-server", "runuser"):
        if subprocess.run(["sh", "-c", f"command -v {program}"], capture_output=True).returncode:
            missing.append(program)
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        missing.append("the postgres OS user")
    return ", ".join(missing)


class Proc:
    """One program in one host's namespace, its own process group, its output in ``logs``."""

    def __init__(self, net: Network, host: str, name: str, argv: list[str], logs: Path,
                 env: dict[str, str] | None = None):
        self.name = name
        self.log_path = logs / f"{name}.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(["ip", "netns", "exec", net.ns(host), *argv], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def assert_alive(self) -> None:
        code = self.proc.poll()
        assert code is None, f"{self.name} exited {code}:\n{self.log()}"

    def stop(self, grace: float = 8) -> None:
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.3,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value: Any = probe()
        except Exception as exc:  # not up yet: keep the reason for the message
            value = exc
        if not isinstance(value, Exception) and done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {value!r}"[:3000])
        time.sleep(interval)


# -- the database host ----------------------------------------------------------------------------

#: seconds PostgreSQL lets a transaction sit waiting for its client (see :class:`Postgres`)
IDLE_IN_TRANSACTION_TIMEOUT = 15


class Postgres:
    """A private cluster: initdb into ``workdir``, run as the ``postgres`` OS user, listening on
    ``address`` inside the db host's namespace only (and a socket in ``workdir``)."""

    def __init__(self, net: Network, host: str, address: str, subnet: str, workdir: Path):
        self.net, self.host, self.address = net, host, address
        self.bindir = postgres_bindir()
        self.data = workdir / "pgdata"
        self.sockets = workdir / "pgsock"
        self.log_path = workdir / "postgres.log"
        user = pwd.getpwnam("postgres")
        for folder in (self.data, self.sockets):
            folder.mkdir()
            os.chown(folder, user.pw_uid, user.pw_gid)
        self.log_path.touch()
        os.chown(self.log_path, user.pw_uid, user.pw_gid)
        self._as_postgres(f"{self.bindir}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8", "--locale", "C")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '{address}'\nport = 5432\n"
                       f"unix_socket_directories = '{self.sockets}'\n"
                       "max_connections = 200\nshared_buffers = 64MB\n"
                       # Production settings for clients on other machines (docs/SCALING.md): a client
                       # that vanished mid-transaction (a cut cable sends no FIN) keeps its row locks
                       # until the server gives up on it. Without these, PostgreSQL waits for the OS's
                       # TCP keepalive (2 h), and a cut worker that held the relay's lease row blocks
                       # every other relay, so no job is ever taken over while it is away.
                       f"idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}s'\n"
                       "tcp_keepalives_idle = 5\ntcp_keepalives_interval = 2\ntcp_keepalives_count = 3\n"
                       # a test database: durability is not what is measured here
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {subnet} trust\n")
        self._as_postgres(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-l", str(self.log_path),
                          "-w", "-t", "60", "start", netns=True, timeout=90)
        self._as_postgres(f"{self.bindir}/createdb", "-h", str(self.sockets), "-U", "postgres", "baton")
        self.url = f"postgresql+psycopg://postgres@{address}:5432/baton"
        self.dsn = f"postgresql://postgres@{address}:5432/baton"

    def _as_postgres(self, *argv: str, netns: bool = False, timeout: float = 60) -> None:
        prefix = ["ip", "netns", "exec", self.net.ns(self.host)] if netns else []
        run(*prefix, "runuser", "-u", "postgres", "--", *argv, timeout=timeout)

    def stop(self) -> None:
        run("runuser", "-u", "postgres", "--", f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate",
            "-w", "-t", "20", "stop", check=False, timeout=30)


def redis_argv(address: str, workdir: Path) -> list[str]:
    return ["redis-server", "--bind", address, "--port", "6379", "--save", "", "--appendonly", "no",
            "--protected-mode", "no", "--dir", str(workdir), "--daemonize", "no"]


# -- Baton's processes ---------------------------------------------------------------------------------

def baton_env(home: Path, **settings: str) -> dict[str, str]:
    """The caller's environment without any BATON_* of its own, plus ``settings`` (BATON_<NAME>)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BATON_") and k not in ("PROMETHEUS_MULTIPROC_DIR", "http_proxy", "https_proxy",
                                                       "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")}
    env.update({"BATON_HOME": str(home), "PYTHONUNBUFFERED": "1", "NO_PROXY": "*"})
    env.update({f"BATON_{name.upper()}": value for name, value in settings.items()})
    home.mkdir(parents=True, exist_ok=True)
    return env


def baton_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "web.cli", *args]


def baton_in(net: Network, host: str, env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run one ``baton`` command on ``host``; its stdout (fails the test unless it exits 0)."""
    done = subprocess.run(["ip", "netns", "exec", net.ns(host), *baton_argv(*args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"baton {' '.join(args)} on {host} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


# -- the client host: threads in its namespace ------------------------------------------------------------

class Client:
    """A pool of threads inside the client host's namespace, each with its own HTTP client.

    ``call(fn, *args)`` runs ``fn(http, *args)`` on one of them, ``map`` many at once."""

    def __init__(self, namespace: str, threads: int = 8):
        self.namespace = namespace
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="mh-client", initializer=self._enter)

    def _enter(self) -> None:
        enter_netns(self.namespace)
        self._local.http = httpx.Client(timeout=15, trust_env=False)

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._local.http, *args)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 60) -> T:
        return self.pool.submit(self._run, fn, *args).result(timeout=timeout)

    def map(self, fn: Callable[..., T], items: list[Any], timeout: float = 120) -> list[T]:
        futures = [self.pool.submit(self._run, fn, item) for item in items]
        return [f.result(timeout=timeout) for f in futures]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def tcp_open(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=1):
        return True


class JobSampler(threading.Thread):
    """From the client host, reads the running jobs and their lease holders every ``interval``
    seconds (the database clears ``lock_owner`` when a job settles, so the owners are only seen
    live). Also keeps, per owner pid, which host it runs on."""

    def __init__(self, namespace: str, dsn: str, net: Network, worker_hosts: list[str], interval: float = 0.25):
        super().__init__(name="mh-sampler", daemon=True)
        self.namespace, self.dsn, self.net, self.interval = namespace, dsn, net, interval
        self.worker_hosts = worker_hosts
        self.samples: list[tuple[float, dict[str, tuple[str, int]]]] = []  # (time, {job: (host, attempts)})
        self.hosts_of: dict[int, str] = {}
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self._ns_inode = {h: os.stat(f"/var/run/netns/{net.ns(h)}").st_ino for h in worker_hosts}

    def host_of(self, owner: str | None) -> str:
        if not owner:
            return "?"
        pid = int(owner.rsplit(":", 1)[1])
        if pid not in self.hosts_of:
            host = "?"
            with suppress(OSError):
                inode = os.stat(f"/proc/{pid}/ns/net").st_ino
                host = next((h for h, i in self._ns_inode.items() if i == inode), "?")
            self.hosts_of[pid] = host
        return self.hosts_of[pid]

    def run(self) -> None:
        import psycopg

        try:
            enter_netns(self.namespace)
            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                while not self.stop_event.is_set():
                    rows = conn.execute("SELECT id, lock_owner, attempts FROM job WHERE status = 'running'").fetchall()
                    self.samples.append((time.monotonic(),
                                         {job: (self.host_of(owner), attempts) for job, owner, attempts in rows}))
                    self.stop_event.wait(self.interval)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def latest(self) -> dict[str, tuple[str, int]]:
        return self.samples[-1][1] if self.samples else {}

    def held_by(self, host: str, since: float = 0.0) -> set[str]:
        """Jobs seen running under ``host`` in samples taken at or after ``since``."""
        return {job for t, jobs in self.samples if t >= since for job, (h, _) in jobs.items() if h == host}

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)
