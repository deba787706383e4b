"""Who may do a user task, when the diagram says it with JUEL (``camunda:assignee="${initiator}"``),
and who started the instance (``camunda:initiator`` on the start event).

``camunda:initiator="starter"`` makes Camunda 7 set the variable ``starter`` to the id of the
authenticated user who started the instance (null when no user did: a machine token, the CLI).
Baton's start takes that user (``Engine.start(..., started_by=)``), and :func:`set_initiator`
writes the variable before the first step, so ``${starter}`` is there for the first assignee.

Camunda 7 evaluates ``camunda:assignee``, ``camunda:candidateUsers`` and
``camunda:candidateGroups`` when the task is created, over the variables it sees: a String is
one name, a list is several, a comma-separated String is split, null leaves it unassigned; an
unknown variable is an error (an incident on the task). Baton does the same when the task
becomes ready, inside the advance, and keeps the answer in the task's internal data, which
``usertasks.py`` reads instead of the diagram's text. Zeebe's ``zeebe:assignmentDefinition``
(translated into these attributes) may hold FEEL instead (``=assignee``, ``=["sales", "ops"]``):
it is evaluated the same way, at the same moment (a string is one name, or comma-separated
names for candidates; a list is several; null leaves it unassigned).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from .. import feel, juel
from . import feel_expressions, juel_expressions

RESOLVED = "baton:people"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def initiators(root: Any) -> dict[str, dict[str, Any]]:
    """start event id -> {"initiator": variable name}, for the process-level start events that say one."""
    found: dict[str, dict[str, Any]] = {}
    for process in root.iterfind(f"{{{BPMN}}}process"):
        for start in process.iterfind(f"{{{BPMN}}}startEvent"):
            name = (start.get(f"{{{CAMUNDA}}}initiator") or "").strip()
            if name:
                found[start.get("id", "")] = {"initiator": name}
    return found


def set_initiator(workflow: Any, started_by: str | None) -> None:
    """Write the starting user into the variable the start event's ``camunda:initiator`` names."""
    bindings = workflow.specs.bindings if workflow.specs is not None else {}
    start_ids = {getattr(t, "bpmn_id", None) for t in workflow.spec.task_specs.values()}
    for element_id, binding in bindings.items():
        if "initiator" in binding and element_id in start_ids:
            workflow.task_tree.data[binding["initiator"]] = started_by


def resolve(tasks: list[Any], bindings: dict[str, Any]) -> None:
    """Evaluate the JUEL people of every ready user task that has not had them evaluated yet."""
    for task in tasks:
        if task.state != TaskState.READY or not isinstance(task.task_spec, UserTask) or RESOLVED in task.internal_data:
            continue
        people = (bindings.get(task.task_spec.bpmn_id) or {}).get("user_task") or {}
        if not any(_is_expression(v) for v in _texts(people)):
            continue
        try:
            task.internal_data[RESOLVED] = _evaluate(task, people)
        except WorkflowTaskException:
            task.error()  # waits under the incident; retrying it evaluates again
            raise


def people_of(task: Any, people: dict[str, Any]) -> dict[str, Any]:
    """The task's assignee and candidates: evaluated ones when the diagram's held JUEL."""
    return task.internal_data.get(RESOLVED) or people


def _texts(people: dict[str, Any]) -> list[str]:
    found = [people.get("assignee") or ""]
    for key in ("candidate_users", "candidate_groups"):
        found += people.get(key) or []
    return found


def _is_expression(text: str) -> bool:
    return juel.is_template(text) or feel.feel_text(text) is not None


def _evaluate(task: Any, people: dict[str, Any]) -> dict[str, Any]:
    data = dict(task.data)
    found: dict[str, Any] = {}
    assignee = people.get("assignee")
    if assignee:
        names = _names(_value(task, assignee, data))
        if len(names) > 1:
            raise WorkflowTaskException(f"the assignee {assignee!r} gave {len(names)} names; a task has one "
                                        "assignee (name several as candidate users)", task=task)
        found["assignee"] = names[0] if names else None
    for key in ("candidate_users", "candidate_groups"):
        candidates: list[str] = []
        for text in people.get(key) or []:
            candidates += _names(_value(task, text, data))
        found[key] = candidates
    return found


def _value(task: Any, text: str, data: dict[str, Any]) -> Any:
    """A JUEL template (Camunda 7) or a FEEL expression (Zeebe's =...) evaluated; other text as it is."""
    if juel.is_template(text):
        return juel_expressions.run(task, text, data)
    if feel.feel_text(text) is not None:
        return feel_expressions.evaluate(task, text, data)
    return text


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]
