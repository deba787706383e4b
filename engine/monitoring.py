"""Read models for the operator UI: lists that stay fast on 100,000 instances, an instance's
diagram state derived from its history, the pulse that live pages poll, and worker health.

Pure SQLAlchemy, bound to :class:`~engine.runtime.Engine` like ``queries``. Every list is paged
by keyset (``after``/``before`` cursors on the sort columns plus ``id``), never by a deep OFFSET,
and counts stop at :data:`COUNT_CAP` so a broad filter never scans the whole table twice.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, literal, or_, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import load_only

from . import search
from .errors import InstanceNotFound, InvalidRequest
from .models import ActivityEvent, Incident, Job, ProcessDefinition, ProcessInstance, utcnow
from .queries import _incident, _iso, instance_summary

if TYPE_CHECKING:
    from .runtime import Engine

COUNT_CAP = 10_000
MANY = 1_000  # matching rows past which a page walks the sort index instead of sorting the matches
SORTS: dict[str, tuple[Any, ...]] = {
    "started": (ProcessInstance.created_at, ProcessInstance.id),
    "updated": (ProcessInstance.updated_at, ProcessInstance.id),
    "status": (ProcessInstance.status, ProcessInstance.created_at, ProcessInstance.id),
}
SUMMARY_INSTANCE = (ProcessInstance.id, ProcessInstance.status, ProcessInstance.business_key,
                    ProcessInstance.created_at, ProcessInstance.updated_at, ProcessInstance.ended_at,
                    ProcessInstance.definition_id)
SUMMARY_DEFINITION = (ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.name)
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# Events that leave a task running; the last event of each task decides its state.
# "waiting": held at camunda:asyncBefore/asyncAfter until its continue job runs ("continued")
_ACTIVE_EVENTS = {"entered", "retrying", "retried", "waiting"}
_TASK_EVENTS = _ACTIVE_EVENTS | {"completed", "cancelled", "failed", "error", "continued"}


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones. Compare as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        return [_aware(datetime.fromisoformat(v)) if col.type.python_type is datetime else v
                for v, col in zip(values, columns, strict=True)]
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise InvalidRequest("the page cursor is not valid; start from the first page") from exc


def parse_value(raw: str) -> Any:
    """A filter value as typed: JSON when it parses (``42``, ``true``, ``"42"``), else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _variable_filter(engine: Engine, name: str, raw: str, *, many: bool = False) -> Any:
    """``variables[name] == value``. On PostgreSQL, two spellings of the same test steer the plan:
    by default ``@>`` (served by the GIN index of migration 0004), right when few rows match;
    with ``many`` a plain ``->`` equality the GIN index cannot serve, so a page walks the sort
    index and stops after one page. The planner's JSONB estimates are constants: it cannot
    choose between the two by itself (bench/ui.py: 75 ms either way it guessed wrong)."""
    if not _VARIABLE_NAME.match(name):
        raise InvalidRequest(f"variable name {name!r}: use letters, digits and '_'")
    value = parse_value(raw)
    # An unquoted 42 also matches the text "42": operators type what they see.
    candidates = [value] if isinstance(value, str) else [value, raw]
    column = ProcessInstance.variables
    if engine.db.is_sqlite:
        extracted = func.json_extract(column, f"$.{name}")
        typed = func.json_type(column, f"$.{name}")
        clauses = []
        for v in candidates:
            if isinstance(v, bool):
                clauses.append(typed == ("true" if v else "false"))
            elif v is None:
                clauses.append(typed == "null")
            elif isinstance(v, dict | list):
                clauses.append(and_(typed.in_(("object", "array")),
                                    extracted == func.json(json.dumps(v))))
            else:
                clauses.append(and_(typed.notin_(("true", "false")), extracted == v))
        return or_(*clauses)
    jsonb = type_coerce(column, JSONB)
    if many:
        return or_(*[jsonb[name] == type_coerce(v, JSONB) for v in candidates])
    # For a scalar, containment under a top-level key is equality; objects and lists need both.
    return or_(*[and_(jsonb.contains({name: v}), jsonb[name] == type_coerce(v, JSONB))
                 if isinstance(v, dict | list) else jsonb.contains({name: v}) for v in candidates])


