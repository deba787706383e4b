"""A called instance ends with its call: jobs of kind ``cancel_child``.

When a call activity's task is cancelled in its caller's advance (an interrupting boundary event,
the caller cancelled or modified, a terminate end event, an error or an event sub-process ending
the scope around it), Camunda 7 cancels the called instance, and its own called instances in turn.
Baton does it with a durable job written in that advance (:func:`cancel_child_jobs`): the job
cancels every unended instance the task called (:func:`cancel_called_instances`, one
``instance_actions.cancel`` each), and each of those cancels makes the same job for its own call
activities, down the tree. A child's history says it was cancelled, by which caller, at which call
activity and why; its ``return`` job then finds the caller's task gone and changes nothing.

Why a job and not the caller's transaction: an advance is one transaction on one instance row
(SQLite's ``BEGIN IMMEDIATE`` admits no second one beside it), a call tree can be deep or wide (a
multi-instance call activity), and nothing in Baton holds two instance locks at once today, so
none can deadlock with a child returning to its caller. The job is idempotent (an ended child is
skipped), retried like ``call`` and ``return`` jobs, then an incident on the caller's element;
settling it is an advance of the caller, which keeps its status true.

A child started by a call job whose task was cancelled while the start was in flight is orphaned at
birth: ``outcomes.start_child`` writes this job for it (:func:`cancel_orphan_job`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from ._bpmn.history import Change
from ._bpmn.workflow import BatonWorkflow
from .errors import InstanceNotActive, InstanceNotFound
from .jobs import JobTicket
from .models import Job, ProcessInstance, new_id, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .instances import Note, Step
    from .runtime import Engine

KIND = "cancel_child"
#: As ``call`` and ``return`` jobs (``outbox.ENGINE_JOB_ATTEMPTS``): retried, then an incident.
ATTEMPTS = 4


def cancel_child_jobs(session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
                      changes: list[Change], step: Step) -> list[JobTicket]:
    """A ``cancel_child`` job per call activity task this advance cancelled, its call job cancelled.

    Found by the call jobs whose task no longer waits, not by the history changes: a cancelled
    multi-instance activity drops its iterations from the tree without a state change of theirs.
    Run after ``outbox.cancel_orphan_jobs`` (which would take this job for an orphan of the task);
    a call job it cancelled had no child yet, or one whose start ``outcomes.start_child`` sees
    orphaned. No query unless the advance cancelled something in a definition that calls."""
    if not any(c.event == "cancelled" for c in changes) or not _calls(workflow):
        return []
    with session.no_autoflush:  # the instance row is written once, at the end of the advance
        calls = session.execute(select(Job.id, Job.task_id, Job.element_id).where(
            Job.instance_id == instance.id, Job.kind == "call",
            Job.status.in_(("pending", "running", "waiting")))).all()
    gone = [c for c in calls if not _waits(workflow.find_task(c.task_id))]
    if not gone:
        return []
    # the caller waits for these calls no more (a waiting one counted as an active job)
    session.execute(update(Job).where(Job.id.in_([c.id for c in gone]))
                    .values(status="cancelled", updated_at=utcnow()).execution_options(synchronize_session=False))
    return [_add(session, instance.id, c.task_id, c.element_id, f"{instance.id}:{c.task_id}:{KIND}",
                 _why(instance, workflow, changes, step.events, c.element_id)) for c in gone]


def _calls(workflow: BatonWorkflow) -> bool:
    bindings = workflow.specs.bindings if workflow.specs is not None else {}
    return any("call" in binding for binding in bindings.values())


def _waits(task: Task | None) -> bool:
    return task is not None and task.state == TaskState.STARTED


def cancel_orphan_job(session: Session, instance: ProcessInstance, task_id: str, element_id: str,
                      child_id: str) -> list[JobTicket]:
    """A child started for a call whose task was cancelled meanwhile: cancel it too (once, however
    many workers ran the call job)."""
    key = f"{instance.id}:{task_id}:{KIND}:{child_id}"
    if session.scalar(select(Job.id).where(Job.idempotency_key == key)) is not None:
        return []
    return [_add(session, instance.id, task_id, element_id, key,
                 f"the call activity {element_id} of instance {instance.id} was cancelled while this instance "
                 "was being started")]


def _add(session: Session, instance_id: str, task_id: str, element_id: str, key: str, reason: str) -> JobTicket:
    now = utcnow()
    job = Job(id=new_id(), instance_id=instance_id, task_id=task_id, element_id=element_id, kind=KIND,
              idempotency_key=key, status="pending", max_attempts=ATTEMPTS, next_run_at=now, sent_at=now,
              payload={"reason": reason})
    session.add(job)
    return JobTicket(job.id, instance_id, KIND)


def _why(instance: ProcessInstance, workflow: BatonWorkflow, changes: list[Change], notes: list[Note],
         element_id: str) -> str:
    """What ended the call activity, in the words of the child's history."""
    what = f"the call activity {element_id} of instance {instance.id} was cancelled"
    for note in notes:
        if note.element_id != "process" or note.event not in ("cancelled", "modified"):
            continue
        details = note.details or {}
        if note.event == "cancelled" and details.get("caller"):  # its own caller's job: the reason is there
            return f"{what}: the instance was cancelled with its caller {details['caller']}"
        said, by = details.get("reason"), details.get("by")
        cause = "the instance was cancelled" if note.event == "cancelled" else \
            f"a modification{f' by {by}' if by else ''}"
        return f"{what}: {cause}{f' ({said})' if said else ''}"
    completed = {c.element_id for c in changes if c.event == "completed"}
    for spec in _task_specs(workflow):
        if spec.bpmn_id not in completed:
            continue
        if isinstance(spec, BoundaryEvent) and spec.cancel_activity and _attached_to(spec) == element_id:
            return f"{what}: the boundary event {spec.bpmn_id} interrupted it"
        if isinstance(getattr(spec, "event_definition", None), TerminateEventDefinition):
            return f"{what}: the terminate end event {spec.bpmn_id} ended its scope"
    return what


