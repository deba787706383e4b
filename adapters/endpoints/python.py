"""Python callables as endpoints: ``module:function(variables) -> dict``, run in the worker.

A function that takes a second parameter gets the :class:`engine.JobCall` too
(``function(variables, call)``): its ``idempotency_key`` is the same for every run of one task,
so a handler with an outside effect can apply it once however often it is called (a retry, or an
in-process step run again after a crash; see ``engine/in_process.py``)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from engine import BpmnErrorRaised, EndpointFailure, FatalFailure, JobCall, RetryableFailure


class PythonEndpointAdapter:
    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Any]] = {}
        self._wants_call: dict[str, bool] = {}

    def _function(self, path: str) -> Callable[[dict[str, Any]], Any]:
        function = self._functions.get(path)
        if function is None:
            module_name, _, name = path.partition(":")
            try:
                function = getattr(importlib.import_module(module_name), name)
            except (ImportError, AttributeError) as exc:
                raise FatalFailure(f"python endpoint {path!r} cannot be imported: {exc}") from exc
            self._functions[path] = function
            self._wants_call[path] = _takes_two(function)
        return function

    def call(self, call: JobCall) -> dict[str, Any]:
        assert call.endpoint is not None and call.endpoint.python
        function = self._function(call.endpoint.python)
        try:
            path = call.endpoint.python
            result = function(dict(call.variables), call) if self._wants_call[path] else function(dict(call.variables))
        except (BpmnErrorRaised, EndpointFailure):
            raise
        except Exception as exc:  # the handler's own bug or outage: retry, then an incident
            raise RetryableFailure(f"{call.endpoint.python} raised {type(exc).__name__}: {exc}") from exc
        call.exchange["result"] = result  # the attempt's answer (engine/attempts.py builds its record)
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise FatalFailure(f"{call.endpoint.python} returned {type(result).__name__}, not a dict")
        return result


def _takes_two(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the one-argument contract
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