def find_instances(engine: Engine, *, definition: str | None = None, version: int | None = None,
                   status: str | None = None, business_key: str | None = None,
                   started_from: datetime | None = None, started_to: datetime | None = None,
                   variable: str | None = None, value: str | None = None, sort: str = "started",
                   descending: bool = True, after: str | None = None, before: str | None = None,
                   limit: int = 50, key_match: str | None = None, value_match: str = "exact",
                   element: str | None = None, element_state: str = "active",
                   incident: bool | None = None) -> dict[str, Any]:
    """One page of instances matching every given filter, keyset-paged on ``sort``.

    ``business_key`` matches as ``key_match`` says (``exact``, ``prefix``, ``contains``; by
    default ``trip*`` is a prefix and ``*trip*`` contains, see :mod:`engine.search`); a
    ``variable``'s ``value`` likewise with ``value_match``. ``element`` keeps instances whose
    element is in ``element_state`` (active: waiting there); ``incident`` those with (without)
    an open incident. Returns ``items``, ``total`` (capped: ``total_capped`` says the real
    number is larger), and ``next``/``prev`` cursors (None at either end).
    """
    columns = SORTS.get(sort)
    if columns is None:
        raise InvalidRequest(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    limit = max(1, min(limit, 500))
    where: list[Any] = []
    with engine.db.reading() as session:
        if definition:
            ids_query = select(ProcessDefinition.id).where(ProcessDefinition.key == definition)
            if version:
                ids_query = ids_query.where(ProcessDefinition.version == version)
            # Resolved first so the instance query filters on the indexed definition_id alone.
            where.append(ProcessInstance.definition_id.in_(list(session.scalars(ids_query)) or [""]))
        if status:
            where.append(ProcessInstance.status == status)
        if business_key:
            where.append(search.business_key_clause(engine, business_key, key_match))
        if element:
            where.append(search.element_clause(element, element_state))
        if incident is not None:
            where.append(search.incident_clause(incident))
        if started_from:
            where.append(ProcessInstance.created_at >= _aware(started_from))
        if started_to:
            where.append(ProcessInstance.created_at < _aware(started_to))
        if variable and value_match != "exact":
            where.append(search.variable_text_clause(engine, variable, value or "", value_match))
            variable = None
        page_where = list(where)
        if variable:
            where.append(_variable_filter(engine, variable, value or ""))

        total = session.scalar(select(func.count()).select_from(
            select(literal(1)).select_from(ProcessInstance).where(*where).limit(COUNT_CAP + 1).subquery()))
        if variable:
            page_where.append(_variable_filter(engine, variable, value or "", many=(total or 0) > MANY))
        backwards = before is not None
        cursor = before if backwards else after
        if cursor:
            key = tuple_(*columns)
            bound = tuple_(*_decode_cursor(cursor, columns))
            forward_is_less = descending
            page_where.append(key < bound if forward_is_less != backwards else key > bound)
        order_desc = descending != backwards
        order = [c.desc() if order_desc else c.asc() for c in columns]
        rows = session.execute(
            select(ProcessInstance, ProcessDefinition)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(*page_where).order_by(*order).limit(limit + 1)
            # The summary's columns only: a row's state and its definition's XML and spec are
            # 16 KB a row that a list never shows (docs/BENCHMARKS.md, "Instance list").
            .options(load_only(*SUMMARY_INSTANCE), load_only(*SUMMARY_DEFINITION))
        ).all()
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        items = [instance_summary(i, d) for i, d in rows]
        keys = [[getattr(i, c.key) for c in columns] for i, _ in rows]
    has_next = (more and not backwards) or (backwards and bool(rows))
    has_prev = (more and backwards) or (not backwards and cursor is not None and bool(rows))
    return {
        "items": items, "total": min(total or 0, COUNT_CAP), "total_capped": (total or 0) > COUNT_CAP,
        "next": _encode_cursor(keys[-1]) if has_next and keys else None,
        "prev": _encode_cursor(keys[0]) if has_prev and keys else None,
        "limit": limit,
    }


def definition_keys(engine: Engine) -> list[str]:
    """Every deployed process key, sorted: for filters (``list_definitions`` also counts instances)."""
    with engine.db.reading() as session:
        return list(session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))


def lookup_instances(engine: Engine, text: str, limit: int = 20) -> list[str]:
    """Instance ids for what an operator typed in the search box: an id, a business key, or the
    short id prefix the lists show (8+ hex characters)."""
    text = text.strip()
    if not text:
        return []
    with engine.db.reading() as session:
        found = list(session.scalars(select(ProcessInstance.id).where(
            or_(ProcessInstance.id == text, ProcessInstance.business_key == text)).limit(limit)))
        if not found and len(text) >= 8 and re.fullmatch(r"[0-9a-fA-F-]+", text):
            found = list(session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.id.like(text.lower() + "%")).limit(limit)))
        return found


