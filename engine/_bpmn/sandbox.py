"""Scripts and expressions from diagrams run here: restricted, in a child process, with limits.

SpiffWorkflow runs script tasks and conditions with plain ``eval``/``exec`` (``import os`` works,
and restricted builtins are escaped through ``().__class__.__base__``). A diagram must not reach
the host, so Baton runs every script and expression:

- compiled by RestrictedPython (no names starting with ``_``, guarded attribute, item and
  write access, no ``import``, no ``open``/``eval``/``exec``/``compile``), with a small set of
  builtins;
- in a separate process (one per Baton process, started on first use) whose address space is
  capped (``RLIMIT_AS``), so a huge allocation fails there, not here;
- under a wall-clock limit enforced by the parent: a script that runs too long has its process
  killed and replaced.

Data goes in and out as JSON: only JSON values persist (others become strings, functions and
modules are dropped). A broken rule, a timeout or a crash raises :class:`ScriptError` with the
rule and the line; the engine turns it into an incident on the task.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.process
import threading
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

TIME_LIMIT_SECONDS = 2.0
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024


class ScriptError(Exception):
    """A script or expression broke a rule, failed, ran too long or used too much memory."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(message if line is None else f"line {line}: {message}")


# -- the child process ------------------------------------------------------------------------

def _child_main(conn: Any, memory_limit: int) -> None:  # pragma: no cover - runs in the sandbox process
    import contextlib
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    compiled: dict[tuple[str, str], Any] = {}
    while True:
        try:
            request = conn.recv_bytes()
        except EOFError:
            return
        try:
            kind, source, data = json.loads(request)
            result = _run(kind, source, data, compiled)
            reply = json.dumps({"ok": True, "result": result}, default=_loose)
        except ScriptError as exc:
            reply = json.dumps({"ok": False, "message": exc.reason, "line": exc.line})
        except MemoryError:
            reply = json.dumps({"ok": False, "message": "the script ran out of memory", "line": None})
        except BaseException as exc:  # anything a script does must come back as a message
            reply = json.dumps({"ok": False, "message": f"{type(exc).__name__}: {exc}", "line": None})
        conn.send_bytes(reply.encode())


def _loose(value: Any) -> Any:
    return str(value)


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {"+=": lambda: x + y, "-=": lambda: x - y, "*=": lambda: x * y, "/=": lambda: x / y,
           "//=": lambda: x // y, "%=": lambda: x % y, "**=": lambda: x ** y, "|=": lambda: x | y,
           "&=": lambda: x & y, "^=": lambda: x ^ y}
    if op not in ops:
        raise ScriptError(f"operator {op} is not allowed")
    return ops[op]()


# Attribute names that reach frames, code objects, tracebacks or the class hierarchy without a
# leading underscore (RestrictedPython refuses underscore names at compile time already).
_FORBIDDEN_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
    "tb_frame", "tb_next", "co_code", "co_consts", "co_names", "func_globals", "func_code", "mro",
    "format", "format_map", "im_func", "im_self", "im_class",
})


def _guarded_getattr(obj: Any, name: str, default: Any = None, getattr: Any = getattr) -> Any:
    import types

    from RestrictedPython.Guards import safer_getattr

    if not isinstance(name, str) or name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        raise ScriptError(f"access to attribute {name!r} is not allowed")
    if isinstance(obj, types.ModuleType | types.FrameType | types.CodeType | types.TracebackType):
        raise ScriptError(f"access to {type(obj).__name__} objects is not allowed")
    return safer_getattr(obj, name, default, getattr)


def _globals() -> dict[str, Any]:
    from RestrictedPython import safe_builtins
    from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
    from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence

    builtins = {k: v for k, v in safe_builtins.items()
                if k not in ("setattr", "delattr", "__build_class__", "_getattr_", "id", "hash")}
    builtins.update({
        "list": list, "dict": dict, "set": set, "tuple": tuple, "sorted": sorted, "min": min, "max": max,
        "sum": sum, "any": any, "all": all, "enumerate": enumerate, "zip": zip, "map": map, "filter": filter,
        "reversed": reversed, "frozenset": frozenset,
        "datetime": datetime, "date": date, "timedelta": timedelta,
        "getattr": _guarded_getattr,
    })
    return {
        "__builtins__": builtins,
        "_getattr_": _guarded_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_iter_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_print_": None,
    }


def _compile(kind: str, source: str, cache: dict[tuple[str, str], Any]) -> Any:
    from RestrictedPython import compile_restricted_eval, compile_restricted_exec

    key = (kind, source)
    if key not in cache:
        result = (compile_restricted_eval if kind == "eval" else compile_restricted_exec)(source, "<script>")
        if result.errors:
            first = result.errors[0]
            line = None
            if first.startswith("Line "):
                head, _, rest = first.partition(":")
                try:
                    line = int(head[5:])
                    first = rest.strip()
                except ValueError:
                    pass
            raise ScriptError(f"not allowed: {first}", line)
        cache[key] = result.code
    return cache[key]


