"""Read models: the JSON documents the CLI, the API and the UI show. Stable keys (tools read them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from . import definitions
from .errors import InstanceNotFound, NotFound
from .models import ActivityEvent, DecisionSource, Deployment, Incident, Job, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from .runtime import Engine


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC to the millisecond, with its offset: the API's one time format (SQLite hands
    back naive UTC values, PostgreSQL aware ones)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def instance_summary(instance: ProcessInstance, definition: ProcessDefinition) -> dict[str, Any]:
    return {
        "id": instance.id,
        "status": instance.status,
        "definition": {"key": definition.key, "version": definition.version, "name": definition.name},
        "business_key": instance.business_key,
        "created_at": _iso(instance.created_at),
        "updated_at": _iso(instance.updated_at),
        "ended_at": _iso(instance.ended_at),
    }


def get_instance(engine: Engine, instance_id: str, *, history: bool = True) -> dict[str, Any]:
    """The whole instance document (``baton show --json``, ``GET /api/v1/process-instances/ID``)."""
    with engine.db.reading() as session:
        row = session.execute(
            select(ProcessInstance, ProcessDefinition)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id == instance_id)
        ).first()
        if row is None:
            raise InstanceNotFound(f"no process instance {instance_id}")
        instance, definition = row
        doc = instance_summary(instance, definition)
        doc["variables"] = instance.variables or {}
        doc["revision"] = instance.revision
        doc["parent_instance_id"] = instance.parent_instance_id
        doc["children"] = [
            {"id": c.id, "status": c.status, "definition": {"key": d.key, "version": d.version},
             "element_id": _called_from(session, c)}
            for c, d in session.execute(
                select(ProcessInstance, ProcessDefinition)
                .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                .where(ProcessInstance.parent_instance_id == instance_id).order_by(ProcessInstance.created_at))
        ]
        if history:
            doc["history"] = [
                {"seq": e.seq, "element_id": e.element_id, "element_type": e.element_type, "name": e.name,
                 "event": e.event, "at": _iso(e.at), "details": e.details}
                for e in session.scalars(select(ActivityEvent).where(ActivityEvent.instance_id == instance_id)
                                         .order_by(ActivityEvent.seq))
            ]
        doc["jobs"] = [
            {"id": j.id, "element_id": j.element_id, "kind": j.kind, "topic": j.topic, "status": j.status,
             "attempts": j.attempts, "max_attempts": j.max_attempts, "next_run_at": _iso(j.next_run_at),
             "last_error": j.last_error, "idempotency_key": j.idempotency_key, "resends": j.resends or 0}
            for j in session.scalars(select(Job).where(Job.instance_id == instance_id).order_by(Job.created_at))
        ]
        doc["incidents"] = [
            _incident(i) for i in session.scalars(
                select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.created_at))
        ]
        return doc


def _called_from(session: Any, child: ProcessInstance) -> str | None:
    return session.scalar(select(Job.element_id).where(Job.instance_id == child.parent_instance_id,
                                                       Job.task_id == child.parent_task_id, Job.kind == "call"))


def _incident(i: Incident) -> dict[str, Any]:
    return {"id": i.id, "instance_id": i.instance_id, "element_id": i.element_id, "message": i.message,
            "job_id": i.job_id, "created_at": _iso(i.created_at), "resolved_at": _iso(i.resolved_at)}


def list_instances(engine: Engine, *, status: str | None = None, definition: str | None = None,
                   version: int | None = None, business_key: str | None = None,
                   limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of instances, newest first, with the total that matches."""
    query = select(ProcessInstance, ProcessDefinition).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    if status:
        query = query.where(ProcessInstance.status == status)
    if definition:
        query = query.where(ProcessDefinition.key == definition)
    if version:
        query = query.where(ProcessDefinition.version == version)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    with engine.db.reading() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.execute(query.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id)
                               .limit(limit).offset(offset)).all()
        return {"total": total, "limit": limit, "offset": offset,
                "items": [instance_summary(i, d) for i, d in rows]}


def list_incidents(engine: Engine, *, open_only: bool = True) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        query = select(Incident).order_by(Incident.created_at.desc())
        if open_only:
            query = query.where(Incident.resolved_at.is_(None))
        return [_incident(i) for i in session.scalars(query.limit(1000))]


def list_definitions(engine: Engine) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        return definitions.list_definitions(session)


def definition_xml(engine: Engine, key: str, version: int | None = None) -> str:
    with engine.db.reading() as session:
        return definitions.get_definition(session, key, version).source_xml


