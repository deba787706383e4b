"""Endpoint adapters: one small seam, ``call(job) -> result``, one implementation per kind of edge.

``adapter_for(endpoint)`` picks the implementation; the runner never asks which one it got.
"""

from __future__ import annotations

from engine import Endpoint, FatalFailure

from .base import EndpointAdapter
from .http import HttpEndpointAdapter
from .python import PythonEndpointAdapter

__all__ = ["EndpointAdapter", "HttpEndpointAdapter", "PythonEndpointAdapter", "adapter_for"]

_http = HttpEndpointAdapter()
_python = PythonEndpointAdapter()


def adapter_for(endpoint: Endpoint | None) -> EndpointAdapter:
    if endpoint is None:
        raise FatalFailure("the job's topic resolves to no endpoint (check BATON_ENDPOINTS)")
    return _http if endpoint.url else _python