def monitor_overview(engine: Engine, recent: int = 10) -> dict[str, Any]:
    """The dashboard: instances by status and by definition version, open incidents, recent
    failures (incidents and calls being retried)."""
    with engine.db.reading() as session:
        # One pass over the instances; the totals per status are summed from it.
        per_definition = session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)).all()
        definitions = {d.id: d for d in session.execute(
            select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version,
                   ProcessDefinition.name)).all()}
        table: dict[tuple[str, int], dict[str, Any]] = {}
        by_status: dict[str, int] = {}
        for definition_id, status, count in per_definition:
            by_status[status] = by_status.get(status, 0) + count
            d = definitions.get(definition_id)
            if d is None:
                continue
            row = table.setdefault((d.key, d.version), {"key": d.key, "version": d.version, "name": d.name,
                                                        "counts": {}, "total": 0})
            row["counts"][status] = count
            row["total"] += count
        open_incidents = session.scalar(select(func.count()).select_from(Incident)
                                        .where(Incident.resolved_at.is_(None))) or 0
        incidents = [_incident(i) for i in session.scalars(
            select(Incident).order_by(Incident.created_at.desc()).limit(recent))]
        retrying = [
            {"instance_id": j.instance_id, "element_id": j.element_id, "attempts": j.attempts,
             "max_attempts": j.max_attempts, "next_run_at": _iso(j.next_run_at), "last_error": j.last_error}
            for j in session.scalars(select(Job).where(Job.status == "pending", Job.last_error.is_not(None))
                                     .order_by(Job.updated_at.desc()).limit(recent))
        ]
    return {"by_status": by_status, "by_definition": sorted(table.values(), key=lambda r: (r["key"], -r["version"])),
            "open_incidents": open_incidents, "recent_incidents": incidents, "retrying": retrying,
            "total": sum(by_status.values())}


def worker_health(engine: Engine, overdue_seconds: float = 30.0) -> dict[str, Any]:
    """Whether workers keep up: pending jobs overdue by more than ``overdue_seconds`` mean no
    worker is taking them (down, or the broker lost the messages and the relay is not running)."""
    now = utcnow()
    with engine.db.reading() as session:
        row = session.execute(
            select(func.count(), func.min(Job.next_run_at))
            .where(Job.status == "pending", Job.next_run_at < now - timedelta(seconds=overdue_seconds))
        ).one()
    oldest = _aware(row[1])
    return {"overdue_jobs": row[0] or 0, "oldest_due_at": _iso(oldest),
            "overdue_for_s": (now - oldest).total_seconds() if oldest else 0.0}


def changes_token(engine: Engine, instance_id: str | None = None) -> str:
    """A short string that changes whenever what a live page shows may have changed.

    For one instance: its ``revision`` plus the newest job update (a claim bumps attempts without
    a new revision). Globally: the newest history row, open incidents and definitions.
    """
    with engine.db.reading() as session:
        if instance_id is not None:
            revision = session.scalar(select(ProcessInstance.revision).where(ProcessInstance.id == instance_id))
            if revision is None:
                raise InstanceNotFound(f"no process instance {instance_id}")
            jobs = session.scalar(select(func.max(Job.updated_at)).where(Job.instance_id == instance_id))
            return f"{revision}:{_iso(_aware(jobs)) or '-'}"
        last_event = session.scalar(select(func.max(ActivityEvent.id)))
        incidents = session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)))
        definitions = session.scalar(select(func.count()).select_from(ProcessDefinition))
        return f"{last_event or 0}:{incidents}:{definitions}"


