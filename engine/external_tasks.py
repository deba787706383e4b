"""External tasks: service-task jobs that wait for a worker outside Baton to fetch them.

A service task with ``camunda:type="external" camunda:topic="T"`` whose topic is bound to no
endpoint (``BATON_ENDPOINTS``) becomes a job of kind ``external`` when it is reached
(``outbox.create_service_jobs``). Celery never runs it and the relay never sends it: a worker
takes it with :func:`fetch_and_lock`, the way Camunda 7's external-task clients do, and hands
back a result, a failure or a BPMN error. Each of those is one ``advance`` of the instance, so
history, compensation, incidents and the UI treat it as any other job.

The lock is the job's lease: ``lock_owner`` is the worker id, ``locked_until`` the lock's end.
A lock that ran out frees the task for the next fetch; until someone else fetches it, its
worker may still complete it (as in Camunda 7, which checks the worker id, not the clock).
Only the worker that holds the lock may complete it, fail it or throw a BPMN error
(:class:`JobNotHeld` otherwise, with Camunda's own wording).

Retries follow Camunda, not Baton's backoff: a task has none (``None``) until a worker reports a
failure with a number; a failure with ``retries`` > 0 makes it fetchable again after
``retry_timeout``; with 0 it is an incident (retrying the incident makes it fetchable again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select, update

from . import metrics
from ._bpmn import camunda_io
from ._bpmn.errorflow import throw_error
from .errors import ExternalTaskNotFound, InvalidRequest, JobNotHeld
from .instances import Note, Step, advance, check_variables
from .models import Incident, Job, ProcessDefinition, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .runtime import Engine

#: The longest a fetch waits for a task to appear (Camunda's limit is 30 minutes). A client that
#: asks for more gets an empty answer after this and fetches again, as it does at any timeout:
#: each waiting fetch holds a web thread, so the wait is kept short.
MAX_WAIT_SECONDS = 30.0
#: A waiting fetch looks again after this long at first, then less often, up to POLL_MAX.
POLL_FIRST, POLL_MAX = 0.1, 1.0
#: Candidates read per fetch beyond ``max_tasks`` (others may lock some of them first).
CANDIDATE_SLACK = 20


@dataclass(frozen=True)
class TopicRequest:
    """One entry of a fetch's ``topics``: which tasks, for how long, with which variables."""

    name: str
    lock_seconds: float
    variables: list[str] | None = None  # None: all of them
    business_key: str | None = None
    definition_key: str | None = None
    process_variables: dict[str, Any] = field(default_factory=dict)  # equal values only


@dataclass(frozen=True)
class ExternalTask:
    """A locked (or open) external task, as a worker sees it."""

    id: str
    topic: str
    worker_id: str | None
    lock_expires_at: datetime | None
    instance_id: str
    task_id: str
    element_id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    variables: dict[str, Any]
    suspended: bool = False


def _claimable(now: datetime) -> Any:
    return or_(and_(Job.status == "pending", Job.next_run_at <= now),
               and_(Job.status == "running", Job.locked_until < now))


def _columns() -> tuple[Any, ...]:
    return (Job, ProcessInstance.business_key, ProcessInstance.status, ProcessDefinition.id,
            ProcessDefinition.key)


def _task(row: Any, variables: list[str] | None = None) -> ExternalTask:
    job, business_key, status, definition_id, definition_key = row
    payload = job.payload or {}
    values = payload.get("variables") or {}
    if variables is not None:
        values = {k: values[k] for k in variables if k in values}
    retries = payload.get("retries")
    return ExternalTask(
        id=job.id, topic=job.topic or "", worker_id=job.lock_owner, lock_expires_at=job.locked_until,
        instance_id=job.instance_id, task_id=job.task_id, element_id=job.element_id,
        definition_id=definition_id, definition_key=definition_key, business_key=business_key,
        # a task fetchable again after its incident was retried starts over: no retries reported yet
        retries=None if retries == 0 and job.status != "failed" else retries,
        error_message=job.last_error, error_details=payload.get("error_details"),
        priority=int(payload.get("priority") or 0), variables=dict(values), suspended=status == "suspended")


