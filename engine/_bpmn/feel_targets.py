"""What a Zeebe task is bound to, when the diagram says it in FEEL: a job's type
(``zeebe:taskDefinition type="=..."``) and a called process (``zeebe:calledElement processId="=..."``).

Zeebe evaluates both when the task is reached, over the variables the task sees (its input
mappings included). Baton does the same inside the advance, once the task has started, and keeps
the answer in the task's internal data; the job (``outbox.py``, ``in_process.py``) then takes it
as a static type or process id would be taken.

A FEEL type cannot be checked at deploy against the endpoint map, as a static one is: deploy
checks that the expression is in Baton's FEEL subset, and at run time a type that resolves to no
endpoint is an incident on the task naming the type and the ``[topics.NAME]`` table that would
bind it (bind it, restart the workers, retry the incident: the type is evaluated again). A
process id that names no deployed process is an incident on the call's job naming the id
(deploy the process, retry). A value that is not a non-empty string is an incident on the task.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskState

from .calls import CallActivityTask
from .feel_expressions import evaluate

TOPIC = "baton:topic"  # internal data: the job type a FEEL taskDefinition type gave
CALLED = "baton:called"  # internal data: the process id a FEEL calledElement processId gave


def resolve(tasks: list[Any], bindings: dict[str, Any], endpoints: Any) -> None:
    """Evaluate the FEEL type or process id of every started task that has not had it yet."""
    for task in tasks:
        if task.state != TaskState.STARTED:
            continue
        binding = bindings.get(task.task_spec.bpmn_id) or {}
        if isinstance(task.task_spec, ServiceTask) and binding.get("topic_expression") \
                and TOPIC not in task.internal_data:
            task.internal_data[TOPIC] = _topic(task, binding["topic_expression"], endpoints)
        elif isinstance(task.task_spec, CallActivityTask) and (binding.get("call") or {}).get("expression") \
                and CALLED not in task.internal_data:
            task.internal_data[CALLED] = _name(task, binding["call"]["expression"], "zeebe:calledElement processId")


def topic_of(task: Any, binding: dict[str, Any]) -> str | None:
    """The job type of a service task: the diagram's, or what its FEEL type gave."""
    return binding.get("topic") or task.internal_data.get(TOPIC)


def called_key(task: Any, target: dict[str, Any]) -> str | None:
    """The process a call activity calls: the diagram's id, or what its FEEL processId gave."""
    return target.get("key") or task.internal_data.get(CALLED)


def _topic(task: Any, expression: str, endpoints: Any) -> str:
    topic = _name(task, expression, "zeebe:taskDefinition type")
    if endpoints.resolve(topic) is None:
        where = f"the endpoint map {endpoints.source}" if getattr(endpoints, "source", None) else "BATON_ENDPOINTS"
        _fail(task, f"zeebe:taskDefinition type {expression!r} gave {topic!r}, which resolves to no endpoint: "
                    f"bind it with a [topics.{topic}] table (url = \"...\" or python = \"module:function\") in "
                    f"{where}, restart, then retry this incident")
    return topic


def _name(task: Any, expression: str, what: str) -> str:
    try:
        value = evaluate(task, expression, dict(task.data))
    except WorkflowTaskException as exc:
        task.error()
        exc.add_note(f"in {what}")
        raise
    if not isinstance(value, str) or not value.strip():
        _fail(task, f"{what} {expression!r} gave {value!r}; it must give a non-empty string")
    return str(value).strip()


def _fail(task: Any, message: str) -> None:
    task.error()  # waits under the incident; retrying it evaluates again
    raise WorkflowTaskException(message, task=task)


def is_expression(value: str | None) -> bool:
    """Whether a task type or process id is FEEL (``=...``), evaluated when the task is reached."""
    return (value or "").strip().startswith("=")
