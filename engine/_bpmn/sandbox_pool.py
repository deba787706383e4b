"""Sandbox processes started ahead of need and reused: the parent side of ``sandbox_child.py``.

A :class:`SandboxPool` keeps ``size`` child processes ready. Starting one is done by a
background thread and waited for with its own generous timeout (``start_timeout``); the
evaluation's wall-clock limit (``time_limit``) starts only once a *ready* child has the whole
request, so a busy machine's slow start never turns a script into a timeout.

- A child killed for overrunning, or found dead, is replaced in the background.
- A child that dies during a request (killed from outside, or crashed by the script) is given
  the request once more on another child; a second death is the script's fault.
- A start that fails is tried again (``start_attempts``, with backoff); when it still fails the
  caller gets :class:`engine.errors.SandboxUnavailable` (an infrastructure failure, retried by
  jobs), never a :class:`ScriptError`.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException

from .. import metrics
from ..errors import SandboxUnavailable

TIME_LIMIT_SECONDS = 2.0
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
START_TIMEOUT_SECONDS = 30.0
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a script's variables; the instance row holds them too
CHILD_SCRIPT = Path(__file__).with_name("sandbox_child.py")


class ScriptError(SpiffWorkflowException):
    """A script or expression broke a rule, failed, ran too long or used too much memory.

    A SpiffWorkflow exception: an expression SpiffWorkflow evaluates through
    ``script_engine.environment`` (message correlations, a completion condition), which nobody
    wraps in a ``WorkflowTaskException``, still becomes an incident in ``instances._move``
    instead of escaping the advance (and its job being sent again and again)."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(message if line is None else f"line {line}: {message}")

    def __str__(self) -> str:  # SpiffWorkflow's adds ". " even without notes
        return ". ".join([Exception.__str__(self), *self.notes])


class _Gone(Exception):
    """The child's pipe closed: it died (or was killed) before answering."""


class _TooLarge(Exception):
    """A reply bigger than ``MAX_REPLY_BYTES``: not read (it would sit in this process's memory)."""


class _Late(Exception):
    """No answer before the deadline."""


def child_command(memory_limit: int) -> list[str]:
    # -I: no PYTHON* variables, no user site, no script folder on sys.path; the child imports
    # only the standard library and RestrictedPython from this interpreter's site-packages.
    return [sys.executable, "-I", "-X", "utf8", str(CHILD_SCRIPT), str(memory_limit)]


def _millis(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class SandboxChild:
    """One started child process and its two pipes. Used by one thread at a time."""

    def __init__(self, command: list[str]):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LD_LIBRARY_PATH", "SYSTEMROOT")}
        # A session of its own: a terminal's Ctrl-C goes to Baton, which then closes the pipe.
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd="/", start_new_session=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._out = self.process.stdin.fileno()
        self._in = self.process.stdout.fileno()
        os.set_blocking(self._out, False)
        os.set_blocking(self._in, False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        reply = self._receive(time.monotonic() + timeout)
        if not reply.get("ready"):
            raise _Gone(f"unexpected first message {reply!r}")

    def ask(self, payload: bytes, time_limit: float, write_timeout: float) -> dict[str, Any]:
        """Send one request, then wait ``time_limit`` seconds, counted from the moment the whole
        request was handed over, for its reply."""
        self._send(struct.pack(">I", len(payload)) + payload, time.monotonic() + write_timeout)
        return self._receive(time.monotonic() + time_limit)

    def kill(self) -> None:
        """End the child and reap it (SIGKILL: it may be in an endless loop)."""
        try:
            self.process.kill()
            self.process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.abandon()

    def abandon(self) -> None:
        """Close our ends of the pipes without touching the process (after a fork: not ours)."""
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        poller = select.poll()
        poller.register(self._out, select.POLLOUT)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:  # a child that takes no input is broken, whatever the script
                raise _Gone("the sandbox did not take the request")
            events = poller.poll(_millis(remaining))
            if any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events):
                raise _Gone("the sandbox closed its input")
            if events:
                try:
                    view = view[os.write(self._out, view):]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError) as exc:
                    raise _Gone(str(exc)) from exc

    def _read(self, size: int, deadline: float, poller: Any) -> bytes:
        chunks: list[bytes] = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Late("no answer in time")
            if not poller.poll(_millis(remaining)):
                continue
            try:
                chunk = os.read(self._in, min(size, 1 << 20))
            except BlockingIOError:
                continue
            except OSError as exc:
                raise _Gone(str(exc)) from exc
            if not chunk:
                raise _Gone("the sandbox closed its output")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _receive(self, deadline: float) -> dict[str, Any]:
        poller = select.poll()
        poller.register(self._in, select.POLLIN)
        size = struct.unpack(">I", self._read(4, deadline, poller))[0]
        if size > MAX_REPLY_BYTES:
            raise _TooLarge(size)
        return json.loads(self._read(size, deadline, poller))