def _matches(row: Any, topic: TopicRequest) -> bool:
    job, business_key, _, _, definition_key = row
    if topic.business_key is not None and business_key != topic.business_key:
        return False
    if topic.definition_key is not None and definition_key != topic.definition_key:
        return False
    values = (job.payload or {}).get("variables") or {}
    return all(k in values and values[k] == v for k, v in topic.process_variables.items())


def fetch_and_lock(engine: Engine, worker_id: str, topics: list[TopicRequest], max_tasks: int, *,
                   use_priority: bool = False, wait_seconds: float = 0.0) -> list[ExternalTask]:
    """Lock up to ``max_tasks`` open tasks of ``topics`` for ``worker_id`` and return them.

    With ``wait_seconds`` (long polling), a fetch that finds nothing looks again, less and less
    often (``POLL_FIRST`` doubling up to ``POLL_MAX`` seconds), until a task is there or the wait
    (at most :data:`MAX_WAIT_SECONDS`) is over; then it answers the empty list."""
    if not worker_id:
        raise InvalidRequest("workerId is required")
    if max_tasks < 0:
        raise InvalidRequest("maxTasks must be 0 or more")
    if max_tasks == 0 or not topics:
        return []
    deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT_SECONDS))
    pause = POLL_FIRST
    while True:
        found = _fetch_once(engine, worker_id, topics, max_tasks, use_priority)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        time.sleep(min(pause, left))
        pause = min(pause * 2, POLL_MAX)


def _wanted(topic: TopicRequest) -> Any:
    """The SQL side of one topic's filters (the process-variable filter is checked on the rows)."""
    found = [Job.topic == topic.name]
    if topic.business_key is not None:
        found.append(ProcessInstance.business_key == topic.business_key)
    if topic.definition_key is not None:
        found.append(ProcessDefinition.key == topic.definition_key)
    return and_(*found)


