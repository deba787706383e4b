"""The jobs an advance leaves behind: service calls, timers, and calls no longer needed.

Written in the advance's own transaction, so a job exists exactly when the workflow state that
needs it was committed; the notifier (Celery) hears of them only after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from ._bpmn import commit_points, spiff_events
from ._bpmn.feel_targets import called_key, topic_of
from ._bpmn.history import Change, all_tasks
from ._bpmn.workflow import BatonWorkflow, json_copy
from .endpoints import Endpoint
from .jobs import JobTicket
from .models import Job, ProcessInstance, new_id, utcnow

# A timer due later than this is not handed to the broker now: an ETA message is held in a
# worker's memory (and, on Redis, redelivered after the visibility timeout).
SEND_TIMERS_WITHIN = 60.0

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .instances import Step
    from .runtime import Engine


# Timer, call and return jobs run inside Baton: a failure there (a sandbox that would not start,
# a lost connection) is retried like a service call's before it is an incident. Each is idempotent.
ENGINE_JOB_ATTEMPTS = 4
#: A continue job (asyncBefore/asyncAfter) fails as Camunda 7's do: three runs in all, then an incident.
CONTINUE_ATTEMPTS = 3


def _started(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, changes: list[Change],
             element_type: str) -> list[tuple[Task, dict[str, Any]]]:
    """Tasks of ``element_type`` that started waiting in this advance, with their deploy bindings."""
    started = {c.task_id for c in changes if c.event == "entered" and c.element_type == element_type}
    if not started:
        return []
    bindings = workflow.specs.bindings if workflow.specs is not None else {}
    found = []
    for task_id in started:
        task = workflow.find_task(task_id)
        if task is not None and task.state == TaskState.STARTED:
            found.append((task, bindings.get(task.task_spec.bpmn_id) or {}))
    return found


def _add(session: Session, job: Job) -> JobTicket:
    job.id, job.status, job.sent_at = new_id(), "pending", utcnow()  # sent right after the commit
    session.add(job)
    return JobTicket(job.id, job.instance_id, job.kind)


def create_service_jobs(engine: Engine, session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
                        changes: list[Change]) -> list[JobTicket]:
    """One job per service task that started in this advance (handlers of compensation included)."""
    tickets = []
    for task, binding in _started(session, instance, workflow, changes, "ServiceTask"):
        element_id, topic = task.task_spec.bpmn_id, topic_of(task, binding)
        if binding.get("external"):  # waits for a worker to fetch it (external_tasks.py): never sent
            session.add(Job(
                id=new_id(), status="pending", instance_id=instance.id, task_id=str(task.id), element_id=element_id,
                kind="external", topic=topic, idempotency_key=f"{instance.id}:{task.id}:{element_id}",
                payload={"variables": json_copy(task.data), "priority": binding.get("priority", 0), "retries": None},
                max_attempts=1))
            continue
        endpoint = (Endpoint.from_dict(binding["endpoint"]) if "endpoint" in binding
                    else engine.endpoints.resolve(topic or ""))
        tickets.append(_add(session, Job(
            instance_id=instance.id, task_id=str(task.id), element_id=element_id, kind="service",
            topic=topic, idempotency_key=f"{instance.id}:{task.id}:{element_id}",
            payload={"endpoint": binding.get("endpoint"), "variables": json_copy(task.data),
                     "headers": binding.get("headers")},  # zeebe:taskHeaders (_bpmn/task_headers.py)
            max_attempts=binding.get("retries") or ((endpoint.retries + 1) if endpoint else 1))))
    return tickets


def call_jobs(session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
              changes: list[Change]) -> list[JobTicket]:
    """A job per call activity that started: it starts the child instance."""
    tickets = []
    for task, binding in _started(session, instance, workflow, changes, "CallActivity"):
        target = binding.get("call") or {}
        element_id, key = task.task_spec.bpmn_id, called_key(task, target)
        tickets.append(_add(session, Job(
            instance_id=instance.id, task_id=str(task.id), element_id=element_id, kind="call",
            topic=key, idempotency_key=f"{instance.id}:{task.id}:{element_id}",
            payload={"key": key, "version": target.get("version"), "variables": json_copy(task.data),
                     "expression": target.get("expression")},
            max_attempts=ENGINE_JOB_ATTEMPTS)))
    return tickets


def return_job(session: Session, instance: ProcessInstance, variables: dict[str, Any]) -> list[JobTicket]:
    """A child instance ended: a job on its caller that completes the call activity."""
    if not instance.parent_instance_id or not instance.parent_task_id:
        return []
    job = Job(instance_id=instance.parent_instance_id, task_id=instance.parent_task_id, element_id="-",
              kind="return", idempotency_key=f"{instance.id}:return", status="pending",
              max_attempts=ENGINE_JOB_ATTEMPTS,
              payload={"child": instance.id, "status": instance.status, "variables": json_copy(variables)},
              sent_at=utcnow())
    session.add(job)
    session.flush()
    return [JobTicket(job.id, instance.parent_instance_id, "return")]


def publish_jobs(session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
                 changes: list[Change]) -> list[JobTicket]:
    """A job per message the workflow threw that nothing inside it caught (for the bus bridge),
    and per signal it threw (a broadcast reaches the other instances even when one inside this
    instance caught it: SpiffWorkflow keeps an internally caught event internal)."""
    tickets = []
    for change in changes:
        if change.event != "completed" or "Throw" not in (change.element_type or "") \
                and "EndEvent" not in (change.element_type or ""):
            continue
        task = workflow.find_task(change.task_id)
        definition = getattr(task.task_spec, "event_definition", None) if task is not None else None
        if not isinstance(definition, SignalEventDefinition):
            continue
        job = Job(instance_id=instance.id, task_id=change.task_id, element_id=change.element_id, kind="signal",
                  topic=definition.name, idempotency_key=f"{instance.id}:signal:{new_id()}",
                  payload={"name": definition.name, "exclude_instance": instance.id,
                           "variables": json_copy(_signal_variables(task, definition))},
                  status="pending", max_attempts=10, sent_at=utcnow())
        session.add(job)
        session.flush()
        tickets.append(JobTicket(job.id, instance.id, "signal"))
    for event in workflow.get_events():
        definition = event.event_definition
        if not isinstance(definition, MessageEventDefinition):
            continue
        payload = json_copy(event.payload or {})
        correlation = {}
        for prop in definition.correlation_properties:  # the values the message carries, by property
            try:
                correlation[prop.name] = workflow.script_engine.environment.evaluate(prop.retrieval_expression, payload)
            except Exception:
                continue
        thrower = _thrower(workflow, definition)
        job = Job(instance_id=instance.id, task_id=str(thrower.id) if thrower else "-",
                  element_id=thrower.task_spec.bpmn_id if thrower else definition.name,
                  kind="publish", topic=definition.name, idempotency_key=f"{instance.id}:publish:{new_id()}",
                  payload={"name": definition.name, "variables": payload,
                           "correlation": json_copy(correlation), "business_key": instance.business_key},
                  status="pending", max_attempts=10, sent_at=utcnow())
        session.add(job)
        session.flush()
        tickets.append(JobTicket(job.id, instance.id, "publish"))
    return tickets


def _signal_variables(task: Task, definition: SignalEventDefinition) -> dict[str, Any]:
    """A signal carries the thrower's data, or the payload its spiffworkflow:payloadExpression made."""
    body = spiff_events.signal_body(task, definition)
    return task.data if body is None else body


