"""How many of a definition version's instances are at each element: the counts the definition
page draws on its diagram (Cockpit's and Operate's per-activity badges).

Per element: ``active`` (instances with a live token there: a job in flight, an open user task,
a message subscription), ``incidents`` (open incidents there), ``completed`` and ``cancelled``
(how many times the element completed / was cancelled, as Cockpit counts finished activity
instances; the instance list filtered by that element and state shows the instances).

``active`` and ``incidents`` are read live: few rows, through indexed ``instance_id`` columns.
The history counts would scan every history row of the version (half a million rows for 50,000
instances: seconds), so they are tallied once per process and then kept up to date: history is
append-only, so the tally of rows up to a *watermark* (a history row id) only grows by the rows
after it. Each call adds the rows after the watermark live (a primary-key range: the last
minute or two of history). The watermark moves to the newest id seen at an earlier call once
:data:`SETTLE_SECONDS` have passed since, so a transaction that took an id below it but committed
later is still counted (ids are handed out before commit). Deleting history (retention, a deleted
deployment) is caught up with by a full recount every :data:`RECOUNT_SECONDS`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from . import definitions
from .models import ActivityEvent, Incident, ProcessInstance, utcnow
from .search import live_tokens

if TYPE_CHECKING:
    from .runtime import Engine

SETTLE_SECONDS = 60.0  # longer than any transaction that writes history is allowed to stay open
RECOUNT_SECONDS = 600.0
HISTORY_EVENTS = ("completed", "cancelled")


@dataclass
class _Tally:
    watermark: int = 0  # history rows with id <= watermark are in ``counts``
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    counted_at: float = 0.0
    candidate: int = 0  # the newest id seen at ``candidate_at``: the next watermark
    candidate_at: float = 0.0


_tallies: weakref.WeakKeyDictionary[Any, dict[str, _Tally]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _history(session: Any, mine: Any, after: int, upto: int | None) -> Counter[tuple[str, str]]:
    query = (select(ActivityEvent.element_id, ActivityEvent.event, func.count())
             .where(ActivityEvent.event.in_(HISTORY_EVENTS), ActivityEvent.instance_id.in_(mine),
                    ActivityEvent.id > after))
    if upto is not None:
        query = query.where(ActivityEvent.id <= upto)
    return Counter({(e, ev): n for e, ev, n in session.execute(
        query.group_by(ActivityEvent.element_id, ActivityEvent.event))})


def _tallied(engine: Engine, session: Any, definition_id: str, mine: Any) -> tuple[Counter[tuple[str, str]], int]:
    """The settled part of the history counts and its watermark, brought up to date."""
    now = time.monotonic()
    with _lock:
        tally = _tallies.setdefault(engine, {}).get(definition_id)
    newest = session.scalar(select(func.max(ActivityEvent.id))) or 0
    if tally is None or now - tally.counted_at > RECOUNT_SECONDS:
        settled = _settled_floor(session, newest)
        tally = _Tally(watermark=settled, counts=_history(session, mine, 0, settled), counted_at=now,
                       candidate=newest, candidate_at=now)
    elif now - tally.candidate_at >= SETTLE_SECONDS:
        # A new tally, never the old one changed: a concurrent caller keeps a consistent pair.
        grown = tally.counts + _history(session, mine, tally.watermark, tally.candidate) \
            if tally.candidate > tally.watermark else tally.counts
        tally = _Tally(watermark=max(tally.watermark, tally.candidate), counts=grown, counted_at=tally.counted_at,
                       candidate=newest, candidate_at=now)
    with _lock:
        _tallies.setdefault(engine, {})[definition_id] = tally
    return tally.counts, tally.watermark


def _settled_floor(session: Any, newest: int) -> int:
    """A history id every row below which has committed: the newest id written over
    :data:`SETTLE_SECONDS` ago (the ids of a minute of history are skipped and counted live)."""
    cutoff = utcnow() - timedelta(seconds=SETTLE_SECONDS)
    # Walk back from the newest id through the primary key: recent rows are few.
    floor = session.scalar(select(func.max(ActivityEvent.id)).where(
        ActivityEvent.id > max(0, newest - 200_000), ActivityEvent.at < cutoff))
    return int(floor or 0)


def element_counts(engine: Engine, key: str, version: int | None = None) -> dict[str, Any]:
    """``{"key", "version", "instances", "elements": {element_id: {active, incidents, completed,
    cancelled}}}`` for one version (the latest by default); elements with no count are left out."""
    with engine.db.reading() as session:
        definition = definitions.get_definition(session, key, version)
        found = {"key": definition.key, "version": definition.version}
        mine = select(ProcessInstance.id).where(ProcessInstance.definition_id == definition.id)
        elements: dict[str, dict[str, int]] = {}

        def add(element_id: str | None, name: str, count: int) -> None:
            if element_id and element_id != "process" and count:
                row = elements.setdefault(element_id, {"active": 0, "incidents": 0, "completed": 0, "cancelled": 0})
                row[name] += count

        tokens = live_tokens().subquery()
        for element_id, count in session.execute(
                select(tokens.c.element_id, func.count(distinct(tokens.c.instance_id)))
                .where(tokens.c.instance_id.in_(mine)).group_by(tokens.c.element_id)):
            add(element_id, "active", count)
        for element_id, count in session.execute(
                select(Incident.element_id, func.count())
                .where(Incident.resolved_at.is_(None), Incident.instance_id.in_(mine)).group_by(Incident.element_id)):
            add(element_id, "incidents", count)
        settled, watermark = _tallied(engine, session, definition.id, mine)
        recent = _history(session, mine, watermark, None)
        for (element_id, event), count in (settled + recent).items():
            add(element_id, event, count)
        total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    return {**found, "instances": total, "elements": elements}