def instance_view(engine: Engine, instance_id: str) -> dict[str, Any]:
    """What the diagram shows, derived from the history (never from the workflow state).

    ``elements`` maps each BPMN element id to its ``state`` (``completed``, ``active``, ``failed``,
    ``cancelled``), ``runs`` (task instances entered), ``first_completed`` and ``last_entered``
    (history sequence numbers). A sequence flow was taken when its source completed before its
    target was entered: ``first_completed[source] < last_entered[target]``.
    """
    with engine.db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(f"no process instance {instance_id}")
        rows = session.execute(
            select(ActivityEvent.seq, ActivityEvent.element_id, ActivityEvent.element_type, ActivityEvent.name,
                   ActivityEvent.event, ActivityEvent.task_id)
            .where(ActivityEvent.instance_id == instance_id).order_by(ActivityEvent.seq)).all()
        open_incidents = set(session.scalars(select(Incident.element_id).where(
            Incident.instance_id == instance_id, Incident.resolved_at.is_(None))))
        ever_incident = set(session.scalars(select(Incident.element_id).where(Incident.instance_id == instance_id)))
        status, revision = instance.status, instance.revision
    elements: dict[str, dict[str, Any]] = {}
    task_last: dict[str, str] = {}
    task_element: dict[str, str] = {}
    latest_task: dict[str, str] = {}
    errored: set[str] = set()
    counted: set[str] = set()
    for seq, element_id, element_type, name, event, task_id in rows:
        if not element_id or element_id == "process":
            continue
        info = elements.setdefault(element_id, {"type": element_type, "name": name, "runs": 0,
                                                "first_completed": None, "last_entered": None})
        if task_id is None:
            task_id = latest_task.get(element_id)  # a note about the element (a retry): its latest task
            if task_id is None:
                continue
        if event == "entered":
            if task_id not in counted:  # (a task held at asyncBefore has a row before it enters)
                counted.add(task_id)
                info["runs"] += 1
            info["last_entered"] = seq
            latest_task[element_id] = task_id
        elif event == "completed" and info["first_completed"] is None:
            info["first_completed"] = seq
        task_element[task_id] = element_id
        if event in _TASK_EVENTS:
            task_last[task_id] = event
            if event == "error":
                errored.add(task_id)
            elif event in ("completed", "retried"):
                errored.discard(task_id)
    ended = status in ("completed", "cancelled", "terminated", "compensated")
    held: set[str] = set()
    for element_id, info in elements.items():
        tasks = [t for t, e in task_element.items() if e == element_id]
        last = task_last.get(latest_task.get(element_id, ""), "")
        if latest_task.get(element_id) in errored and element_id not in ever_incident and last != "failed":
            # a BPMN error the diagram caught (boundary event, event sub-process): a handled path, not a failure
            info["state"] = "caught"
            continue
        if element_id in open_incidents or last == "failed" or latest_task.get(element_id) in errored:
            info["state"] = "failed"
        elif any(task_last.get(t) in _ACTIVE_EVENTS for t in tasks) and not (ended and last == "waiting"):
            info["state"] = "active"
            if all(task_last.get(t) == "waiting" for t in tasks if task_last.get(t) in _ACTIVE_EVENTS):
                held.add(element_id)  # its continue job has not run: no user task yet
        elif any(task_last.get(t) in ("completed", "continued", "waiting") for t in tasks):
            info["state"] = "completed"  # ("waiting" here: held after it, then the instance ended)
        else:
            info["state"] = "cancelled" if tasks else "completed"
    waiting = sorted(e for e, i in elements.items() if i["state"] == "active" and e not in held
                     and (i["type"] or "").endswith(("UserTask", "ManualTask")))
    return {"id": instance_id, "status": status, "revision": revision, "elements": elements,
            "incident_elements": sorted(open_incidents), "waiting_user_tasks": waiting}


def instance_history(engine: Engine, instance_id: str, *, element_id: str | None = None,
                     before_seq: int | None = None, limit: int = 100) -> dict[str, Any]:
    """History rows newest first, ``limit`` at a time (``before_seq`` pages back)."""
    query = select(ActivityEvent).where(ActivityEvent.instance_id == instance_id)
    if element_id:
        query = query.where(ActivityEvent.element_id == element_id)
    if before_seq is not None:
        query = query.where(ActivityEvent.seq < before_seq)
    with engine.db.reading() as session:
        rows = [{"seq": e.seq, "element_id": e.element_id, "element_type": e.element_type, "name": e.name,
                 "event": e.event, "at": _iso(e.at), "attempt": e.attempt, "details": e.details}
                for e in session.scalars(query.order_by(ActivityEvent.seq.desc()).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "older": rows[-1]["seq"] if more and rows else None}


def find_incidents(engine: Engine, *, state: str = "open", definition: str | None = None,
                   element_id: str | None = None, text: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Incidents newest first with their instance's definition and business key."""
    query = (select(Incident, ProcessInstance.business_key, ProcessInstance.status, ProcessDefinition.key,
                    ProcessDefinition.version)
             .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))
    if state == "open":
        query = query.where(Incident.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(Incident.resolved_at.is_not(None))
    if definition:
        query = query.where(ProcessDefinition.key == definition)
    if element_id:
        query = query.where(Incident.element_id == element_id)
    if text:
        query = query.where(Incident.message.ilike(f"%{text}%"))
    with engine.db.reading() as session:
        return [{**_incident(i), "business_key": bk, "instance_status": st, "definition": {"key": k, "version": v}}
                for i, bk, st, k, v in session.execute(query.order_by(Incident.created_at.desc()).limit(limit))]
