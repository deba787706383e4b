"""FEEL texts (Camunda 8's ``=amount > 100``) reaching SpiffWorkflow's script engine, evaluated by
``engine.feel``.

SpiffWorkflow hands every expression of a diagram to the script engine's ``evaluate``
(``sandbox.SandboxScriptEngine``); one starting with ``=`` (never valid Python) comes here
instead of the Python evaluators. ``checks.py`` lets FEEL through at deploy only where this is
wired, **sequence-flow conditions**, and only inside Baton's subset (:func:`refusal`); FEEL
anywhere else is still refused at deploy, naming the element.

A condition follows Zeebe: the task's data are the variables, a missing one is null, and only
``true`` takes the flow (null, a type mismatch, any other value: not taken, so a gateway falls
to its default flow). An evaluation stopped by a bound (:class:`engine.feel.FeelLimitError`) is
an incident on the gateway (a ``WorkflowTaskException``, as a failing Python condition).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from .. import feel
from .expression_sites import is_flow_condition, shown


def is_feel(expression: Any) -> bool:
    return feel.feel_text(expression) is not None


def refusal(expression: str) -> str | None:
    """Why deploy refuses this ``=...`` text, or ``None`` when Baton's FEEL subset runs it."""
    text = feel.feel_text(expression)
    if text is None:
        return "it does not start with '='"
    try:
        feel.check(text)
    except feel.FeelError as exc:
        return str(exc)
    return None


def evaluate(task: Any, expression: str, data: dict[str, Any]) -> Any:
    """The value of a FEEL ``expression`` over ``data``; for a flow's condition, true or false."""
    text = feel.feel_text(expression) or ""
    try:
        value = feel.parse(text).evaluate(data)
    except feel.FeelError as exc:
        raise WorkflowTaskException(f"FEEL expression {shown(text)}: {exc}", task=task, exception=exc) from exc
    if is_flow_condition(task, expression):
        return feel.truthy(value)
    return feel.to_json(value)
