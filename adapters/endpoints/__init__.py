"""Endpoint adapters: one small seam, ``call(job) -> result``, one implementation per kind of edge.

``adapter_for(endpoint)`` picks the implementation; the runner never asks which one it got.
"""

from __future__ import annotations

from typing import Any

from engine import Endpoint, FatalFailure, JobCall

from .base import EndpointAdapter
from .http import HttpEndpointAdapter
from .python import PythonEndpointAdapter

__all__ = ["EndpointAdapter", "HttpEndpointAdapter", "PythonEndpointAdapter", "adapter_for", "call_in_process"]

_http = HttpEndpointAdapter()
_python = PythonEndpointAdapter()


def adapter_for(endpoint: Endpoint | None) -> EndpointAdapter:
    if endpoint is None:
        raise FatalFailure("the job's topic resolves to no endpoint (check BATON_ENDPOINTS)")
    return _http if endpoint.url else _python


def call_in_process(call: JobCall) -> dict[str, Any]:
    """The engine's in-process caller (``Engine(in_process=call_in_process)``): an advance calls a
    Python-callable endpoint through it instead of making a job (``engine/in_process.py``)."""
    return adapter_for(call.endpoint).call(call)
