"""What comes back from a job: a call's result or failure, a child instance, a timer, a publish.

Each is one ``advance`` of the job's instance (``_advance_job``), idempotent: a job already
settled is left alone, so a redelivered message or a second worker changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from . import call_cancellation, outbox
from ._bpmn import commit_points
from ._bpmn.errorflow import throw_error
from ._bpmn.workflow import BatonWorkflow
from .attempts import attempt_row, keep_attempt
from .db import database_unavailable
from .errors import BatonError, BpmnErrorRaised, EndpointFailure, FatalFailure, JobNotHeld, RetryableFailure
from .instances import ENDED, Note, Step, advance, check_variables, job_instance, lock_instance, record_notes, start
from .jobs import JobCall, JobTicket
from .models import Incident, Job, JobAttempt, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine

log = logging.getLogger("baton.engine")

Act = Callable[["Session", ProcessInstance, BatonWorkflow, Step, Job], None]


def _advance_job(engine: Engine, job_id: str, act: Act, *,
                 unless: tuple[str, ...] = ("done", "cancelled")) -> str | None:
    """Advance the job's instance with ``act`` unless the job is gone or already settled."""
    instance_id = job_instance(engine, job_id)
    if instance_id is None:
        return None

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        job = session.get(Job, job_id)
        if job is not None and job.status not in unless:
            act(session, instance, workflow, step, job)

    return advance(engine, instance_id, apply)


def require_holder(job: Job, owner: str | None, attempt: int | None = None) -> None:
    """Refuse a worker's outcome for a job it no longer holds: its lease ran out and the job was
    claimed again (by another worker, or by the same one for a later attempt), or it was handed back.
    ``owner`` None is the engine itself (giving up a job, an operator), which always may."""
    if owner is None:
        return
    if job.status != "running" or job.lock_owner != owner or (attempt is not None and job.attempts != attempt):
        held = f"held by {job.lock_owner!r}" if job.status == "running" and job.lock_owner else f"{job.status}"
        raise JobNotHeld(f"job {job.id} ({job.element_id}) is not held by {owner!r}"
                         f"{f' for attempt {attempt}' if attempt is not None else ''}: it is {held} now")


def complete_job(engine: Engine, job_id: str, result: dict[str, Any] | None, *,
                 owner: str | None = None, attempt: int | None = None,
                 call: JobCall | None = None, started: float | None = None) -> str | None:
    """Store a service call's result and move the instance on. Idempotent per job.

    With ``owner`` (and ``attempt``), the result is taken only from the worker that holds the job
    for that attempt: a late worker whose lease ran out gets :class:`JobNotHeld` and changes nothing.
    With ``call`` and ``started`` (when the call began), the attempt is kept (``attempts.py``)
    in the same transaction."""
    return _complete(engine, job_id, result, owner, attempt, _kept(call, started), take_next=False)[0]


def complete_job_and_take_next(engine: Engine, job_id: str, result: dict[str, Any] | None, *,
                               owner: str, attempt: int | None = None,
                               call: JobCall | None = None, started: float | None = None) -> JobCall | None:
    """:func:`complete_job`, and claim for ``owner`` the service job the instance makes next, if
    it makes one due now: the worker runs it right after this commit, with no broker round trip
    (it is ``running`` and leased in the job table like any claim, so a worker that dies with it
    loses it to the relay). None when there is no such job; the others go to the broker as usual."""
    return _complete(engine, job_id, result, owner, attempt, _kept(call, started), take_next=True)[1]


def _kept(call: JobCall | None, started: float | None) -> JobAttempt | None:
    return attempt_row(call, started) if call is not None and started is not None else None


def _complete(engine: Engine, job_id: str, result: dict[str, Any] | None, owner: str | None,
              attempt: int | None, kept: JobAttempt | None, *, take_next: bool) -> tuple[str | None, JobCall | None]:
    result = check_variables(result or {})
    steps: list[Step] = []

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        require_holder(job, owner, attempt)
        if kept is not None:
            keep_attempt(session, kept)
        if take_next:
            step.take_next_for = owner
            steps.append(step)
        task = workflow.find_task(job.task_id)
        job.settle("done", result)
        if task is None or task.state != TaskState.STARTED:
            return
        task.data.update(result)
        task.complete()

    status = _advance_job(engine, job_id, act)
    return status, (steps[-1].next_call if steps else None)


