"""Python callables as endpoints: ``module:function(variables) -> dict``, run in the worker."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from engine import BpmnErrorRaised, EndpointFailure, FatalFailure, JobCall, RetryableFailure


class PythonEndpointAdapter:
    def __init__(self) -> None:
        self._functions: dict[str, Callable[[dict[str, Any]], Any]] = {}

    def _function(self, path: str) -> Callable[[dict[str, Any]], Any]:
        function = self._functions.get(path)
        if function is None:
            module_name, _, name = path.partition(":")
            try:
                function = getattr(importlib.import_module(module_name), name)
            except (ImportError, AttributeError) as exc:
                raise FatalFailure(f"python endpoint {path!r} cannot be imported: {exc}") from exc
            self._functions[path] = function
        return function

    def call(self, call: JobCall) -> dict[str, Any]:
        assert call.endpoint is not None and call.endpoint.python
        function = self._function(call.endpoint.python)
        try:
            result = function(dict(call.variables))
        except (BpmnErrorRaised, EndpointFailure):
            raise
        except Exception as exc:  # the handler's own bug or outage: retry, then an incident
            raise RetryableFailure(f"{call.endpoint.python} raised {type(exc).__name__}: {exc}") from exc
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise FatalFailure(f"{call.endpoint.python} returned {type(result).__name__}, not a dict")
        return result