def _task_specs(workflow: BatonWorkflow) -> list[Any]:
    specs = list(workflow.spec.task_specs.values())
    for sub in workflow.subprocess_specs.values():
        specs.extend(sub.task_specs.values())
    return specs


def _attached_to(spec: BoundaryEvent) -> str | None:
    for split in spec.inputs:
        if isinstance(split, BoundaryEventSplit):
            main = next((o for o in split.outputs if not isinstance(o, BoundaryEvent)), None)
            return main.bpmn_id if main is not None else None
    return None


def cancel_called_instances(engine: Engine, job_id: str) -> list[str]:
    """Run a ``cancel_child`` job: cancel every unended instance its call activity task called, then
    settle the job in an advance of the caller. Returns the instances it cancelled; idempotent."""
    from .instance_actions import cancel  # both import instances, which imports this module
    from .instances import ENDED, advance

    with engine.db.reading() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("pending", "running"):
            return []
        caller, task_id, element_id = job.instance_id, job.task_id, job.element_id
        reason = (job.payload or {}).get("reason")
        children = list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.parent_instance_id == caller, ProcessInstance.parent_task_id == task_id,
            ProcessInstance.status.notin_(ENDED))))
    done = []
    for child in children:
        try:
            cancel(engine, child, reason, details={"caller": caller, "call_activity": element_id})
        except (InstanceNotActive, InstanceNotFound):
            continue  # it ended meanwhile (returned, or cancelled by an operator): nothing to do
        done.append(child)

    def settle(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        found = session.get(Job, job_id)
        if found is not None and found.status in ("pending", "running"):
            found.settle("done", {"cancelled": done})

    advance(engine, caller, settle)
    return done