def _fetch_once(engine: Engine, worker_id: str, topics: list[TopicRequest], max_tasks: int,
                use_priority: bool) -> list[ExternalTask]:
    now = utcnow()
    query = (select(*_columns()).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .where(Job.kind == "external", or_(*(_wanted(t) for t in topics)), _claimable(now),
                    ProcessInstance.status != "suspended")
             .order_by(Job.created_at)
             .limit(500 if use_priority else max_tasks + CANDIDATE_SLACK))
    # An empty poll reads only: no write transaction (SQLite's is the whole database) until
    # there is something to lock.
    with engine.db.reading() as session:
        candidates = [(row[0].id, row[0].topic) for row in session.execute(query).all()
                      if any(_matches(row, t) for t in topics if t.name == row[0].topic)]
    if not candidates:
        return []
    locked: list[ExternalTask] = []
    with engine.db.transaction() as session:
        rows = session.execute(query.where(Job.id.in_([c[0] for c in candidates]))).all()
        if use_priority:  # highest priority first; equal ones oldest first (the sort is stable)
            rows.sort(key=lambda r: -int((r[0].payload or {}).get("priority") or 0))
        for row in rows:
            if len(locked) >= max_tasks:
                break
            job = row[0]
            topic = next((t for t in topics if t.name == job.topic and _matches(row, t)), None)
            if topic is None:
                continue
            until = now + timedelta(seconds=topic.lock_seconds)
            taken = session.execute(
                update(Job).where(Job.id == job.id, Job.kind == "external", _claimable(now))
                .values(status="running", lock_owner=worker_id, locked_until=until, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if taken:
                previous, due = job.status, job.next_run_at
                session.refresh(job)
                # a fetch is a claim: latency since due, and a takeover when the lock had run out
                metrics.job_claimed("external", previous, due, now, job.attempts + 1)
                locked.append(_task(row, topic.variables))
    return locked


def get_external_task(engine: Engine, job_id: str) -> ExternalTask:
    """The open external task ``job_id`` (locked or not); :class:`ExternalTaskNotFound` otherwise."""
    with engine.db.reading() as session:
        row = session.execute(
            select(*_columns()).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(Job.id == job_id, Job.kind == "external",
                   Job.status.in_(("pending", "running", "failed")))).first()
        if row is None:
            raise ExternalTaskNotFound(f"External task with id {job_id} does not exist")
        return _task(row)


def _instance_of(engine: Engine, job_id: str) -> str:
    with engine.db.reading() as session:
        found = session.execute(select(Job.instance_id, Job.kind, Job.status).where(Job.id == job_id)).first()
    if found is None or found.kind != "external" or found.status not in ("pending", "running", "failed"):
        raise ExternalTaskNotFound(f"External task with id {job_id} does not exist")
    return str(found.instance_id)


def _open_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.kind != "external" or job.status not in ("pending", "running", "failed"):
        raise ExternalTaskNotFound(f"External task with id {job_id} does not exist")
    return job


def _require_lock(job: Job, worker_id: str, wrong_worker: str) -> None:
    """Camunda's rule: the worker id must be the one that locked the task last."""
    if not worker_id:
        raise InvalidRequest("workerId is required")
    if job.lock_owner != worker_id or job.status != "running":
        owner = job.lock_owner if job.status == "running" else None
        raise JobNotHeld(f"{wrong_worker}'. It is locked by worker '{owner or 'null'}'.")


def _advance_external(engine: Engine, job_id: str, act: Any) -> str:
    instance_id = _instance_of(engine, job_id)

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        job = _open_job(session, job_id)
        if instance.status == "suspended":  # nothing reaches a suspended instance until it is resumed
            raise InvalidRequest(f"External task {job_id} is suspended: its instance {instance.id} is suspended")
        act(session, instance, workflow, step, job)

    return advance(engine, instance_id, apply)


def complete_external_task(engine: Engine, job_id: str, worker_id: str, variables: dict[str, Any] | None = None,
                           local_variables: dict[str, Any] | None = None) -> str:
    """The worker's result: ``variables`` go to the task's data and the instance moves on.

    ``local_variables`` are the task's locals, as in Camunda: its ``camunda:outputParameter``
    mappings read them and they end with it (without a mapping nothing reads them: they are kept
    on the job's result only)."""
    values = check_variables(variables or {})
    local = check_variables(local_variables or {})

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        _require_lock(job, worker_id, f"External Task {job_id} cannot be completed by worker '{worker_id}")
        task = workflow.find_task(job.task_id)
        job.settle("done", {"variables": values, "local_variables": local, "worker": worker_id})
        if task is not None and task.state == TaskState.STARTED:
            task.data.update(values)
            camunda_io.set_locals(task, local)
            task.complete()

    return _advance_external(engine, job_id, act)


def fail_external_task(engine: Engine, job_id: str, worker_id: str, error_message: str | None,
                       error_details: str | None = None, retries: int | None = None,
                       retry_timeout_seconds: float = 0.0) -> str:
    """A worker's failure: with ``retries`` > 0 the task is fetchable again after the timeout;
    with 0 (or none given) it becomes an incident on the task, as in Camunda 7."""
    if retries is not None and retries < 0:
        raise InvalidRequest("retries must be greater than or equal to 0")
    if retry_timeout_seconds < 0:
        raise InvalidRequest("retryTimeout must be greater than or equal to 0")

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        _require_lock(job, worker_id, f"Failure of External Task {job_id} cannot be reported by worker '{worker_id}")
        task = workflow.find_task(job.task_id)
        now = utcnow()
        job.last_error = error_message
        job.payload = {**(job.payload or {}), "retries": retries or 0, "error_details": error_details}
        job.attempts += 1
        if retries:
            job.settle("pending")
            job.next_run_at = now + timedelta(seconds=retry_timeout_seconds)
            step.events.append(Note(job.element_id, "retrying", {
                "attempt": job.attempts, "error": error_message, "retries": retries,
                "retry_in_s": retry_timeout_seconds, "worker": worker_id}, task))
            return
        job.settle("failed")
        job.lock_owner = worker_id  # Camunda keeps the worker on a task whose retries ran out
        session.add(Incident(instance_id=instance.id, job_id=job.id, element_id=job.element_id,
                             message=f"{job.element_id}: {error_message or 'the external worker reported a failure'}",
                             detail="ExternalTaskFailure", created_at=now))
        step.events.append(Note(job.element_id, "failed", {"error": error_message, "worker": worker_id,
                                                           "attempts": job.attempts}, task))

    return _advance_external(engine, job_id, act)


def external_bpmn_error(engine: Engine, job_id: str, worker_id: str, error_code: str,
                        error_message: str | None = None, variables: dict[str, Any] | None = None) -> str:
    """A worker's business error: ``variables`` go to the task's data, then the error is thrown at
    the task (an error boundary event or event sub-process with that code catches it). Uncaught,
    it is an incident on the task (Camunda 7 would end the execution silently; see docs/camunda7.md)."""
    if not error_code:
        raise InvalidRequest("errorCode is required")
    values = check_variables(variables or {})

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        _require_lock(job, worker_id, f"Bpmn error of External Task {job_id} cannot be reported by worker "
                                      f"'{worker_id}")
        task = workflow.find_task(job.task_id)
        if task is None or task.state != TaskState.STARTED:
            job.settle("cancelled")
            return
        # Camunda sets them in the task's scope, where the path that catches the error reads them: the
        # boundary events hang beside the task (their data was copied when the task started).
        for scope in [task, *(task.parent.children if task.parent is not None else [])]:
            scope.data.update(values)
        step.events.append(Note(job.element_id, "error", {"code": error_code, "message": error_message or "",
                                                          "worker": worker_id}, task))
        if throw_error(workflow, task, error_code, error_message or ""):
            job.settle("done", {"error": {"code": error_code, "message": error_message or ""}})
            return
        job.settle("failed")
        session.add(Incident(instance_id=instance.id, job_id=job.id, element_id=job.element_id,
                             message=f"{job.element_id}: BPMN error {error_code!r} was not caught"
                                     + (f": {error_message}" if error_message else ""),
                             detail="BpmnErrorRaised", created_at=utcnow()))
        step.events.append(Note(job.element_id, "failed", {"error": f"BPMN error {error_code!r} not caught"}, task))

    return _advance_external(engine, job_id, act)


def extend_external_lock(engine: Engine, job_id: str, worker_id: str, lock_seconds: float) -> None:
    """Push the end of ``worker_id``'s lock to now + ``lock_seconds``; a lock that ran out cannot be."""
    if lock_seconds <= 0:
        raise InvalidRequest("newDuration must be greater than 0")
    now = utcnow()
    with engine.db.transaction() as session:
        job = _open_job(session, job_id)
        if job.lock_owner != worker_id or job.status != "running":
            raise JobNotHeld(f"The lock of the External Task {job_id} cannot be extended by worker '{worker_id}'. "
                             f"It is locked by worker '{job.lock_owner}'.")
        if job.locked_until is None or _aware(job.locked_until) < now:
            raise JobNotHeld(f"Cannot extend a lock that expired: the lock of the External Task {job_id} "
                             f"ended at {job.locked_until}")
        job.locked_until, job.updated_at = now + timedelta(seconds=lock_seconds), now


def unlock_external_task(engine: Engine, job_id: str) -> None:
    """Free the task for the next fetch, whoever held it (an operator's call in Camunda)."""
    with engine.db.transaction() as session:
        job = _open_job(session, job_id)
        if job.status == "running":
            job.settle("pending")
            job.next_run_at = utcnow()


def lock_external_task(engine: Engine, job_id: str, worker_id: str, lock_seconds: float) -> None:
    """Lock one known task for ``worker_id`` (Camunda 7.21's ``/lock``): allowed when it is free, its
    lock ran out, or this worker holds it already (then the lock is set anew)."""
    if not worker_id:
        raise InvalidRequest("workerId is required")
    if lock_seconds <= 0:
        raise InvalidRequest("lockDuration must be greater than 0")
    now = utcnow()
    with engine.db.transaction() as session:
        job = _open_job(session, job_id)
        if job.status == "failed":
            raise JobNotHeld(f"External task {job_id} has no retries left: retry its incident first")
        held = job.status == "running" and job.locked_until is not None and _aware(job.locked_until) >= now
        if held and job.lock_owner != worker_id:
            raise JobNotHeld(f"External Task {job_id} is already locked by worker '{job.lock_owner}'.")
        job.status, job.lock_owner, job.locked_until, job.updated_at = (
            "running", worker_id, now + timedelta(seconds=lock_seconds), now)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone (they were stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


__all__ = ["ExternalTask", "TopicRequest", "complete_external_task", "extend_external_lock",
           "external_bpmn_error", "fail_external_task", "fetch_and_lock", "get_external_task",
           "lock_external_task", "unlock_external_task", "MAX_WAIT_SECONDS"]
