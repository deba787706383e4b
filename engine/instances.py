"""Moving instances: start and advance, the one place a workflow changes.

(What comes back from jobs is in ``outcomes.py``; what an advance leaves behind, in ``outbox.py``;
what operators do to an instance, in ``instance_actions.py``.)

``advance`` is the only place a workflow changes. In one transaction it locks the instance
row, restores the workflow, applies what arrived, runs the engine, records history, creates
jobs (the outbox), stores the state and bumps ``revision``. The notifier hears about new jobs
only after the commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, insert, select

from . import call_cancellation, idempotency, messages, outbox, usertasks
from ._bpmn import camunda_people
from ._bpmn.decision_binding import deciding
from ._bpmn.history import Change, Tracker, element_type
from ._bpmn.workflow import BatonWorkflow, json_copy
from .decision_lookup import DecisionRepository
from .definitions import get_definition
from .errors import (
    InstanceNotActive,
    InstanceNotFound,
)
from .in_process import InProcessRun
from .jobs import JobCall, JobTicket, take_new_job
from .models import ActivityEvent, Incident, Job, ProcessInstance, utcnow
from .search import check_business_key
from .variables import check_variables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine

ENDED = ("completed", "cancelled", "terminated", "compensated")


@dataclass
class Note:
    """A history row that Baton writes itself (not derived from a task's state change).

    ``at`` orders it among the task changes of the same advance (history rows are written in the
    order things happened, whichever of the two kinds they are)."""

    element_id: str
    event: str
    details: dict[str, Any] | None = None
    task: Task | None = None
    at: float = field(default_factory=time.time)


@dataclass
class Step:
    """What one advance did besides moving the workflow: extra history, jobs to announce."""

    events: list[Note] = field(default_factory=list)
    tickets: list[JobTicket] = field(default_factory=list)
    status: str | None = None
    #: Same-worker continuation: the worker that asks claims one service job this advance makes
    #: (``next_call``) instead of sending it through the broker (``adapters.runner``).
    take_next_for: str | None = None
    next_call: JobCall | None = None
    #: A continue job's advance (``continuations.py``): a failing script, condition or in-process
    #: call rolls the advance back to its commit point and the job is retried, instead of an
    #: incident in place (or, for the call, a job of its own).
    raise_failures: bool = False


def start(engine: Engine, key: str, variables: dict[str, Any] | None = None, *,
          business_key: str | None = None, version: int | None = None,
          parent: tuple[str, str] | None = None, idempotency_key: str | None = None, caller: str = "",
          started_by: str | None = None) -> str:
    """Create an instance of the latest (or given) version and run it to its first wait.

    With ``idempotency_key``, a start that ``caller`` made with that key before returns its
    instance instead of making another (``engine.idempotency``). ``started_by`` is the user
    who starts it, for a start event's ``camunda:initiator``."""
    variables = check_variables(variables)
    check_business_key(business_key)
    with engine.db.reading() as session:
        definition = get_definition(session, key, version)
        definition_id = definition.id
    workflow = engine.codec.new_workflow(engine._spec(definition_id))
    workflow.task_tree.data.update(variables)
    camunda_people.set_initiator(workflow, started_by)
    asked = idempotency.fingerprint(key, variables, business_key, version) if idempotency_key else ""
    with engine.db.transaction() as session:
        if idempotency_key and (earlier := idempotency.claim(session, caller, idempotency_key, asked)):
            return earlier
        instance = ProcessInstance(definition_id=definition_id, business_key=business_key,
                                   status="running", state="", revision=0, event_seq=0,
                                   variables=variables, parent_instance_id=parent[0] if parent else None,
                                   parent_task_id=parent[1] if parent else None)
        session.add(instance)
        session.flush()
        instance_id = instance.id
        if idempotency_key:
            idempotency.bind(session, caller, idempotency_key, instance_id)
        record_notes(session, instance, [Note("process", "started", {"business_key": business_key})])
        with deciding(DecisionRepository(session, definition_id)):  # business rule tasks (decision_binding.py)
            tickets = _move(engine, session, instance, workflow, Tracker.watch(workflow), Step())
        revision = instance.revision
    engine._remember_workflow(instance_id, revision, workflow)
    engine.notifier(tickets)
    return instance_id


def advance(engine: Engine, instance_id: str,
            apply: Callable[[Session, ProcessInstance, BatonWorkflow, Step], None] | None = None) -> str:
    """Lock the instance, apply ``apply`` to its workflow, run the engine, store; return the status."""
    # The workflow object is mutated in place: it leaves the cache while it changes (readers in other
    # threads restore their own copy) and is cached again only once its state has committed.
    try:
        with engine.db.transaction() as session:
            instance = lock_instance(session, instance_id)
            workflow = restore_workflow(engine, session, instance, take=True)
            tracker = Tracker.watch(workflow)
            step = Step()
            if apply is not None:
                apply(session, instance, workflow, step)
            with deciding(DecisionRepository(session, instance.definition_id)):  # decisions bind when reached
                tickets = _move(engine, session, instance, workflow, tracker, step)
            status, revision = instance.status, instance.revision
    except BaseException:
        engine._remember_workflow(instance_id, -1, None)
        raise
    engine._remember_workflow(instance_id, revision, workflow)
    engine.notifier(tickets)
    return status


# -- the moving parts ----------------------------------------------------------------------

def lock_instance(session: Session, instance_id: str) -> ProcessInstance:
    instance = session.scalars(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
    ).first()
    if instance is None:
        raise InstanceNotFound(f"no process instance {instance_id}")
    return instance


def restore_workflow(engine: Engine, session: Session, instance: ProcessInstance, *,
                     take: bool = False) -> BatonWorkflow:
    """The instance's workflow: from the in-process cache when the revision matches, else the row.

    ``take`` removes it from the cache (the caller is about to change it)."""
    cached = engine._cached_workflow(instance.id, instance.revision, take=take)
    if cached is not None:
        return cached
    return engine.codec.state_from_json(instance.state, engine._spec(instance.definition_id))


def _move(engine: Engine, session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
          tracker: Tracker, step: Step) -> list[JobTicket]:
    """Run the engine, then write history, jobs, state and status for ``instance``."""
    workflow.instance_id, workflow.business_key = instance.id, instance.business_key  # for expressions
    waits = workflow.specs is None or workflow.specs.waits_for_people_or_events
    if step.status != "cancelled":
        in_process = InProcessRun(engine, instance, workflow, roll_back=step.raise_failures)
        try:
            for _ in range(100_000):  # until only real waits are left (or the in-process budget is spent)
                workflow.run_engine(before_prune=tracker.collect)
                _compensate(engine, workflow, tracker)
                if in_process.run_ready(workflow):
                    continue
                # a buffered message delivered to a new subscription moves it again
                if not waits or not messages.sync_subscriptions(session, instance, workflow, step):
                    break
        except SpiffWorkflowException as exc:
            if step.raise_failures:
                raise
            _script_incident(session, instance, exc, step)
    elif waits:
        messages.sync_subscriptions(session, instance, workflow, step)
    if waits:
        usertasks.sync_user_tasks(session, instance, workflow)
    tracker.collect(workflow)
    changes = tracker.drain()
    # A failure Baton notes itself (with its error) stands for the task's own change to ERROR.
    noted = {str(n.task.id) for n in step.events if n.event == "failed" and n.task is not None}
    changes = [c for c in changes if not (c.event == "failed" and c.task_id in noted)]
    for change in changes:  # which version's tables decided: the decision page shows that one
        if change.details and "decision" in change.details:
            change.details["decision"]["definition_id"] = instance.definition_id
    tickets = list(step.tickets) + outbox.create_service_jobs(engine, session, instance, workflow, changes)
    if workflow.new_holds:  # camunda:asyncBefore/asyncAfter reached: commit there, a job continues
        tickets += outbox.continue_jobs(session, instance, workflow, step)
    outbox.cancel_orphan_jobs(session, instance, changes, tracker.drain_quiet_cancels())
    tickets += call_cancellation.cancel_child_jobs(session, instance, workflow, changes, step)
    tickets += outbox.schedule_timers(session, instance, workflow)
    tickets += outbox.publish_jobs(session, instance, workflow, changes)
    tickets += outbox.call_jobs(session, instance, workflow, changes)
    instance.status = step.status or _status(session, instance, workflow, tickets)
    if step.take_next_for is not None and instance.status == "running":
        tickets = _take_next(engine, session, instance, step, tickets)
    now = utcnow()
    notes = list(step.events)
    if instance.status in ENDED and instance.ended_at is None:
        instance.ended_at = now
        if not any(n.element_id == "process" and n.event == instance.status for n in notes):
            notes.append(Note("process", instance.status))
        tickets += outbox.return_job(session, instance, _variables(workflow))
    _record_in_order(session, instance, notes, changes)
    instance.variables = _variables(workflow)
    # The stored tree holds the live tasks and little else, so a step costs the same at the
    # 10th and the 10,000th turn of a loop (history rows, not the tree, record what ran).
    workflow.prune_finished()
    instance.state = engine.codec.state_to_json(workflow)
    instance.revision += 1
    instance.updated_at = now
    session.flush()
    return tickets


def _take_next(engine: Engine, session: Session, instance: ProcessInstance, step: Step,
               tickets: list[JobTicket]) -> list[JobTicket]:
    """Claim the first due service or continue job of this advance for ``step.take_next_for``; it is
    not announced."""
    for ticket in tickets:
        if ticket.kind not in ("service", "continue") or ticket.eta_seconds or ticket.instance_id != instance.id:
            continue
        job = next((o for o in session.new if isinstance(o, Job) and o.id == ticket.id), None)
        if job is None:
            job = session.get(Job, ticket.id)  # flushed already (an earlier statement autoflushed)
        if job is None or job.status != "pending":
            continue
        assert step.take_next_for is not None
        step.next_call = take_new_job(engine, job, step.take_next_for, instance.trace_id)
        return [t for t in tickets if t is not ticket]
    return tickets


def _compensate(engine: Engine, workflow: BatonWorkflow, tracker: Tracker) -> None:
    """Let running compensation move (see ``_bpmn/saga.py``) until nothing changes."""
    saga = workflow.compensation
    if saga is None:
        return

    def note(element_id: str, event: str, details: dict[str, Any]) -> None:
        tracker.collect(workflow)
        tracker.note(element_id, event, details)

    def new_workflow(specs: Any) -> BatonWorkflow:
        return engine.codec.new_workflow(specs)

    while saga.drive(workflow, note, lambda: tracker.collect(workflow), new_workflow):
        workflow.run_engine(before_prune=tracker.collect)


def record_notes(session: Session, instance: ProcessInstance, notes: list[Note]) -> None:
    _record_in_order(session, instance, notes, [])


def _record_in_order(session: Session, instance: ProcessInstance, notes: list[Note], changes: list[Change]) -> None:
    """Append the history rows of one advance, Baton's notes and the task changes, in time order,
    in one INSERT (the rows are never read back in the advance: no unit of work needed)."""
    rows: list[tuple[float, dict[str, Any]]] = []
    for note in notes:
        spec = note.task.task_spec if note.task is not None else None
        rows.append((note.at, {
            "element_id": note.element_id,
            "element_type": element_type(note.task) if note.task is not None else (
                "Process" if note.element_id == "process" else None),
            "name": spec.bpmn_name if spec else None, "event": note.event, "details": note.details,
            "at": datetime.fromtimestamp(note.at, UTC),
            "task_id": str(note.task.id) if note.task is not None else None,
        }))
    for change in changes:
        rows.append((change.order, {
            "at": change.at, "element_id": change.element_id, "element_type": change.element_type,
            "name": change.name, "event": change.event, "task_id": change.task_id or None,
            "details": change.details,
        }))
    if not rows:
        return
    ordered = []
    for _, row in sorted(rows, key=lambda r: r[0]):
        instance.event_seq += 1
        ordered.append({**row, "instance_id": instance.id, "seq": instance.event_seq})
    with session.no_autoflush:  # the new event_seq goes out with the state, in the advance's one UPDATE
        session.execute(insert(ActivityEvent), ordered)


def _status(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, tickets: list[JobTicket]) -> str:
    if instance.status in ENDED:  # a late return or job settled after the end: a cancelled one stays so
        return instance.status
    if workflow.completed:
        return "compensated" if workflow.compensation is not None and workflow.compensation.ran else "completed"
    if instance.status == "suspended":  # only resume lifts it (a call in flight may still finish)
        return "suspended"
    # The common step (a job done, the next one made) needs no query: incidents are opened and
    # resolved only under this row lock, so a running or waiting instance had none before this
    # advance, and an advance that touched none has none after it; a new job is an active one.
    if (instance.status in ("running", "waiting") and any(t.kind != "timer" for t in tickets)
            and not any(isinstance(o, Incident) for o in (*session.new, *session.identity_map.values()))):
        return "running"
    open_incident = exists().where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
    active_job = exists().where(Job.instance_id == instance.id, Job.status.in_(("pending", "running", "waiting")),
                                Job.kind.not_in(("timer", "external")))  # an external worker is outside
    incident, active = session.execute(select(open_incident, active_job)).one()
    if incident:
        return "incident"
    return "running" if active else "waiting"


def _variables(workflow: BatonWorkflow) -> dict[str, Any]:
    """The variables shown and searched: the last task's data merged with the live tasks' data."""
    data: dict[str, Any] = {}
    if workflow.last_task is not None:
        data.update(workflow.last_task.data)
    if not workflow.completed:
        live = [t for t in workflow.tasks.values() if t.has_state(TaskState.READY | TaskState.STARTED
                                                                  | TaskState.WAITING)]
        for task in sorted(live, key=lambda t: t.last_state_change):
            data.update(task.data)
    return json_copy(data)





def job_instance(engine: Engine, job_id: str) -> str | None:
    """Which instance a job belongs to (never changes: remembered from the claim when we can)."""
    known = engine._job_instances.get(job_id)
    if known is not None:
        return known
    with engine.db.reading() as session:
        return session.scalar(select(Job.instance_id).where(Job.id == job_id))


def require_active(instance: ProcessInstance, *, suspended_ok: bool = False) -> None:
    if instance.status in ENDED or (instance.status == "suspended" and not suspended_ok):
        raise InstanceNotActive(f"instance {instance.id} is {instance.status}")


def _script_incident(session: Session, instance: ProcessInstance, exc: SpiffWorkflowException, step: Step) -> None:
    """A script, condition or expression failed (or broke a sandbox rule): the task waits in ERROR
    under an incident; retrying the incident runs it again."""
    task = getattr(exc, "task", None)
    element_id = task.task_spec.bpmn_id if task is not None and task.task_spec.bpmn_id else "process"
    message = f"{element_id}: {exc}"
    session.add(Incident(instance_id=instance.id, task_id=str(task.id) if task is not None else None,
                         element_id=element_id, message=message[:4000], detail=type(exc).__name__,
                         created_at=datetime.now(UTC)))
    step.events.append(Note(element_id, "failed", {"error": str(exc)[:1000]}, task))


