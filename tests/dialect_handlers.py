"""Python endpoint handlers for the dialect tests (bound in ``tests/endpoints_dialects.toml``).

Each answers with what it saw, so a test can tell what reached the call (a Zeebe input local, a
header) from what came back to the process."""

from __future__ import annotations

from typing import Any


def looping_job(variables: dict[str, Any]) -> dict[str, Any]:
    """zeebe-process-test's ``looping-servicetask`` job: its own variable stays local (the task
    has output mappings), so the process must never see ``job_saw``."""
    return {"job_saw": variables.get("loopAmount")}


def echo_job(variables: dict[str, Any]) -> dict[str, Any]:
    """Answers the variables it was called with under ``seen`` and one result of its own."""
    return {"seen": dict(variables), "approved": True}
