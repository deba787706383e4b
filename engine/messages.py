"""Messages: deliver a published message to exactly one waiting catch, or start one instance.

SpiffWorkflow lets the first message set a workflow's correlation values whatever its keys, so
routing is Baton's: every waiting message catch (intermediate event, receive task, boundary
event, event-based gateway branch) is a ``message_subscription`` row with the instance's business
key and its correlation values: for each correlation property of the message, the value the
waiting (sub-)process recorded when it sent or received a message of that conversation (BPMN's
and SpiffArena's meaning, ``_bpmn/spiff_correlation.py``), else the property evaluated on the waiting
task's data. A message matches a subscription when the names are equal, the business
key (if given) is the instance's, and every correlation key given has the subscription's value.

A message whose properties belong to ``bpmn:correlationKey`` s is routed by key, as BPMN and
SpiffArena mean it: the subscription keeps, per key, the values of the catch's properties in that
key (``{"@correlation_keys": {"OrderKey": {"customer": 7, "order": 1}, "TicketKey": {...}}}``),
and a message matches when it carries every property of one key with the subscription's value
(the properties of other keys do not matter; a value not known yet on the instance is not
required, SpiffArena's "first message" rule). A message that carries no correlation values at
all is matched by name and business key, whatever the subscription.

Otherwise a deployed process whose start event catches that message is started. Otherwise,
with a ``ttl``, the message waits in ``buffered_message`` until a subscription appears (checked
whenever one is created); without one, :class:`MessageNotCorrelated` says what matched nothing.
A ``message_id`` makes a publish idempotent (``message_receipt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessageDefinition
from SpiffWorkflow.task import Task
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ._bpmn import spiff_correlation, spiff_events
from ._bpmn.juel_sites import message_name  # a name with JUEL is evaluated on the waiting task
from ._bpmn.workflow import BatonWorkflow
from .errors import MessageNotCorrelated
from .models import BufferedMessage, MessageReceipt, MessageSubscription, ProcessDefinition, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .instances import Step
    from .runtime import Engine


@dataclass(frozen=True)
class _Found:
    id: str
    instance_id: str
    element_id: str


class _Gone(Exception):
    """The subscription was taken by a concurrent delivery: look again."""


def definitions_of(spec: Any, kind: type[EventDefinition]) -> list[Any]:
    """The event definitions of ``kind`` a task spec catches (several behind an event-based gateway)."""
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, kind):
        return [definition]
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, kind)]
    return []


def message_definitions(task: Task) -> list[MessageEventDefinition]:
    return definitions_of(task.task_spec, MessageEventDefinition)


def signal_definitions(task: Task) -> list[SignalEventDefinition]:
    return definitions_of(task.task_spec, SignalEventDefinition)


KEYS = "@correlation_keys"  # a subscription routed by correlation key (no property id holds an @)


def _correlation_values(task: Task, definition: MessageEventDefinition,
                        zeebe: dict[str, str]) -> dict[str, Any]:
    """The waiting task's values of the message's correlation properties (plain BPMN), per
    correlation key when its properties are in keys, or of the variable its Camunda 8
    subscription names."""
    keys = spiff_correlation.correlation_keys(definition)
    if keys and definition.name not in zeebe:
        return {KEYS: {key: _key_values(task, key, props) for key, props in keys.items()}}
    expressions = {prop.name: prop.retrieval_expression for prop in definition.correlation_properties}
    if definition.name in zeebe:
        expressions[zeebe[definition.name]] = "=" + zeebe[definition.name]  # Zeebe's key is FEEL (engine.feel)
    values: dict[str, Any] = {}
    for name, expression in expressions.items():
        found, value = spiff_correlation.recorded_correlation(task, name)
        if found:  # the conversation this (sub-)process had: the answer must carry the same value
            values[name] = value
            continue
        try:
            values[name] = task.workflow.script_engine.evaluate(task, expression)
        except Exception:
            values[name] = None  # not known yet on this instance: matches only messages without it
    return values


def _key_values(task: Task, key: str, props: list[Any]) -> dict[str, Any]:
    """The values the catch waits for in correlation key ``key``: those its (sub-)process recorded
    in that conversation, else each property evaluated over the waiting task's data (None when
    it cannot be: not known yet, so not required)."""
    recorded = spiff_correlation.recorded_key(task, key) or {}
    values: dict[str, Any] = {}
    for prop in props:
        if prop.name in recorded:
            values[prop.name] = recorded[prop.name]
            continue
        try:
            values[prop.name] = task.workflow.script_engine.evaluate(task, prop.retrieval_expression)
        except Exception:
            values[prop.name] = None
    return values


def matches(correlation: dict[str, Any], business_key: str | None, wanted: dict[str, Any],
            wanted_business_key: str | None) -> bool:
    """Whether a message with correlation values ``wanted`` (by property) reaches a subscription
    with ``correlation``: by property, or by correlation key (one key's properties all match)."""
    if wanted_business_key is not None and business_key != wanted_business_key:
        return False
    keys = correlation.get(KEYS)
    if isinstance(keys, dict) and wanted:  # a message with no values is matched by name (and business key)
        return any(all(value is None or (prop in wanted and wanted[prop] == value) for prop, value in values.items())
                   for values in keys.values() if isinstance(values, dict))
    return all(correlation.get(key) == value for key, value in wanted.items())


def deliver_to_task(task: Task, name: str, variables: dict[str, Any]) -> None:
    """Hand the message to the waiting task; its variables join the task's data."""
    definition = next(d for d in message_definitions(task) if message_name(task, d) == name)
    payload: Any = variables
    if isinstance(definition, CamundaMessageDefinition):
        payload = {"payload": variables, "result_var": "message"}
    event = BpmnEvent(definition, payload=payload, correlations={})
    if isinstance(task.task_spec.event_definition, MultipleEventDefinition):
        task.task_spec.catch(task, event)
    else:
        # Not MessageEventDefinition.catch: it would check SpiffWorkflow's own correlations; Baton
        # has routed the message already. What it records of the conversation is kept.
        definition.update_internal_data(task, event)
        spiff_correlation.record_correlations(task, definition, variables)
        task._set_internal_data(event_fired=True)
    if spiff_events.message_variable(definition) is None:
        task.data.update(variables)  # else the catch stores the body in its messageVariable
    task.task_spec._update(task)


def sync_subscriptions(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> bool:
    """Make the subscription rows match the waiting catches; deliver buffered messages to new ones.

    Returns True when a buffered message was delivered (the engine must run again)."""
    from .instances import Note
    bindings = workflow.specs.bindings if workflow.specs is not None else {}
    zeebe = {b["message"]: b["correlation_variable"] for b in bindings.values()
             if isinstance(b, dict) and "correlation_variable" in b}
    desired: dict[tuple[str, str, str], tuple[Task, dict[str, Any]]] = {}
    for task in list(workflow.event_manager.tasks.values()):
        for definition in message_definitions(task):
            desired[(str(task.id), "message", message_name(task, definition))] = (
                task, _correlation_values(task, definition, zeebe))
        for definition in signal_definitions(task):
            desired[(str(task.id), "signal", definition.name)] = (task, {})
    existing = {(s.task_id, s.kind, s.name): s for s in session.scalars(
        select(MessageSubscription).where(MessageSubscription.instance_id == instance.id))}
    for key, row in existing.items():
        if key not in desired:
            session.delete(row)
    delivered = False
    now = utcnow()
    for key, (task, correlation) in desired.items():
        if key in existing:
            continue
        buffered = _buffered_match(session, key[2], correlation, instance.business_key, now) \
            if key[1] == "message" else None
        if buffered is not None:
            deliver_to_task(task, key[2], buffered.variables or {})
            step.events.append(Note(task.task_spec.bpmn_id, "message",
                                    {"name": key[2], "buffered": True, "message_id": buffered.message_id}, task))
            session.delete(buffered)
            delivered = True
            continue
        session.add(MessageSubscription(instance_id=instance.id, task_id=key[0], element_id=task.task_spec.bpmn_id,
                                        kind=key[1], name=key[2], business_key=instance.business_key,
                                        correlation=correlation))
    if delivered:
        session.flush()
    return delivered


def _buffered_match(session: Session, name: str, correlation: dict[str, Any], business_key: str | None,
                    now: Any) -> BufferedMessage | None:
    for row in session.scalars(select(BufferedMessage).where(BufferedMessage.name == name,
                                                             BufferedMessage.expires_at > now)
                               .order_by(BufferedMessage.created_at).limit(200)):
        if matches(correlation, business_key, row.correlation or {}, row.business_key):
            return row
    return None


def correlate(engine: Engine, name: str, *, correlation: dict[str, Any] | None = None,
              variables: dict[str, Any] | None = None, business_key: str | None = None,
              message_id: str | None = None, ttl_seconds: float | None = None) -> dict[str, Any]:
    """Publish message ``name``; return what happened: delivered, started or buffered."""
    from .instances import check_variables

    variables = check_variables(variables)
    wanted = dict(correlation or {})
    if message_id:
        with engine.db.reading() as session:
            receipt = session.get(MessageReceipt, message_id)
            if receipt is not None:
                return {**receipt.result, "duplicate": True}
    for _ in range(20):
        subscription = _find_subscription(engine, name, wanted, business_key)
        if subscription is None:
            break
        try:
            result = _deliver(engine, subscription, name, variables, message_id)
        except _Gone:
            continue
        except IntegrityError:  # the same message_id was handled concurrently
            return correlate(engine, name, correlation=correlation, variables=variables,
                             business_key=business_key, message_id=message_id)
        return result
    started = _start_by_message(engine, name, variables, business_key, message_id)
    if started is not None:
        return started
    if ttl_seconds:
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        with engine.db.transaction() as session:
            row = BufferedMessage(name=name, business_key=business_key, correlation=wanted, variables=variables,
                                  message_id=message_id, expires_at=expires)
            session.add(row)
            session.flush()
            result = {"result": "buffered", "name": name, "id": row.id, "expires_at": expires.isoformat()}
            if message_id:
                session.add(MessageReceipt(message_id=message_id, result=result))
        return result
    keys = ", ".join(f"{k}={v!r}" for k, v in wanted.items()) or "no correlation keys"
    bk = f", business key {business_key!r}" if business_key else ""
    raise MessageNotCorrelated(f"message {name!r} ({keys}{bk}) matches no waiting instance and starts no process")


def _find_subscription(engine: Engine, name: str, wanted: dict[str, Any],
                       business_key: str | None) -> _Found | None:
    with engine.db.reading() as session:
        query = (select(MessageSubscription)
                 .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
                 .where(MessageSubscription.kind == "message", MessageSubscription.name == name,
                        ProcessInstance.status != "suspended"))
        if business_key is not None:
            query = query.where(MessageSubscription.business_key == business_key)
        for row in session.scalars(query.order_by(MessageSubscription.created_at).limit(1000)):
            if matches(row.correlation or {}, row.business_key, wanted, business_key):
                return _Found(row.id, row.instance_id, row.element_id)
    return None


def _deliver(engine: Engine, subscription: _Found, name: str, variables: dict[str, Any],
             message_id: str | None) -> dict[str, Any]:
    from .instances import Note, advance

    result = {"result": "delivered", "name": name, "instance_id": subscription.instance_id,
              "element_id": subscription.element_id}

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        row = session.get(MessageSubscription, subscription.id)
        if row is None:
            raise _Gone()
        try:
            task = workflow.get_task_from_id(UUID(row.task_id))
        except Exception:
            task = None
        session.delete(row)
        if task is None or not any(message_name(task, d) == name for d in message_definitions(task)):
            session.flush()
            raise _Gone()
        deliver_to_task(task, name, variables)
        step.events.append(Note(row.element_id, "message", {"name": name, "message_id": message_id}, task))
        if message_id:
            session.add(MessageReceipt(message_id=message_id, result=result))

    advance(engine, subscription.instance_id, apply)
    return result


def _start_by_message(engine: Engine, name: str, variables: dict[str, Any], business_key: str | None,
                      message_id: str | None) -> dict[str, Any] | None:
    """Start the newest deployed process whose start event catches ``name``, if any."""
    from .instances import start

    with engine.db.reading() as session:
        rows = session.execute(select(ProcessDefinition.id, ProcessDefinition.key)
                               .order_by(ProcessDefinition.created_at.desc())).all()
    seen: set[str] = set()
    for definition_id, key in rows:
        if key in seen:
            continue
        seen.add(key)  # only the latest version of each key starts
        specs = engine._spec(definition_id)
        if any(isinstance(t, StartEvent) and any(d.name == name for d in definitions_of(t, MessageEventDefinition))
               for t in specs.spec.task_specs.values()):
            instance_id = start(engine, key, {}, business_key=business_key)
            with engine.db.reading() as session:
                row = session.scalars(select(MessageSubscription).where(
                    MessageSubscription.instance_id == instance_id, MessageSubscription.name == name)).first()
                found = _Found(row.id, row.instance_id, row.element_id) if row is not None else None
            if found is not None:
                _deliver(engine, found, name, variables, message_id)
            return {"result": "started", "name": name, "instance_id": instance_id, "definition": key}
    return None


def broadcast_signal(engine: Engine, name: str, variables: dict[str, Any] | None = None,
                     exclude_instance: str | None = None) -> dict[str, Any]:
    """Deliver signal ``name`` to every waiting signal catch, and start every process whose start
    event catches it (a signal is a broadcast, unlike a message)."""
    from .instances import check_variables, start

    variables = check_variables(variables)
    with engine.db.reading() as session:
        rows = _signal_subscriptions(session, name)
        definitions = session.execute(select(ProcessDefinition.id, ProcessDefinition.key)
                                      .order_by(ProcessDefinition.created_at.desc())).all()
    delivered = [found.instance_id for found in rows
                 if found.instance_id != exclude_instance and _deliver_signal(engine, found, name, variables)]
    started: list[str] = []
    seen: set[str] = set()
    for definition_id, key in definitions:
        if key in seen:
            continue
        seen.add(key)  # the latest version of each key
        specs = engine._spec(definition_id)
        if any(isinstance(t, StartEvent) and any(d.name == name for d in definitions_of(t, SignalEventDefinition))
               for t in specs.spec.task_specs.values()):
            instance_id = start(engine, key, {})
            with engine.db.reading() as session:
                own = [f for f in _signal_subscriptions(session, name) if f.instance_id == instance_id]
            for found in own:
                _deliver_signal(engine, found, name, variables)
            started.append(instance_id)
    return {"result": "broadcast", "name": name, "delivered": delivered, "started": started}


def _signal_subscriptions(session: Session, name: str) -> list[_Found]:
    return [_Found(r.id, r.instance_id, r.element_id) for r in session.scalars(
        select(MessageSubscription).where(MessageSubscription.kind == "signal", MessageSubscription.name == name)
        .order_by(MessageSubscription.created_at))]


def _deliver_signal(engine: Engine, found: _Found, name: str, variables: dict[str, Any]) -> bool:
    from .instances import Note, advance

    done: list[bool] = []

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        row = session.get(MessageSubscription, found.id)
        if row is None:
            return
        try:
            task = workflow.get_task_from_id(UUID(row.task_id))
        except Exception:
            return
        definition = next((d for d in signal_definitions(task) if d.name == name), None)
        if definition is None:
            return
        session.delete(row)
        task.task_spec.catch(task, BpmnEvent(definition, payload=variables))
        if spiff_events.payload_variable(definition) is None:
            task.data.update(variables)  # else the catch stores them in its variableName
        task.task_spec._update(task)
        step.events.append(Note(row.element_id, "signal", {"name": name}, task))
        done.append(True)

    advance(engine, found.instance_id, apply)
    return bool(done)


def purge_expired(session: Session) -> int:
    return session.execute(delete(BufferedMessage).where(BufferedMessage.expires_at <= utcnow())).rowcount
