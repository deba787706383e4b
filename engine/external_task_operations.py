"""External tasks as an operator sees them: the list (Camunda's ``GET /external-task``) and
setting a task's retries (``PUT /external-task/{id}/retries``).

The worker's side (fetch and lock, complete, failure...) is ``external_tasks.py``. Retries are
Camunda's: a number the workers report, ``None`` until one does; setting them to more than 0 on
a task whose retries ran out resolves its incident and makes it fetchable again, setting them to
0 opens an incident on it, as Camunda 7 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from .errors import InvalidRequest
from .external_tasks import ExternalTask, _advance_external, _aware, _columns, _open_job, _task
from .instances import Note, Step
from .jobs import JobTicket
from .models import Incident, Job, ProcessDefinition, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .runtime import Engine

_OPEN = ("pending", "running", "failed")


@dataclass(frozen=True)
class ExternalTaskQuery:
    """Filters of Camunda's external-task query; ``None``/``False`` is no filter."""

    task_id: str | None = None
    topic: str | None = None
    worker_id: str | None = None
    element_id: str | None = None
    instance_id: str | None = None
    definition_id: str | None = None
    locked: bool = False
    not_locked: bool = False
    with_retries_left: bool = False
    no_retries_left: bool = False
    suspended: bool = False
    active: bool = False
    first: int = 0
    max_results: int | None = None


def list_external_tasks(engine: Engine, query: ExternalTaskQuery) -> list[ExternalTask]:
    """The open external tasks that pass every filter of ``query``, oldest first (without variables)."""
    statement = (select(*_columns()).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
                 .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                 .where(Job.kind == "external", Job.status.in_(_OPEN)).order_by(Job.created_at, Job.id))
    for column, value in ((Job.id, query.task_id), (Job.topic, query.topic), (Job.lock_owner, query.worker_id),
                          (Job.element_id, query.element_id), (Job.instance_id, query.instance_id),
                          (ProcessDefinition.id, query.definition_id)):
        if value is not None:
            statement = statement.where(column == value)
    now = utcnow()
    found: list[ExternalTask] = []
    with engine.db.reading() as session:
        for row in session.execute(statement):
            task = _task(row, [])
            job = row[0]
            locked = job.status == "running" and job.locked_until is not None and _aware(job.locked_until) > now
            checks = ((query.locked, locked), (query.not_locked, not locked),
                      (query.with_retries_left, task.retries is None or task.retries > 0),
                      (query.no_retries_left, task.retries == 0), (query.suspended, task.suspended),
                      (query.active, not task.suspended))
            if all(passes for wanted, passes in checks if wanted):
                found.append(task)
    end = None if query.max_results is None else query.first + query.max_results
    return found[query.first:end]


def set_external_retries(engine: Engine, job_id: str, retries: int, *, by: str | None = None) -> str:
    """Camunda's "set retries": > 0 on a task whose retries ran out resolves its incident and makes
    it fetchable again; 0 opens an incident on it (a locked task keeps its lock either way)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidRequest(f"retries must be a whole number greater than or equal to 0, not {retries!r}")

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        now = utcnow()
        job.payload = {**(job.payload or {}), "retries": retries}
        task = workflow.find_task(job.task_id)
        if retries > 0 and job.status == "failed":
            for incident in session.scalars(select(Incident).where(Incident.job_id == job.id,
                                                                   Incident.resolved_at.is_(None))):
                incident.resolved_at = now
                step.events.append(Note(job.element_id, "retried", {"incident": incident.id, "retries": retries,
                                                                    "by": by}, task))
            job.settle("pending")
            job.attempts, job.next_run_at, job.lock_owner, job.locked_until = 0, now, None, None
            step.tickets.append(JobTicket(job.id, instance.id, job.kind))
        elif retries == 0 and job.status != "failed":
            job.settle("failed")
            session.add(Incident(instance_id=instance.id, job_id=job.id, element_id=job.element_id,
                                 message=f"{job.element_id}: retries set to 0" + (f" by {by}" if by else ""),
                                 detail="ExternalTaskFailure", created_at=now))
            step.events.append(Note(job.element_id, "failed", {"error": "retries set to 0", "by": by}, task))

    with engine.db.reading() as session:
        _open_job(session, job_id)
    return _advance_external(engine, job_id, act)

