"""User tasks: the task list, claiming, and completing with a validated form.

Every READY user or manual task of every instance is a ``user_task`` row (kept in step by each
advance, like message subscriptions), so a task list is one indexed query instead of restoring
workflows. Who may do it comes from the diagram (``camunda:assignee``, ``camunda:candidateUsers``,
``camunda:candidateGroups``); the form from ``camunda:formData`` (or none: a plain JSON editor).
A completion is checked against the form first: a refused completion changes nothing and says,
field by field, what is wrong.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select

from . import forms
from ._bpmn import camunda_people
from ._bpmn.history import all_tasks
from ._bpmn.workflow import BatonWorkflow
from .errors import FormInvalid, InvalidVariables, TaskNotFound
from .models import ProcessInstance, UserTaskRow, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine


def form_of(task_spec: Any) -> list[dict[str, Any]]:
    """The Camunda form fields of a user task, as JSON (empty: no form, any JSON object)."""
    form = getattr(task_spec, "form", None)
    fields = []
    for field in getattr(form, "fields", None) or []:
        entry: dict[str, Any] = {
            "id": field.id, "label": field.label or field.id, "type": field.type or "string",
            "default": field.default_value or None,
            "validation": {v.name: v.config for v in field.validation},
        }
        if field.type == "enum":
            entry["options"] = [{"id": o.id, "name": o.name} for o in getattr(field, "options", [])]
        fields.append(entry)
    return fields


def validate(form: list[dict[str, Any]], variables: dict[str, Any]) -> dict[str, Any]:
    """Check and convert ``variables`` against ``form``; raise :class:`FormInvalid`."""
    if not form:
        return variables
    errors: dict[str, str] = {}
    clean = dict(variables)
    for field in form:
        fid, kind, rules = field["id"], field["type"], field.get("validation") or {}
        value = variables.get(fid)
        if value is None or value == "":
            if "required" in rules:
                errors[fid] = "is required"
            continue
        try:
            clean[fid] = _convert(kind, value, field)
        except ValueError as exc:
            errors[fid] = str(exc)
            continue
        broken = _rule_error(clean[fid], rules)
        if broken:
            errors[fid] = broken
    if errors:
        raise FormInvalid(errors)
    return clean


def _convert(kind: str, value: Any, field: dict[str, Any]) -> Any:
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false", "on", "off", "yes", "no", "1", "0"):
            return str(value).lower() in ("true", "on", "yes", "1")
        raise ValueError("must be true or false")
    if kind == "long":
        if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
            raise ValueError("must be a whole number")
        return int(value)
    if kind == "date":
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError as exc:
            raise ValueError("must be a date (YYYY-MM-DD)") from exc
    if kind == "enum":
        options = [o["id"] for o in field.get("options", [])]
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value
    return str(value)


def _rule_error(value: Any, rules: dict[str, Any]) -> str | None:
    try:
        if "minlength" in rules and len(str(value)) < int(rules["minlength"]):
            return f"must have at least {rules['minlength']} characters"
        if "maxlength" in rules and len(str(value)) > int(rules["maxlength"]):
            return f"must have at most {rules['maxlength']} characters"
        if "min" in rules and float(value) < float(rules["min"]):
            return f"must be at least {rules['min']}"
        if "max" in rules and float(value) > float(rules["max"]):
            return f"must be at most {rules['max']}"
    except (TypeError, ValueError):
        return "does not satisfy its validation"
    return None


def sync_user_tasks(session: Session, instance: ProcessInstance, workflow: BatonWorkflow) -> None:
    """Make the ``user_task`` rows match the instance's READY user and manual tasks."""
    ready = {str(t.id): t for t in all_tasks(workflow)
             if t.state == TaskState.READY and isinstance(t.task_spec, UserTask | ManualTask)}
    existing = {r.id: r for r in session.scalars(select(UserTaskRow).where(UserTaskRow.instance_id == instance.id))}
    for task_id, row in existing.items():
        if task_id not in ready:
            session.delete(row)
    missing = [t for task_id, t in ready.items() if task_id not in existing]
    if not missing:
        return
    bindings = workflow.specs.bindings if workflow.specs is not None else {}
    for task in missing:
        people = camunda_people.people_of(task, (bindings.get(task.task_spec.bpmn_id) or {}).get("user_task") or {})
        session.add(UserTaskRow(
            id=str(task.id), instance_id=instance.id, element_id=task.task_spec.bpmn_id,
            name=task.task_spec.bpmn_name or task.task_spec.bpmn_id, business_key=instance.business_key,
            assignee=people.get("assignee"), candidate_users=_names(people.get("candidate_users")),
            candidate_groups=_names(people.get("candidate_groups")),
            form=_form(task, bindings), created_at=utcnow(),
        ))


def _form(task: Any, bindings: dict[str, Any]) -> list[dict[str, Any]]:
    """A deployed Camunda/SpiffArena form and instructions (engine.forms), else Camunda 7's form fields."""
    fields = forms.task_fields(bindings.get(task.task_spec.bpmn_id) or {}, task.data)
    return fields if fields is not None else form_of(task.task_spec)


def _names(names: list[str] | None) -> str | None:
    """Stored as ",a,b," so that a name matches whole (``finance`` does not match ``fin``)."""
    return f",{','.join(names)}," if names else None