def open_tasks(engine: Engine, instance_id: str) -> list[dict[str, Any]]:
    """The user and manual tasks of an instance waiting for someone to complete them."""
    from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
    from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
    from SpiffWorkflow.util.task import TaskState

    from ._bpmn.history import all_tasks
    from .instances import restore_workflow

    with engine.db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(f"no process instance {instance_id}")
        workflow = restore_workflow(engine, session, instance)
        return [
            {"element_id": t.task_spec.bpmn_id, "name": t.task_spec.bpmn_name, "type": type(t.task_spec).__name__,
             "task_id": str(t.id)}
            for t in all_tasks(workflow)
            if t.state == TaskState.READY and isinstance(t.task_spec, UserTask | ManualTask)
        ]


def get_compensation(engine: Engine, instance_id: str) -> dict[str, Any]:
    """The compensation path: handlers that ran (in order) and what would be undone now, per scope.

    ``executed``: one row per handler run, in execution order (activity, handler, iteration,
    started_at, ended_at, status). ``pending``: for each live scope of a running instance, the
    activities a compensation thrown there now would undo, in the order their handlers would run.
    """
    from .instances import ENDED, restore_workflow

    with engine.db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(f"no process instance {instance_id}")
        executed: list[dict[str, Any]] = []
        open_steps: dict[tuple[Any, ...], dict[str, Any]] = {}
        rows = session.scalars(select(ActivityEvent).where(
            ActivityEvent.instance_id == instance_id, ActivityEvent.event.in_(("compensating", "compensated")))
            .order_by(ActivityEvent.seq))
        for row in rows:
            details = row.details or {}
            key = (details.get("activity_task"), details.get("handler"))
            if row.event == "compensating":
                step = {"activity": details.get("activity"), "handler": details.get("handler"),
                        "iteration": details.get("iteration"), "started_at": _iso(row.at), "ended_at": None,
                        "status": "compensating"}
                executed.append(step)
                open_steps[key] = step
            elif key in open_steps:
                open_steps.pop(key).update(ended_at=_iso(row.at), status="compensated")
        pending: list[dict[str, Any]] = []
        if instance.status not in ENDED:
            workflow = restore_workflow(engine, session, instance)
            if workflow.compensation is not None:
                pending = workflow.compensation.pending(workflow)
        return {"instance_id": instance_id, "status": instance.status, "executed": executed, "pending": pending}


def _deployment(d: Deployment, definitions: list[ProcessDefinition],
                decisions: list[tuple[str, str | None, str]]) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "deployed_by": d.deployed_by, "deployed_at": _iso(d.deployed_at),
            "checksum": d.checksum,
            "definitions": [{"key": p.key, "version": p.version, "name": p.name, "file": p.file_name, "id": p.id}
                            for p in definitions],
            "decisions": [{"decision_id": decision_id, "name": name, "file": file_name}
                          for decision_id, name, file_name in decisions]}


def _decisions_of(session: Any, deployment_ids: list[str]) -> dict[str, list[tuple[str, str | None, str]]]:
    """The decisions (from DMN files) each deployment carried, by deployment id."""
    found: dict[str, list[tuple[str, str | None, str]]] = {d: [] for d in deployment_ids}
    for deployment_id, decision_id, name, file_name in session.execute(
            select(DecisionSource.deployment_id, DecisionSource.decision_id, DecisionSource.name,
                   DecisionSource.file_name).where(DecisionSource.deployment_id.in_(deployment_ids))
            .order_by(DecisionSource.file_name, DecisionSource.decision_id)):
        found[deployment_id].append((decision_id, name, file_name))
    return found


def list_deployments(engine: Engine, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Deployments newest first, each with the definition versions it made and the decisions of its
    DMN files (each file downloadable: :func:`engine.deployments.deployment_file`)."""
    with engine.db.reading() as session:
        total = session.scalar(select(func.count()).select_from(Deployment)) or 0
        rows = list(session.scalars(select(Deployment).order_by(Deployment.deployed_at.desc(), Deployment.id)
                                    .limit(limit).offset(offset)))
        made: dict[str, list[ProcessDefinition]] = {d.id: [] for d in rows}
        for p in session.scalars(select(ProcessDefinition).where(ProcessDefinition.deployment_id.in_(list(made)))
                                 .order_by(ProcessDefinition.key)):
            made[p.deployment_id].append(p)
        decisions = _decisions_of(session, list(made))
        return {"total": total, "limit": limit, "offset": offset,
                "items": [_deployment(d, made[d.id], decisions[d.id]) for d in rows]}


def get_deployment(engine: Engine, deployment_id: str) -> dict[str, Any]:
    with engine.db.reading() as session:
        found = session.get(Deployment, deployment_id)
        if found is None:
            raise NotFound(f"no deployment {deployment_id}")
        made = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.deployment_id == found.id)
                                    .order_by(ProcessDefinition.key)))
        return _deployment(found, made, _decisions_of(session, [found.id])[found.id])