class SandboxPool:
    """``size`` ready sandbox children, shared by the threads of one process."""

    def __init__(self, size: int = 2, *, time_limit: float = TIME_LIMIT_SECONDS,
                 memory_limit: int = MEMORY_LIMIT_BYTES, start_timeout: float = START_TIMEOUT_SECONDS,
                 start_attempts: int = 3, retry_delay: float = 0.5, command: list[str] | None = None):
        self.size = max(1, size)
        self.time_limit = time_limit
        self.start_timeout = start_timeout
        self.start_attempts = max(1, start_attempts)
        self.retry_delay = retry_delay
        self.command = command or child_command(memory_limit)
        self._cond = threading.Condition()
        self._idle: list[SandboxChild] = []
        self._busy = 0
        self._starting = 0
        self._gave_up = 0  # starters that failed every attempt (waiters compare before/after)
        self._last_failure = ""
        self._closed = False
        self.started = 0  # children started so far (tests and the benchmark read it)

    # -- public ----------------------------------------------------------------------------------
    def warm(self, count: int | None = None) -> None:
        """Start children in the background until ``count`` (default ``size``) exist; returns at
        once. The first request fills the pool to ``size`` in any case."""
        with self._cond:
            self._fill(self.size if count is None else min(count, self.size))

    def wait_ready(self, timeout: float) -> bool:
        """Block until at least one child is ready (the benchmark and tests use it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._fill()
            while not self._idle:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def run(self, kind: str, source: str, data: dict[str, Any], names: str = "baton") -> Any:
        """Evaluate (``kind="eval"``) or execute (``"exec"``) ``source`` over ``data``, with the
        script names of ``names`` (``"baton"``, or ``"spiffarena"`` for SpiffArena's diagrams:
        see ``sandbox_child.py``).

        Returns the value, or the variables after the script; raises :class:`ScriptError` for
        anything the code did, :class:`SandboxUnavailable` when no child could be had."""
        metrics.SANDBOX_EVALUATIONS.labels(kind).inc()
        payload = json.dumps([kind, source, data, names], default=str).encode()
        for attempt in (1, 2):
            child = self._acquire()
            try:
                reply = child.ask(payload, self.time_limit, self.start_timeout)
            except _Late:
                self._discard(child)
                raise ScriptError(f"ran longer than the {self.time_limit:g} s time limit") from None
            except _TooLarge as exc:
                self._discard(child)  # the unread reply is still in its pipe
                raise ScriptError(f"the result is too large ({exc.args[0] // 2**20} MiB; "
                                  f"at most {MAX_REPLY_BYTES // 2**20} MiB)") from None
            except _Gone:
                self._discard(child)
                if attempt == 1:  # maybe killed from outside: the request gets one more child
                    continue
                raise ScriptError("the script's process died (memory limit or a crash)") from None
            except BaseException:
                self._discard(child)
                raise
            self._release(child)
            if not reply.get("ok"):
                raise ScriptError(reply.get("message", "failed"), reply.get("line"))
            return reply.get("result")
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for child in idle:
            child.kill()

    def abandon(self) -> None:
        """Forget every child without ending it: this process is a fork and they are not its own.

        Called without the lock (another thread of the parent may have held it at the fork)."""
        self._closed = True
        for child in list(self._idle):
            child.abandon()
        self._idle = []

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"idle": len(self._idle), "busy": self._busy, "starting": self._starting,
                    "started": self.started, "gave_up": self._gave_up}

    # -- inside ----------------------------------------------------------------------------------
    def _fill(self, size: int | None = None) -> None:
        """Start a background starter for each child missing up to ``size``. Holds ``_cond``."""
        if self._closed:
            return
        for _ in range((self.size if size is None else size) - len(self._idle) - self._busy - self._starting):
            self._starting += 1
            threading.Thread(target=self._starter, name="baton-sandbox-start", daemon=True).start()

    def _starter(self) -> None:
        child, failure = self._start_child()
        with self._cond:
            self._starting -= 1
            keep = child is not None and not self._closed
            if child is None:
                self._gave_up += 1
                self._last_failure = failure
            elif keep:
                self.started += 1
                self._idle.append(child)
            self._cond.notify_all()
        if child is not None and not keep:
            child.kill()  # the pool closed while it started

    def _start_child(self) -> tuple[SandboxChild | None, str]:
        """A ready child, trying ``start_attempts`` times with backoff; or None and why not."""
        failure = ""
        for attempt in range(self.start_attempts):
            if attempt:
                time.sleep(self.retry_delay * 2 ** (attempt - 1))
            child = None
            try:
                child = SandboxChild(self.command)
                child.wait_ready(self.start_timeout)
                return child, ""
            except Exception as exc:  # whatever it was, the starter must report back to the pool
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if child is not None:
                    child.kill()
        return None, failure

    def _acquire(self) -> SandboxChild:
        deadline = time.monotonic() + self.start_timeout
        with self._cond:
            gave_up_before = self._gave_up
            while True:
                if self._closed:
                    raise SandboxUnavailable("the script sandbox is closed")
                while self._idle:
                    child = self._idle.pop()
                    if child.alive():
                        self._busy += 1
                        return child
                    threading.Thread(target=child.kill, daemon=True).start()  # reap it off the lock
                if self._starting == 0 and self._gave_up > gave_up_before:
                    raise SandboxUnavailable(f"no script sandbox could be started "
                                             f"({self.start_attempts} tries): {self._last_failure}")
                self._fill()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxUnavailable(f"no script sandbox became ready within {self.start_timeout:g} s")
                self._cond.wait(remaining)

    def _release(self, child: SandboxChild) -> None:
        with self._cond:
            self._busy -= 1
            if self._closed:
                child.kill()
                return
            self._idle.append(child)
            self._cond.notify_all()

    def _discard(self, child: SandboxChild) -> None:
        child.kill()
        with self._cond:
            self._busy -= 1
            self._fill()  # its replacement starts now, in the background
            self._cond.notify_all()
