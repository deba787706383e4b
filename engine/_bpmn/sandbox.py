"""Scripts and expressions from diagrams run here: restricted, in a child process, with limits.

SpiffWorkflow runs script tasks and conditions with plain ``eval``/``exec`` (``import os`` works,
and restricted builtins are escaped through ``().__class__.__base__``). A diagram must not reach
the host, so Baton evaluates every script and expression one of two ways:

- **in this process** when the expression is a plain comparison of names and literals
  (``approved == True``, a loop cardinality ``5``, a correlation key ``order['id']``):
  ``expressions.py`` walks a strict whitelist of ``ast`` nodes over plain JSON data, which can
  neither loop nor allocate, and answers exactly as the sandbox would;
- **in a sandbox process** for everything else (``sandbox_child.py``, a script run with
  ``python -I``): compiled by RestrictedPython (no names starting with ``_``, guarded attribute,
  item and write access, no ``import``, no ``open``/``eval``/``exec``/``compile``), with a small
  set of builtins, in a process whose address space is capped (``RLIMIT_AS``) and whose CPU per
  request is capped (``RLIMIT_CPU``, should its parent die mid-request).

Sandbox processes are started ahead of need and reused (``sandbox_pool.py``): a pool of up to
``BATON_SANDBOX_POOL`` children, one of them started in the background when an engine is
created (the rest on first use), so a ``baton start --wait``, a worker and the web server find
one ready. The 2 s wall-clock limit counts the evaluation only: it starts once a ready child
has the request (waiting for a child to start has its own, generous timeout). A child killed
for overrunning, or found dead, is replaced in the background.

Data goes in and out as JSON: only JSON values persist (others become strings, functions and
modules are dropped), and a result over 64 MiB is refused rather than read into this process.
A broken rule, a timeout or a crash raises :class:`ScriptError` with the rule and the line; the
engine turns it into an incident on the task. A sandbox that cannot be started raises
:class:`engine.errors.SandboxUnavailable` instead: not the diagram's fault, so a job that meets
it is retried, and no incident names the script.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import expressions, feel_expressions, juel_expressions
from .sandbox_pool import MEMORY_LIMIT_BYTES, TIME_LIMIT_SECONDS, SandboxPool, ScriptError

__all__ = ["MEMORY_LIMIT_BYTES", "TIME_LIMIT_SECONDS", "SandboxPool", "SandboxScriptEngine", "ScriptError",
           "evaluate", "execute", "shared_sandbox", "warm"]

DEFAULT_POOL_SIZE = 2

_shared: SandboxPool | None = None
_shared_size = DEFAULT_POOL_SIZE
_shared_lock = threading.Lock()


def shared_sandbox() -> SandboxPool:
    """This process's pool (made on first use; a fork gets its own, see ``_after_fork``)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SandboxPool(_shared_size)
        return _shared


def warm(size: int = DEFAULT_POOL_SIZE) -> SandboxPool:
    """Size this process's pool (``BATON_SANDBOX_POOL``) and start one child in the background.

    One, not ``size``: every ``Engine()`` warms, including a CLI command that runs no script, and
    on a busy machine each start costs CPU others need. The first evaluation fills the pool."""
    global _shared_size
    with _shared_lock:
        _shared_size = max(1, size)
        if _shared is not None:
            _shared.size = _shared_size
    pool = shared_sandbox()
    pool.warm(1)
    return pool


def _after_fork() -> None:
    # The children belong to the parent (and so do its pipes, and maybe its locks): forget them.
    global _shared, _shared_lock
    _shared_lock = threading.Lock()
    if _shared is not None:
        _shared.abandon()
    _shared = None


def _close_at_exit() -> None:
    if _shared is not None:
        _shared.close()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_close_at_exit)


def evaluate(pool: SandboxPool, expression: str, data: dict[str, Any], names: str = "baton") -> Any:
    """An expression's value: in this process when ``expressions`` can, else in the sandbox."""
    value = expressions.evaluate(expression, data)
    if value is expressions.UNSUPPORTED:
        value = pool.run("eval", expression, data, names)
    return value


def execute(pool: SandboxPool, script: str, data: dict[str, Any], names: str = "baton") -> dict[str, Any]:
    """The variables after running ``script`` over ``data`` (always in the sandbox)."""
    result = pool.run("exec", script, data, names)
    return result if isinstance(result, dict) else {}


SCRIPT_NAMES = "script_names"  # a process's binding: which names its scripts see (sandbox_child.py)


def script_names(task: Any) -> str:
    """``"spiffarena"`` for a task of a SpiffArena diagram (its scripts see SpiffArena's globals,
    ``datetime``, ``time``, ``json``...), else ``"baton"``: marked per process at deploy."""
    workflow = getattr(task, "workflow", None)
    top = getattr(workflow, "top_workflow", None) or workflow
    specs = getattr(top, "specs", None)
    if specs is None:
        return "baton"
    entry = specs.bindings.get(top.spec.name)
    return entry.get(SCRIPT_NAMES, "baton") if isinstance(entry, dict) else "baton"


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """For SpiffWorkflow code that calls ``script_engine.environment`` directly (correlations)."""

    def __init__(self, engine: SandboxScriptEngine):
        super().__init__()
        self._engine = engine

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        return evaluate(self._engine.sandbox, expression, {**context, **(external_context or {})})

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        result = execute(self._engine.sandbox, script, {**context, **(external_context or {})})
        for key in [k for k in context if k not in result]:
            del context[key]
        context.update(result)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("service calls from scripts are not allowed")


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine seam, backed by the in-process evaluator and the sandbox."""

    def __init__(self, sandbox: SandboxPool | None = None):
        super().__init__(environment=None)
        self.environment = SandboxEnvironment(self)
        self._sandbox = sandbox

    @property
    def sandbox(self) -> SandboxPool:
        return self._sandbox or shared_sandbox()

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        if feel_expressions.is_feel(expression):  # Camunda 8's =amount > 100: engine.feel, no sandbox
            return feel_expressions.evaluate(task, expression, _data(task, external_context))
        if juel_expressions.is_juel(expression):  # Camunda Modeler's ${approved}: engine.juel, no sandbox
            return juel_expressions.evaluate(task, expression, _data(task, external_context))
        try:
            return evaluate(self.sandbox, expression, _data(task, external_context), script_names(task))
        except ScriptError as exc:
            raise WorkflowTaskException(f"expression {expression!r}: {exc}", task=task, exception=exc,
                                        line_number=exc.line or 0) from exc

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            result = execute(self.sandbox, script, _data(task, external_context), script_names(task))
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
