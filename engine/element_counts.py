"""How many of a definition version's instances are at each element: the counts the definition
page draws on its diagram (Cockpit's and Operate's per-activity badges).

Per element: ``active`` (instances with a live token there: a job in flight, an open user task,
a message subscription), ``incidents`` (open incidents there), ``completed`` and ``cancelled``
(instances whose history has that element completed / cancelled at least once). Each number
is what the instance list shows when filtered by that element and state (``engine.search``).

Each query starts from the version's instances (``ix_instance_definition_created``) and joins
their rows through the indexed ``instance_id`` columns; the history counts read the covering
index ``ix_event_instance_event_element`` of migration 0011 only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from . import definitions
from .models import ActivityEvent, Incident, ProcessInstance
from .search import live_tokens

if TYPE_CHECKING:
    from .runtime import Engine


def element_counts(engine: Engine, key: str, version: int | None = None) -> dict[str, Any]:
    """``{"key", "version", "instances", "elements": {element_id: {active, incidents, completed,
    cancelled}}}`` for one version (the latest by default); elements with no count are left out."""
    with engine.db.reading() as session:
        definition = definitions.get_definition(session, key, version)
        found = {"key": definition.key, "version": definition.version}
        mine = select(ProcessInstance.id).where(ProcessInstance.definition_id == definition.id)
        elements: dict[str, dict[str, int]] = {}

        def add(rows: Any, name: str) -> None:
            for element_id, count in rows:
                if element_id and element_id != "process":
                    elements.setdefault(element_id, {"active": 0, "incidents": 0, "completed": 0,
                                                     "cancelled": 0})[name] = count

        tokens = live_tokens().subquery()
        add(session.execute(
            select(tokens.c.element_id, func.count(distinct(tokens.c.instance_id)))
            .where(tokens.c.instance_id.in_(mine)).group_by(tokens.c.element_id)), "active")
        add(session.execute(
            select(Incident.element_id, func.count())
            .where(Incident.resolved_at.is_(None), Incident.instance_id.in_(mine)).group_by(Incident.element_id)),
            "incidents")
        for event in ("completed", "cancelled"):
            add(session.execute(
                select(ActivityEvent.element_id, func.count(distinct(ActivityEvent.instance_id)))
                .where(ActivityEvent.event == event, ActivityEvent.instance_id.in_(mine))
                .group_by(ActivityEvent.element_id)), event)
        total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    return {**found, "instances": total, "elements": elements}
