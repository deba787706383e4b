"""JUEL texts reaching SpiffWorkflow's script engine, evaluated by ``engine.juel``.

SpiffWorkflow hands every expression of a diagram to the script engine's ``evaluate``
(``sandbox.SandboxScriptEngine``); one holding ``${...}`` or ``#{...}`` comes here instead of
the Python evaluators. ``checks.py`` lets JUEL through at deploy only where this is wired:
**sequence-flow conditions** (Camunda Modeler's ``${approved}``). Everywhere else (assignees,
candidate groups, multi-instance collections, timers, I/O mappings, message names, call
activity keys, conditional events) JUEL is still refused at deploy, naming the element.

A condition follows Camunda 7: its text is trimmed, its value must be a Boolean, an unknown
variable is an error naming it; each becomes an incident on the gateway (a
``WorkflowTaskException``, as a failing Python condition). ``execution.setVariable`` writes go
into the task's data, which the path taken carries on. The execution's business key and ids
are not known at this seam yet: reading them is an error that says so, not a silent null.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from .. import juel
from .expression_sites import is_flow_condition, shown

_NOT_HERE = "not available in conditions yet (Baton does not hand it to the script engine)"


def is_juel(expression: Any) -> bool:
    return isinstance(expression, str) and juel.is_template(expression)


def evaluate(task: Any, expression: str, data: dict[str, Any]) -> Any:
    """The value of a JUEL ``expression`` over ``data`` for ``task``; writes land in ``task.data``."""
    text = expression.strip()
    execution = juel.Execution(business_key=juel.UNAVAILABLE, id=juel.UNAVAILABLE,
                               process_instance_id=juel.UNAVAILABLE, unavailable=_NOT_HERE)
    try:
        template = juel.parse(text)
        if is_flow_condition(task, expression):
            value = template.condition(data, execution)
        else:
            value = template.evaluate(data, execution)
    except juel.JuelError as exc:
        raise WorkflowTaskException(f"JUEL expression {shown(text)}: {exc.message} (at position {exc.position})",
                                    task=task, exception=exc) from exc
    task.data.update(execution.writes)
    return value
