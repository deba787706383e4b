"""Python-callable topic handlers referenced from ``endpoints.toml``.

A topic may resolve to a Python function instead of an HTTP endpoint
(``python = "processes.handlers:audit_log"``); this module is the example of that
binding, kept deliberately trivial so it exercises the mechanism and nothing else.
"""

from __future__ import annotations

from typing import Any


def audit_log(variables: dict[str, Any]) -> dict[str, Any]:
    """Record that the instance passed an audit point.

    Receives the process variables and returns the variables to merge back, the same
    contract as an HTTP endpoint's JSON response, so both bindings are interchangeable.
    """
    return {"audited": True}