def fail_job(engine: Engine, job_id: str, failure: EndpointFailure, *,
             owner: str | None = None, attempt: int | None = None) -> str | None:
    """Turn a failed call into a retry, a BPMN error in the workflow, or an incident.

    Also the end of any job whose running raised (``adapters.runner``): when even this advance
    fails (the workflow cannot be restored or run), the job is settled without the workflow, so
    its attempts still end in an incident instead of the relay sending it again and again.
    ``owner``/``attempt`` as in :func:`complete_job`: a late worker's failure is refused."""

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        require_holder(job, owner, attempt)
        task = workflow.find_task(job.task_id)
        now = utcnow()
        job.last_error = str(failure)
        job.settle(job.status)
        # its thrower completed already, or its call activity was cancelled: only the job waits
        handing_on = job.kind in ("publish", "signal", call_cancellation.KIND)
        if not handing_on and not _job_task_waits(job, task, workflow):
            job.status = "cancelled"
            return
        if isinstance(failure, RetryableFailure) and job.attempts < job.max_attempts:
            delay = _retry_delay(engine, job)
            job.status, job.next_run_at, job.sent_at = "pending", now + timedelta(seconds=delay), now
            step.events.append(Note(job.element_id, "retrying",
                                    {"attempt": job.attempts, "error": str(failure), "retry_in_s": delay}, task))
            step.tickets.append(JobTicket(job.id, instance.id, job.kind, delay))
            return
        if isinstance(failure, BpmnErrorRaised) and task is not None and not handing_on:
            step.events.append(Note(job.element_id, "error", {"code": failure.code, "message": failure.message},
                                    task))
            if throw_error(workflow, task, failure.code, failure.message):
                job.status = "done"
                job.result = {"error": {"code": failure.code, "message": failure.message}}
                return
        job.status = "failed"
        _open_incident(session, instance, job, task, failure, step)

    try:
        return _advance_job(engine, job_id, act, unless=("done", "cancelled", "failed"))
    except Exception as exc:
        if database_unavailable(exc) or isinstance(exc, JobNotHeld):
            raise  # settling alone needs the database too; the caller says so in a line
        log.exception("job %s: failing it through its workflow failed; settling the job alone", job_id)
        return _settle_without_workflow(engine, job_id, failure, owner, attempt)


def _job_task_waits(job: Job, task: Task | None, workflow: BatonWorkflow) -> bool:
    """Whether the job's task still waits for it: a call's task is STARTED, a timer's WAITING, a
    continue job's tasks held (``_bpmn/commit_points.py``)."""
    if job.kind == "continue":
        return any(commit_points.is_held(workflow.find_task(t)) for t in (job.payload or {}).get("tasks", []))
    if task is None:
        return False
    return task.state == TaskState.STARTED or (job.kind == "timer" and task.state == TaskState.WAITING)


def _retry_delay(engine: Engine, job: Job) -> float:
    return float(engine.settings.retry_base_seconds * (2 ** max(job.attempts - 1, 0)))


def _settle_without_workflow(engine: Engine, job_id: str, failure: EndpointFailure,
                             owner: str | None = None, attempt: int | None = None) -> str | None:
    """Retry or give up a job with its rows only (the workflow could not be advanced)."""
    instance_id = job_instance(engine, job_id)
    if instance_id is None:
        return None
    tickets: list[JobTicket] = []
    with engine.db.transaction() as session:
        instance = lock_instance(session, instance_id)
        job = session.get(Job, job_id)
        if job is None or job.status not in ("pending", "running"):
            return instance.status
        require_holder(job, owner, attempt)
        step = Step()
        job.last_error = str(failure)
        job.settle(job.status)
        now = utcnow()
        if isinstance(failure, RetryableFailure) and job.attempts < job.max_attempts:
            delay = _retry_delay(engine, job)
            job.status, job.next_run_at, job.sent_at = "pending", now + timedelta(seconds=delay), now
            step.events.append(Note(job.element_id, "retrying",
                                    {"attempt": job.attempts, "error": str(failure), "retry_in_s": delay}))
            tickets.append(JobTicket(job.id, instance.id, job.kind, delay))
        else:
            job.status = "failed"
            _open_incident(session, instance, job, None, failure, step)
            if instance.status not in ENDED:
                instance.status = "incident"
        record_notes(session, instance, step.events)
        instance.updated_at = now
        status = instance.status
    engine.notifier(tickets)
    return status


def give_up_job(engine: Engine, job_id: str) -> str | None:
    """A job came back (the relay, a redelivery) with its attempts used up: the last run ended
    without settling it (its process died), so it becomes an incident instead of running again."""
    with engine.db.reading() as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        attempts, last_error = job.attempts, job.last_error
    reason = f"gave up after {attempts} attempts, the last one ended without an outcome"
    return fail_job(engine, job_id, FatalFailure(reason + (f" (last error: {last_error})" if last_error else "")))


