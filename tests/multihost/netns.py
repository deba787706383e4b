"""A private network of namespaces: one bridge, one veth pair per host, addresses of our own.

Every namespace, link and process made here carries the name prefix ``bmh-`` so a run can remove
what a crashed run left (:func:`remove_leftovers`). The bridge lives in a namespace of its own
(``bmh-sw``), so nothing is added to the machine's own network namespace and no traffic can
leave the private subnet. Cutting a host off is ``ip link set down`` on its port of the bridge:
its packets go nowhere, its TCP connections stay open and silent, as with a pulled cable.

Threads of the test process can enter a namespace (:func:`enter_netns`): a socket opened by such
a thread belongs to that namespace for its whole life.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

PREFIX = "bmh-"
SWITCH = PREFIX + "sw"
LOCK_PATH = "/tmp/baton-multihost.lock"
CLONE_NEWNET = 0x40000000


class NetnsUnavailable(Exception):
    """This machine (or user) cannot make network namespaces."""


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def can_make_namespaces() -> str:
    """'' when namespaces, veth and a bridge can be made here; else the reason."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = PREFIX + "probe"
    try:
        run("ip", "netns", "add", probe)
        run("ip", "-n", probe, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", probe, "link", "add", "bmhva", "type", "veth", "peer", "name", "bmhvb")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot make a namespace with a bridge and veth: {exc}"
    finally:
        run("ip", "netns", "del", probe, check=False)
    return ""


@contextmanager
def exclusive(timeout: float = 240) -> Iterator[None]:
    """One multihost run at a time on this machine (the names are fixed); wait for another's end."""
    with open(LOCK_PATH, "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another multihost run holds {LOCK_PATH}") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def our_namespaces() -> list[str]:
    listed = run("ip", "netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(PREFIX)]


def kill_namespace_processes(name: str) -> list[int]:
    """SIGKILL every process inside namespace ``name`` (all of them are this test's); their pids."""
    pids = [int(p) for p in run("ip", "netns", "pids", name, check=False).stdout.split()]
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def remove_leftovers() -> list[str]:
    """Remove the namespaces (with their processes and links) a previous run left; their names.

    Call it holding :func:`exclusive`, so a run in progress is never mistaken for leftovers."""
    removed = []
    for name in our_namespaces():
        kill_namespace_processes(name)
        run("ip", "netns", "del", name, check=False)
        removed.append(name)
    for entry in os.listdir("/tmp"):
        if entry.startswith("baton-multihost-"):
            shutil.rmtree(os.path.join("/tmp", entry), ignore_errors=True)
    return removed


def enter_netns(name: str) -> None:
    """Move the calling thread into namespace ``name`` (only this thread: setns is per thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


@dataclass
class Network:
    """``hosts`` maps a short host name to its address in ``subnet`` (a /24 of ours)."""

    hosts: dict[str, str]
    prefix_len: int = 24
    made: list[str] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return PREFIX + host

    def port(self, host: str) -> str:
        return "p-" + host  # the bridge's end of the host's cable, inside the switch namespace

    def create(self) -> None:
        run("ip", "netns", "add", SWITCH)
        self.made.append(SWITCH)
        run("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", SWITCH, "link", "set", "br0", "up")
        for host, address in self.hosts.items():
            ns = self.ns(host)
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", SWITCH, "link", "add", self.port(host), "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            run("ip", "-n", SWITCH, "link", "set", self.port(host), "master", "br0", "up")
            run("ip", "-n", ns, "addr", "add", f"{address}/{self.prefix_len}", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")

    def cut(self, host: str) -> None:
        """Pull the host's cable: its port on the bridge goes down."""
        run("ip", "-n", SWITCH, "link", "set", self.port(host), "down")

    def restore(self, host: str) -> None:
        run("ip", "-n", SWITCH, "link", "set", self.port(host), "up")

    def pids(self, host: str) -> set[int]:
        return {int(p) for p in run("ip", "netns", "pids", self.ns(host), check=False).stdout.split()}

    def destroy(self) -> None:
        """Kill whatever still runs in our namespaces, then delete them (their veths go with them)."""
        for ns in reversed(self.made):
            kill_namespace_processes(ns)
        for ns in reversed(self.made):
            run("ip", "netns", "del", ns, check=False)
        self.made.clear()