def _thrower(workflow: BatonWorkflow, definition: MessageEventDefinition):  # type: ignore[no-untyped-def]
    found = [t for t in all_tasks(workflow)
             if getattr(t.task_spec, "event_definition", None) is definition and t.state == TaskState.COMPLETED]
    return max(found, key=lambda t: t.last_state_change) if found else None


def cancel_orphan_jobs(session: Session, instance: ProcessInstance, changes: list[Change],
                       quietly_cancelled: Iterable[str] = ()) -> None:
    """A service task cancelled by a boundary event or an error no longer needs its call, nor a
    boundary timer its firing once its activity has ended (``quietly_cancelled``: no history row),
    nor an event-based gateway its timer once another of its events came."""
    gone = [c.task_id for c in changes if c.event == "cancelled" or (
        c.event == "completed" and c.element_type == "EventBasedGateway")] + list(quietly_cancelled)
    if gone:
        session.execute(update(Job).where(Job.instance_id == instance.id, Job.task_id.in_(gone),
                                          Job.status.in_(("pending", "running")))
                        .values(status="cancelled", updated_at=utcnow()))


def continue_jobs(session: Session, instance: ProcessInstance, workflow: BatonWorkflow,
                  step: Step) -> list[JobTicket]:
    """A ``continue`` job per commit point (``camunda:asyncBefore``/``asyncAfter``) this advance
    reached, with a ``waiting`` history row (``engine/continuations.py`` runs it)."""
    from .instances import Note  # instances imports this module

    holds, workflow.new_holds = workflow.new_holds, []
    tickets = []
    for hold in holds:
        held = [t for t in hold.held if commit_points.is_held(t)]
        if not held:
            continue
        now = utcnow()
        job = Job(id=new_id(), instance_id=instance.id, task_id=str(held[0].id), element_id=hold.element_id,
                  kind="continue", idempotency_key=f"{instance.id}:continue:{new_id()}", status="pending",
                  max_attempts=CONTINUE_ATTEMPTS, next_run_at=now, sent_at=now,
                  payload={"async": hold.at, "tasks": [str(t.id) for t in held], "reached_by": str(hold.task.id)})
        session.add(job)
        tickets.append(JobTicket(job.id, instance.id, "continue"))
        shown = hold.task if hold.task.task_spec.bpmn_id == hold.element_id else None  # not a boundary split
        step.events.append(Note(hold.element_id, "waiting", {"async": hold.at, "job": job.id}, shown))
    return tickets


