"""The processes a chaos run starts, each in its own process group, and the private servers it
restarts: a PostgreSQL (initdb + pg_ctl in a temporary folder), a RabbitMQ node and a Redis, each
on a free loopback port. The machine's shared services are never touched: a test that restarts a
database or a broker restarts its own.

PostgreSQL and RabbitMQ refuse to run as root: as root their commands run as the ``postgres`` and
``rabbitmq`` users (``runuser -u USER --``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from glob import glob
from pathlib import Path

from tests.conftest import ROOT


class ChaosSetupError(RuntimeError):
    """A server or process of the run could not be started (not a finding about Baton)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() >= deadline:
            raise ChaosSetupError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")
        time.sleep(0.2)


def group_pids(pgid: int) -> list[int]:
    """Live processes of one process group (read from /proc: a worker's pool children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class Proc:
    """One process started in a session of its own (so SIGKILL reaches its whole group), with
    stdout and stderr in one log file per start."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        full_env = dict(os.environ)
        full_env.update(env)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group; no goodbye."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def stop(self, grace: float = 5) -> None:
        """SIGTERM, then SIGKILL whatever is left of the group."""
        if self.alive():
            with suppress(ProcessLookupError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=grace)
        self.kill()


def python_proc(name: str, args: list[str], env: dict[str, str], log: Path) -> Proc:
    return Proc(name, [sys.executable, *args], env, log)


def _as_user(user: str, command: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else command


def _own(folder: Path, user: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in [folder, *folder.rglob("*")]:
            shutil.chown(path, user)


def postgres_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found or (os.geteuid() == 0 and shutil.which("runuser") is None):
        return None
    return Path(found[-1]).parent


class PrivatePostgres:
    """A PostgreSQL server of the run's own, restarted with ``pg_ctl stop -m fast`` + ``start``."""

    def __init__(self, folder: Path):
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise ChaosSetupError("PostgreSQL's initdb/pg_ctl are not in /usr/lib/postgresql/*/bin (or no runuser)")
        self.bin_dir, self.data, self.log = bin_dir, folder / "data", folder / "server.log"
        self.port = free_port()
        _own(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(_as_user("postgres", [str(self.bin_dir / tool), *args]), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode:
            raise ChaosSetupError(f"{tool} {' '.join(args)} exited {done.returncode}: {done.stderr or done.stdout}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "-o",
                  f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def close(self) -> None:
        """Stop it if it runs; as a last resort SIGKILL the postmaster named in its pid file."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        with suppress(ChaosSetupError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=40)
        if pid_file.exists():
            with suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


class PrivateRabbitMQ:
    """A RabbitMQ node of the run's own: its own node name, ports, Mnesia and log folders, config
    (one loopback listener, no plugins). Restarted by SIGTERM to its Erlang VM (a clean stop: the
    durable queues and persistent messages survive it) and a new ``rabbitmq-server -detached``."""

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, folder: Path):
        if not Path(self.SERVER).exists():
            raise ChaosSetupError(f"{self.SERVER} is missing: no private RabbitMQ node")
        self.folder, self.port, self.dist_port = folder, free_port(), free_port()
        self.node = f"baton-chaos-{os.getpid()}-{self.port}@localhost"
        (folder / "mnesia").mkdir(parents=True, exist_ok=True)
        (folder / "log").mkdir(parents=True, exist_ok=True)
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                                              "loopback_users = none\n")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq-env.conf").write_text("")
        self.pid_file = folder / "rabbitmq.pid"
        _own(folder, "rabbitmq")

    def _env(self) -> dict[str, str]:
        f = self.folder
        return {
            "HOME": "/var/lib/rabbitmq" if os.geteuid() == 0 else str(Path.home()),
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(f / "mnesia"), "RABBITMQ_LOG_BASE": str(f / "log"),
            "RABBITMQ_CONFIG_FILE": str(f / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(f / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(f / "rabbitmq-env.conf"), "RABBITMQ_PID_FILE": str(self.pid_file),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self, timeout: float = 150) -> None:
        env = [f"{k}={v}" for k, v in self._env().items()]
        done = subprocess.run(_as_user("rabbitmq", ["env", *env, self.SERVER, "-detached"]), cwd=self.folder,
                              capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise ChaosSetupError(f"rabbitmq-server -detached exited {done.returncode}: {done.stderr}")
        wait_port(self.port, f"RabbitMQ node {self.node}", timeout)

    def _pids(self) -> list[int]:
        """The node's Erlang VM: its pid file, else the beam process whose command names our node."""
        with suppress(OSError, ValueError):
            return [int(self.pid_file.read_text().strip())]
        pids = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            with suppress(OSError):
                if self.node.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
        return pids

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        pids = self._pids()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        if any(_alive(p) for p in pids):
            raise ChaosSetupError(f"RabbitMQ node {self.node} (pids {pids}) did not stop within {timeout:.0f}s")
        with suppress(FileNotFoundError):
            self.pid_file.unlink()

    def close(self) -> None:
        with suppress(ChaosSetupError):
            self.stop(timeout=20)
        with suppress(ChaosSetupError):
            self.stop(signal.SIGKILL, timeout=10)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"


class PrivateRedis:
    """A Redis of the run's own with no persistence: a restart loses every queued message."""

    def __init__(self, folder: Path):
        if shutil.which("redis-server") is None:
            raise ChaosSetupError("redis-server is not installed")
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None
        self.generation = 0

    def start(self) -> None:
        self.generation += 1
        self.proc = Proc("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(self.folder)],
                         {}, self.folder / f"redis-{self.generation}.log")
        wait_port(self.port, "Redis", 30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def close(self) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return False
