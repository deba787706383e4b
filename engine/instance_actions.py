"""What operators and task forms do to an instance: complete a user task, suspend, resume,
cancel, retry an incident. Each is one :func:`instances.advance`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from ._bpmn.history import all_tasks
from ._bpmn.workflow import BatonWorkflow
from .errors import IncidentNotFound, InstanceNotActive, TaskNotFound
from .instances import Note, Step, advance, require_active
from .jobs import JobTicket
from .models import Incident, Job, ProcessInstance, utcnow
from .variables import check_variables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine


def complete_user_task(engine: Engine, instance_id: str, element_id: str,
                       variables: dict[str, Any] | None = None) -> str:
    """Complete the waiting user or manual task ``element_id`` with ``variables``."""
    variables = check_variables(variables)

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        require_active(instance)
        for task in all_tasks(workflow):
            if (task.state == TaskState.READY and task.task_spec.bpmn_id == element_id
                    and isinstance(task.task_spec, UserTask | ManualTask)):
                task.data.update(variables)
                task.run()
                return
        raise TaskNotFound(f"instance {instance.id} has no waiting user task {element_id!r}")

    return advance(engine, instance_id, apply)


def suspend(engine: Engine, instance_id: str) -> str:
    """Hold the instance: no job of it runs, no message or user task reaches it, until resume."""

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        require_active(instance)
        instance.status = "suspended"
        step.events.append(Note("process", "suspended"))

    return advance(engine, instance_id, apply)


def resume(engine: Engine, instance_id: str) -> str:
    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        if instance.status != "suspended":
            raise InstanceNotActive(f"instance {instance.id} is {instance.status}, not suspended")
        instance.status = "running"
        step.events.append(Note("process", "resumed"))
        for job in session.scalars(select(Job).where(Job.instance_id == instance.id, Job.status == "pending")):
            job.sent_at = utcnow()
            step.tickets.append(JobTicket(job.id, instance.id, job.kind))

    return advance(engine, instance_id, apply)


def cancel(engine: Engine, instance_id: str, reason: str | None = None, *,
           details: dict[str, Any] | None = None) -> str:
    """Cancel the instance; the instances its call activities called are cancelled after it
    (``call_cancellation.py``). ``details`` go into the history row beside ``reason``."""

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        require_active(instance, suspended_ok=True)
        workflow.cancel()
        # a call job waiting on its child is left to the advance: it cancels the child (call_cancellation.py)
        session.execute(update(Job).where(Job.instance_id == instance.id,
                                          Job.status.in_(("pending", "running")))
                        .values(status="cancelled", updated_at=utcnow()))
        for incident in session.scalars(select(Incident).where(Incident.instance_id == instance.id,
                                                               Incident.resolved_at.is_(None))):
            incident.resolved_at = utcnow()
        said = {**({"reason": reason} if reason else {}), **(details or {})}
        step.events.append(Note("process", "cancelled", said or None))
        step.status = "cancelled"

    return advance(engine, instance_id, apply)


def retry_incident(engine: Engine, incident_id: str) -> str:
    """Resolve an incident and run its job again from attempt one."""
    with engine.db.reading() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        instance_id = incident.instance_id

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        found = session.get(Incident, incident_id)
        if found is None or found.resolved_at is not None:
            return
        found.resolved_at = utcnow()
        step.events.append(Note(found.element_id, "retried", {"incident": found.id}))
        if found.job_id:
            job = session.get(Job, found.job_id)
            if job is not None and job.status == "failed":
                job.status, job.attempts, job.next_run_at, job.sent_at = "pending", 0, utcnow(), utcnow()
                step.tickets.append(JobTicket(job.id, instance.id, job.kind))
        elif found.task_id:
            task = workflow.find_task(found.task_id)
            if task is not None and task.state == TaskState.ERROR:
                task._set_state(TaskState.READY)  # the engine runs it again on this advance

    return advance(engine, instance_id, apply)