def timer_due(workflow: BatonWorkflow, task_id: str) -> datetime | None:
    """When the waiting timer task ``task_id`` fires next, or None if it is not a waiting timer."""
    task = workflow.find_task(task_id)
    if task is None or task.state != TaskState.WAITING:
        return None
    if not _timers_of(task.task_spec):
        return None
    value = task.internal_data.get("event_value")  # an event-based gateway keeps its one timer's here
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        try:
            due = datetime.now(UTC) + TimerEventDefinition.parse_iso_duration(value)  # type: ignore[operator]
        except Exception:
            return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _timers_of(spec: Any) -> bool:
    """Whether ``spec`` waits for a timer: a timer event, or an event-based gateway with a timer branch
    (SpiffWorkflow's gateway waits with the branches' definitions in a MultipleEventDefinition)."""
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return any(isinstance(d, TimerEventDefinition) for d in definition.event_definitions)
    return isinstance(definition, TimerEventDefinition)


def schedule_timers(session: Session, instance: ProcessInstance, workflow: BatonWorkflow) -> list[JobTicket]:
    """A timer job for every waiting timer (one per due time: a cycle gets a new one per firing)."""
    waiting = [t for t in workflow.event_manager.tasks.values() if _timers_of(t.task_spec)]
    if not waiting:
        return []
    known = set(session.scalars(select(Job.idempotency_key).where(Job.instance_id == instance.id,
                                                                  Job.kind == "timer")))
    tickets = []
    now = utcnow()
    for task in waiting:
        due = timer_due(workflow, str(task.id))
        if due is None:
            continue
        key = f"{instance.id}:{task.id}:{task.task_spec.bpmn_id}:{due.isoformat()}"
        if key in known:
            continue
        job = Job(instance_id=instance.id, task_id=str(task.id), element_id=task.task_spec.bpmn_id, kind="timer",
                  idempotency_key=key, next_run_at=due, status="pending", max_attempts=ENGINE_JOB_ATTEMPTS,
                  payload={"due": due.isoformat()})
        session.add(job)
        session.flush()
        eta = max(0.0, (due - now).total_seconds())
        if eta <= SEND_TIMERS_WITHIN:  # later ones are sent by the relay as they come due
            job.sent_at = now
            tickets.append(JobTicket(job.id, instance.id, "timer", eta))
    return tickets





__all__ = ["cancel_orphan_jobs", "continue_jobs", "create_service_jobs", "publish_jobs", "schedule_timers", "timer_due"]
