"""Demo endpoint services for Baton's example processes (payment, inventory, ...).

One stdlib HTTP server stands in for every external system the demo diagrams call,
records each call with its Idempotency-Key, instance id and traceparent, and lets a
demo or a test inject faults, so the engine's retries, BPMN errors and idempotency
can be shown and checked end to end. Run ``python -m processes.services``.
"""

from __future__ import annotations

from .server import ServicesServer, make_server, start_in_thread
from .state import ENDPOINTS, FAIL_MODES, FailRule, ServiceState

__all__ = [
    "ENDPOINTS",
    "FAIL_MODES",
    "FailRule",
    "ServiceState",
    "ServicesServer",
    "make_server",
    "start_in_thread",
]