def _run(kind: str, source: str, data: dict[str, Any], cache: dict[tuple[str, str], Any]) -> Any:
    import sys
    import traceback

    code = _compile(kind, source, cache)
    scope = _globals()
    local = dict(data)
    try:
        if kind == "eval":
            return eval(code, scope, local)  # noqa: S307 - restricted code in the sandbox process
        exec(code, scope, local)  # noqa: S102 - restricted code in the sandbox process
    except ScriptError:
        raise
    except RecursionError as exc:
        raise ScriptError("recursion too deep") from exc
    except Exception as exc:
        line = None
        for frame in traceback.extract_tb(sys.exc_info()[2]):
            if frame.filename == "<script>":
                line = frame.lineno
        raise ScriptError(f"{type(exc).__name__}: {exc}", line) from exc
    return {k: v for k, v in local.items() if not callable(v) and not k.startswith("_")}


# -- the parent side --------------------------------------------------------------------------

def _allow_children() -> None:
    """Let this process start the sandbox whatever hosts it.

    In a Celery prefork pool child (billiard) the standard library's current process is daemonic
    ("daemonic processes are not allowed to have children") and carries an authkey a spawn cannot
    pickle. The pool still ends its children itself, and the sandbox is a daemon that leaves when
    its parent's pipe closes, so lifting both is safe.
    """
    current = multiprocessing.current_process()
    config = current._config  # type: ignore[attr-defined]
    config["daemon"] = False
    if not isinstance(current.authkey, multiprocessing.process.AuthenticationString):
        config["authkey"] = multiprocessing.process.AuthenticationString(bytes(current.authkey))


class Sandbox:
    """One sandbox process, used by one thread at a time, replaced when it dies or hangs."""

    def __init__(self, time_limit: float = TIME_LIMIT_SECONDS, memory_limit: int = MEMORY_LIMIT_BYTES):
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        _allow_children()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_child_main, args=(child, self.memory_limit), daemon=True,
                                  name="baton-script-sandbox")
        process.start()
        child.close()
        self._process, self._conn = process, parent

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def run(self, kind: str, source: str, data: dict[str, Any]) -> Any:
        payload = json.dumps([kind, source, data], default=_loose).encode()
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._stop()
                self._start()
            try:
                self._conn.send_bytes(payload)
                if not self._conn.poll(self.time_limit):
                    self._stop()
                    raise ScriptError(f"ran longer than the {self.time_limit:g} s time limit")
                reply = json.loads(self._conn.recv_bytes())
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._stop()
                raise ScriptError("the script's process died (memory limit or a crash)") from exc
        if not reply["ok"]:
            raise ScriptError(reply["message"], reply.get("line"))
        return reply["result"]

    def close(self) -> None:
        with self._lock:
            self._stop()


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox() -> Sandbox:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Sandbox()
        return _shared


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """For SpiffWorkflow code that calls ``script_engine.environment`` directly (correlations)."""

    def __init__(self, engine: SandboxScriptEngine):
        super().__init__()
        self._engine = engine

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        data = {**context, **(external_context or {})}
        return self._engine.sandbox.run("eval", expression, data)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        result = self._engine.sandbox.run("exec", script, {**context, **(external_context or {})})
        for key in [k for k in context if k not in result]:
            del context[key]
        context.update(result)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("service calls from scripts are not allowed")


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine seam, backed by the sandbox."""

    def __init__(self, sandbox: Sandbox | None = None):
        super().__init__(environment=None)
        self.environment = SandboxEnvironment(self)
        self._sandbox = sandbox

    @property
    def sandbox(self) -> Sandbox:
        return self._sandbox or shared_sandbox()

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.sandbox.run("eval", expression, _data(task, external_context))
        except ScriptError as exc:
            raise WorkflowTaskException(f"expression {expression!r}: {exc}", task=task, exception=exc,
                                        line_number=exc.line or 0) from exc

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            result = self.sandbox.run("exec", script, _data(task, external_context))
        except ScriptError as exc:
            raise WorkflowTaskException(f"script: {exc}", task=task, exception=exc,
                                        line_number=exc.line or 0) from exc
        for key in [k for k in task.data if k not in result]:
            del task.data[key]
        task.data.update(result)
        return True


def _data(task: Any, external_context: Any) -> dict[str, Any]:
    data = dict(task.data)
    if external_context:
        data.update(external_context)
    return data
