"""The benchmark's one endpoint: a Python callable that does almost nothing.

Mapped to the ``bench-step`` topic in ``bench/endpoints.toml``, so the figures measure the
engine (and the broker), not a service.
"""

from __future__ import annotations

from typing import Any


def step(variables: dict[str, Any]) -> dict[str, Any]:
    """Count the steps done so far; return a small dict merged into the instance's variables."""
    return {"steps": int(variables.get("steps", 0)) + 1, "ok": True}


def tick(variables: dict[str, Any]) -> dict[str, Any]:
    """One turn of ``long_loop.bpmn``: ``i + 1`` (its gateway loops while ``i < n``)."""
    return {"i": int(variables.get("i", 0)) + 1}