def start_child(engine: Engine, job_id: str) -> str | None:
    """Run a call job: start the called process as a child instance (once, even if run twice)."""
    with engine.db.reading() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("running", "pending"):
            return None
        payload, instance_id, task_id = dict(job.payload or {}), job.instance_id, job.task_id
        child = session.scalar(select(ProcessInstance.id).where(ProcessInstance.parent_instance_id == instance_id,
                                                                ProcessInstance.parent_task_id == task_id))
        business_key = session.scalar(select(ProcessInstance.business_key).where(ProcessInstance.id == instance_id))
    if child is None:
        try:
            child = start(engine, payload["key"], payload.get("variables") or {}, business_key=business_key,
                          version=payload.get("version"), parent=(instance_id, task_id))
        except BatonError as exc:
            made = f" (zeebe:calledElement processId {payload['expression']!r} gave it; deploy a process with that " \
                "id, then retry this incident)" if payload.get("expression") else \
                " (the called process is looked up when the call is reached: deploy it, then retry this incident)"
            fail_job(engine, job_id, FatalFailure(f"cannot start {payload.get('key')!r}: {exc}{made}"))
            return None

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        found = session.get(Job, job_id)
        if found is not None and found.status in ("pending", "running"):
            found.settle("waiting", {"child": child})
            step.events.append(Note(found.element_id, "called", {"child": child, "key": payload["key"]},
                                    workflow.find_task(task_id)))
        elif found is not None and found.status == "cancelled":  # its task was cancelled while it started
            step.tickets += call_cancellation.cancel_orphan_job(session, instance, task_id, found.element_id, child)

    advance(engine, instance_id, apply)
    return child


def return_from_child(engine: Engine, job_id: str) -> str | None:
    """Run a return job: the child ended; complete the caller's call activity with its variables."""

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        job.settle("done")
        payload = job.payload or {}
        call = session.scalars(select(Job).where(Job.instance_id == instance.id, Job.task_id == job.task_id,
                                                 Job.kind == "call")).first()
        task = workflow.find_task(job.task_id)
        if task is None or task.state != TaskState.STARTED:
            return
        if payload.get("status") in ("completed", "compensated"):
            if call is not None:
                call.status = "done"
            task.data.update(payload.get("variables") or {})
            task.complete()
        else:
            message = f"{task.task_spec.bpmn_id}: called instance {payload.get('child')} ended {payload.get('status')}"
            if call is not None:
                call.status = "failed"
            session.add(Incident(instance_id=instance.id, task_id=job.task_id, job_id=call.id if call else None,
                                 element_id=task.task_spec.bpmn_id, message=message, detail="CalledInstanceEnded",
                                 created_at=datetime.now(UTC)))
            step.events.append(Note(task.task_spec.bpmn_id, "failed", {"error": message}, task))

    return _advance_job(engine, job_id, act, unless=("done",))


def finish_publish(engine: Engine, job_id: str, result: dict[str, Any]) -> str | None:
    """A message or signal the instance threw was handed on (bus or Baton itself). The workflow
    does not move, but its status may (``running`` while the publish was in flight)."""

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        job.settle("done", result)

    return _advance_job(engine, job_id, act)


def fire_timer(engine: Engine, job_id: str) -> str | None:
    """A timer job came due: let the workflow see the time (SpiffWorkflow fires due timers)."""

    def act(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step, job: Job) -> None:
        due = outbox.timer_due(workflow, job.task_id)
        now = utcnow()
        if due is not None and due > now:  # woken early (clock skew, an early ETA): wait again
            job.settle("pending")
            job.next_run_at, job.sent_at = due, now
            job.attempts = max(0, job.attempts - 1)  # an early wake-up is no attempt
            step.tickets.append(JobTicket(job.id, instance.id, job.kind, (due - now).total_seconds()))
            return
        job.settle("done")
        workflow.refresh_timers()

    return _advance_job(engine, job_id, act)



def _open_incident(session: Session, instance: ProcessInstance, job: Job, task: Task | None,
                   failure: EndpointFailure, step: Step) -> None:
    message = f"{job.element_id}: {failure}"
    if isinstance(failure, RetryableFailure):
        message += f" (after {job.attempts} attempts)"
    session.add(Incident(instance_id=instance.id, job_id=job.id, element_id=job.element_id,
                         message=message, detail=type(failure).__name__, created_at=datetime.now(UTC)))
    step.events.append(Note(job.element_id, "failed", {"error": str(failure), "attempts": job.attempts}, task))
