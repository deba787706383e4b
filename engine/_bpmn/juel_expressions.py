"""JUEL texts reaching SpiffWorkflow's script engine, evaluated by ``engine.juel``.

SpiffWorkflow hands every expression of a diagram to the script engine's ``evaluate``
(``sandbox.SandboxScriptEngine``); one holding ``${...}`` or ``#{...}`` comes here instead of
the Python evaluators. Which places deploy lets JUEL into is ``juel_sites.py``'s; the ones that
reach this seam are conditions (sequence flows, conditional events), loop cardinalities,
completion conditions and timer values. Baton's own callers (I/O mappings, assignees,
``camunda:expression`` tasks) use :func:`run` with the same execution.

A condition follows Camunda 7: its text is trimmed, its value must be a Boolean, an unknown
variable is an error naming it; each becomes an incident on the task (a
``WorkflowTaskException``, as a failing Python condition). ``execution.processBusinessKey`` and
``execution.processInstanceId`` are the instance's (``instances.py`` tells the workflow); a
multi-instance completion condition also sees Camunda's ``nrOfInstances``,
``nrOfCompletedInstances``, ``nrOfActiveInstances`` and ``loopCounter``.
``execution.setVariable`` writes go into the task's data, which the path taken carries on.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from .. import juel
from .expression_sites import is_flow_condition, shown

_NOT_HERE = "not known outside an instance"


def is_juel(expression: Any) -> bool:
    return isinstance(expression, str) and juel.is_template(expression)


def execution_of(task: Any) -> juel.Execution:
    """``execution`` for an expression evaluated on ``task``: its instance's id and business key."""
    workflow = getattr(task.workflow, "top_workflow", None) or task.workflow
    instance_id = getattr(workflow, "instance_id", None)
    if instance_id is None:
        return juel.Execution(business_key=juel.UNAVAILABLE, id=juel.UNAVAILABLE,
                              process_instance_id=juel.UNAVAILABLE, unavailable=_NOT_HERE)
    return juel.Execution(business_key=getattr(workflow, "business_key", None), id=str(task.id),
                          process_instance_id=instance_id)


def run(task: Any, text: str, data: dict[str, Any], *, condition: bool = False) -> Any:
    """The value of the JUEL ``text`` over ``data`` on ``task``; ``execution.setVariable`` writes
    land in ``task.data``. A failure is a ``WorkflowTaskException`` on the task (an incident)."""
    text = text.strip()
    execution = execution_of(task)
    try:
        template = juel.parse(text)
        value = template.condition(data, execution) if condition else template.evaluate(data, execution)
    except juel.JuelError as exc:
        raise WorkflowTaskException(f"JUEL expression {shown(text)}: {exc.message} (at position {exc.position})",
                                    task=task, exception=exc) from exc
    task.data.update(execution.writes)
    return value


def evaluate(task: Any, expression: str, data: dict[str, Any]) -> Any:
    """The value of a JUEL ``expression`` SpiffWorkflow asks for on ``task``."""
    if _is_completion_condition(task, expression):
        data = {**_loop_variables(task), **data}
    return run(task, expression, data, condition=is_flow_condition(task, expression) or _is_event_condition(
        task, expression) or _is_completion_condition(task, expression))


def _is_event_condition(task: Any, expression: str) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    return isinstance(definition, ConditionalEventDefinition) and definition.expression == expression


def _is_completion_condition(task: Any, expression: str) -> bool:
    parent = task.parent
    return (parent is not None and isinstance(parent.task_spec, MultiInstanceTask)
            and parent.task_spec.condition == expression)


def _loop_variables(task: Any) -> dict[str, Any]:
    """Camunda 7's multi-instance variables, for the completion condition evaluated on ``task``."""
    body = task.parent
    instances = list(body.task_spec._instances(body))
    completed = len(body.internal_data.get("merged", []))
    total = body.internal_data.get("cardinality")
    if total is None:
        total = len(instances) + len(body.internal_data.get("remaining", []))
    active = sum(1 for t in instances if not t.has_state(TaskState.FINISHED_MASK))
    return {"nrOfInstances": total, "nrOfCompletedInstances": completed, "nrOfActiveInstances": active,
            "loopCounter": task.internal_data.get("key_or_index", 0)}