def _row_dict(row: UserTaskRow) -> dict[str, Any]:
    return {
        "id": row.id, "instance_id": row.instance_id, "element_id": row.element_id, "name": row.name,
        "business_key": row.business_key, "assignee": row.assignee, "claimed_by": row.claimed_by,
        "candidate_users": [n for n in (row.candidate_users or "").split(",") if n],
        "candidate_groups": [n for n in (row.candidate_groups or "").split(",") if n],
        "form": row.form or [], "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def list_user_tasks(engine: Engine, *, user: str | None = None, groups: list[str] | None = None,
                    instance_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Open tasks; with ``user``/``groups``: those assigned to, claimed by or offered to them."""
    query = select(UserTaskRow).order_by(UserTaskRow.created_at)
    if instance_id:
        query = query.where(UserTaskRow.instance_id == instance_id)
    if user or groups:
        offered = [UserTaskRow.assignee == user, UserTaskRow.claimed_by == user,
                   UserTaskRow.candidate_users.contains(f",{user},")] if user else []
        offered += [UserTaskRow.candidate_groups.contains(f",{g},") for g in groups or []]
        query = query.where(or_(*offered))
    with engine.db.reading() as session:
        return [_row_dict(r) for r in session.scalars(query.limit(limit))]


def get_user_task(engine: Engine, task_id: str) -> dict[str, Any]:
    with engine.db.reading() as session:
        row = session.get(UserTaskRow, task_id)
        if row is None:
            raise TaskNotFound(f"no open user task {task_id}")
        return _row_dict(row)


def claim_user_task(engine: Engine, task_id: str, user: str | None) -> dict[str, Any]:
    """Take (or with ``user=None`` give back) a task; refused if someone else holds it."""
    with engine.db.transaction() as session:
        row = session.get(UserTaskRow, task_id, with_for_update=True)
        if row is None:
            raise TaskNotFound(f"no open user task {task_id}")
        if user is not None and row.claimed_by not in (None, user):
            raise InvalidVariables(f"task {task_id} is claimed by {row.claimed_by}")
        row.claimed_by, row.claimed_at = user, utcnow() if user else None
        return _row_dict(row)


def complete_user_task_by_id(engine: Engine, task_id: str, variables: dict[str, Any] | None,
                             user: str | None = None) -> str:
    """Validate ``variables`` against the task's form, then complete it; return the instance status."""
    from uuid import UUID

    from .instances import Note, Step, advance, check_variables, require_active

    task_row = get_user_task(engine, task_id)
    if user and task_row["claimed_by"] not in (None, user):
        raise InvalidVariables(f"task {task_id} is claimed by {task_row['claimed_by']}")
    form = task_row["form"]
    clean = (forms.validate if forms.is_schema_form(form) else validate)(form, check_variables(variables))

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        require_active(instance)
        try:
            task = workflow.get_task_from_id(UUID(task_id))
        except Exception as exc:
            raise TaskNotFound(f"no open user task {task_id}") from exc
        if task.state != TaskState.READY:
            raise TaskNotFound(f"user task {task_id} is no longer open")
        task.data.update(clean)
        task.run()
        step.events.append(Note(task.task_spec.bpmn_id, "submitted", {"by": user} if user else None, task))

    return advance(engine, task_row["instance_id"], apply)


def start_form(engine: Engine, key: str, version: int | None = None) -> dict[str, Any] | None:
    """The form to start ``key`` with (Camunda 7's start form: camunda:formKey/formRef on the none
    start event), as ``{"key", "form_ref", "fields"}``; None when the process has none."""
    from .definitions import get_definition

    with engine.db.reading() as session:
        bindings = get_definition(session, key, version).bindings or {}
    found = forms.start_form_fields(bindings)
    if found is None:
        return None
    bound, fields = found
    return {"key": bound.get("key"), "form_ref": bound.get("form_ref"), "fields": fields}


def validate_start_form(engine: Engine, key: str, variables: dict[str, Any] | None,
                        version: int | None = None) -> dict[str, Any]:
    """A start form's submission checked and converted field by field (:class:`FormInvalid`);
    without a start form, the variables as given. The UI's start and ``/api/v1``'s validate with it;
    ``/engine-rest``'s start takes any variables, as Camunda's start does."""
    from .instances import check_variables

    clean = check_variables(variables)
    found = start_form(engine, key, version)
    return forms.validate(found["fields"], clean) if found else clean


def task_form_reference(engine: Engine, task_id: str) -> dict[str, Any] | None:
    """The form key (or Camunda Form reference) the diagram names for open task ``task_id``, as
    Camunda's ``GET /task/{id}/form`` reports it; None: the task names none."""
    from .models import ProcessDefinition

    with engine.db.reading() as session:
        row = session.get(UserTaskRow, task_id)
        if row is None:
            raise TaskNotFound(f"no open user task {task_id}")
        element_id = row.element_id
        bindings = session.execute(select(ProcessDefinition.bindings).join(
            ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
            .where(ProcessInstance.id == row.instance_id)).scalar_one()
    form = ((bindings or {}).get(element_id) or {}).get("form") or {}
    if not form.get("key") and not form.get("form_ref"):
        return None
    return {"key": form.get("key"), "form_ref": form.get("form_ref")}
