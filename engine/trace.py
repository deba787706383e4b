"""Following one business key across orchestration and choreography.

The bus bridge (``adapters/bus.py``) records each event it **published** (a message an instance
threw), **consumed** (an event that resumed or started an instance, or that it refused) and
**watched** (an event between other services, on a routing key the routes file watches) with
:func:`record_bus_event`: its correlation keys and business key are kept as lookup values, so
:func:`trace` finds, for one value ("ord_123"), every event that carried it and every instance
those events came from or resumed (plus the instances with that business key), and lays both
out on one timeline.

Recording is at least once, like the bridge itself: a row per (event id, kind), so an event
redelivered after a crash between its handling and its record is written once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as db_errors
from sqlalchemy import select

from .errors import InvalidRequest
from .models import ActivityEvent, BusEvent, BusEventKey, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from .runtime import Engine

KINDS = ("published", "consumed", "watched")
KEY_MAX = 255  # the lookup column's length: a longer value is refused, never cut
#: What one trace shows at most: the page is for one order, not for the whole bus.
EVENTS_MAX = 500
INSTANCES_MAX = 50
HISTORY_PER_INSTANCE = 200


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value else None


def _lookup_values(correlation: dict[str, Any] | None, business_key: str | None) -> list[str]:
    values: list[str] = []
    for value in (correlation or {}).values():
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue  # a trace looks up ids, not structures or flags
        values.append(str(value))
    if business_key:
        values.append(str(business_key))
    return [v for v in dict.fromkeys(values) if 0 < len(v) <= KEY_MAX]


def record_bus_event(engine: Engine, *, kind: str, routing_key: str, event_id: str | None = None,
                     event_type: str | None = None, source: str | None = None, instance_id: str | None = None,
                     outcome: str | None = None, correlation: dict[str, Any] | None = None,
                     business_key: str | None = None, at: datetime | None = None) -> bool:
    """Record one bus event (``at``: when it arrived; default now); ``False`` when this event id
    was already recorded as this kind."""
    if kind not in KINDS:
        raise InvalidRequest(f"bus event kind {kind!r} is not one of {', '.join(KINDS)}")
    row = BusEvent(kind=kind, event_id=None if event_id is None else str(event_id)[:200],
                   routing_key=(routing_key or "")[:255],
                   event_type=None if event_type is None else str(event_type)[:200],
                   source=None if source is None else str(source)[:200], instance_id=instance_id,
                   outcome=outcome, correlation=correlation or {},
                   business_key=None if business_key is None else str(business_key)[:255],
                   at=at or datetime.now(UTC))
    try:
        with engine.db.transaction() as session:
            if row.event_id is not None and session.scalar(
                    select(BusEvent.id).where(BusEvent.event_id == row.event_id, BusEvent.kind == kind)) is not None:
                return False
            session.add(row)
            session.flush()
            session.add_all([BusEventKey(bus_event_id=row.id, value=value)
                             for value in _lookup_values(correlation, business_key)])
    except db_errors.IntegrityError:
        return False  # a competing consumer recorded the same redelivered event first
    return True


def _event_doc(row: BusEvent) -> dict[str, Any]:
    return {"kind": row.kind, "event_id": row.event_id, "event": row.event_type or row.routing_key,
            "routing_key": row.routing_key, "source": row.source, "instance_id": row.instance_id,
            "outcome": row.outcome, "correlation": row.correlation or {}, "business_key": row.business_key,
            "at": _iso(row.at)}


def trace(engine: Engine, key: str) -> dict[str, Any]:
    """Everything that carried ``key``: instances, bus events and one timeline, oldest first."""
    key = (key or "").strip()
    if not key:
        raise InvalidRequest("key: give the correlation key or business key to trace (e.g. an order id)")
    if len(key) > KEY_MAX:
        raise InvalidRequest(f"key: {len(key)} characters; a correlation key is at most {KEY_MAX}")
    with engine.db.reading() as session:
        events = list(session.scalars(
            select(BusEvent).join(BusEventKey, BusEventKey.bus_event_id == BusEvent.id)
            .where(BusEventKey.value == key).order_by(BusEvent.at, BusEvent.id).limit(EVENTS_MAX + 1)))
        truncated = len(events) > EVENTS_MAX
        # Baton may watch a routing key it also publishes or consumes: one event, shown once.
        bridged = {e.event_id for e in events if e.kind != "watched" and e.event_id}
        docs = [_event_doc(e) for e in events[:EVENTS_MAX] if not (e.kind == "watched" and e.event_id in bridged)]
        linked = list(dict.fromkeys(d["instance_id"] for d in docs if d["instance_id"]))
        keyed = list(session.scalars(select(ProcessInstance.id).where(ProcessInstance.business_key == key)
                                     .order_by(ProcessInstance.created_at).limit(INSTANCES_MAX)))
        instance_ids = list(dict.fromkeys(keyed + linked))[:INSTANCES_MAX]
        instances: list[dict[str, Any]] = []
        timeline: list[dict[str, Any]] = []
        rows = session.execute(
            select(ProcessInstance, ProcessDefinition)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_(instance_ids))).all() if instance_ids else []
        for instance, definition in sorted(rows, key=lambda r: r[0].created_at):
            mine = [d for d in docs if d["instance_id"] == instance.id]
            instances.append({
                "id": instance.id, "status": instance.status, "business_key": instance.business_key,
                "definition": {"key": definition.key, "version": definition.version, "name": definition.name},
                "created_at": _iso(instance.created_at), "ended_at": _iso(instance.ended_at),
                "published": [d["event_id"] for d in mine if d["kind"] == "published"],
                "resumed_by": [d["event_id"] for d in mine if d["kind"] == "consumed"],
            })
            history = session.scalars(select(ActivityEvent).where(ActivityEvent.instance_id == instance.id)
                                      .order_by(ActivityEvent.seq).limit(HISTORY_PER_INSTANCE))
            for h in history:
                timeline.append({"at": _iso(h.at), "type": "activity", "instance_id": instance.id,
                                 "definition": definition.key, "element_id": h.element_id, "name": h.name,
                                 "element_type": h.element_type, "event": h.event})
    timeline.extend({"type": "bus_event", **doc} for doc in docs)
    timeline.sort(key=lambda entry: entry["at"] or "")
    return {"key": key, "instances": instances, "events": docs, "timeline": timeline, "truncated": truncated}
