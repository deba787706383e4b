"""Where an expression stands, for the dialects that treat conditions apart (FEEL, JUEL)."""

from __future__ import annotations

from typing import Any


def is_flow_condition(task: Any, expression: str) -> bool:
    """Whether ``expression`` is one of the conditions on the flows leaving ``task``'s gateway."""
    for condition, _ in getattr(task.task_spec, "cond_task_specs", ()):
        if condition is not None and getattr(condition, "args", (None,))[0] == expression:
            return True
    return False


def shown(text: str, limit: int = 100) -> str:
    """An expression as an error message quotes it: whole, or its first ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")
