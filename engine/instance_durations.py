"""How long things took: each activity run, each element in sum, the instance (Cockpit's and
Operate's durations), from the history rows (``entered`` to ``completed``/``cancelled``/``failed``
of one task), to the millisecond. The instance page draws :func:`instance_durations`' runs as its
timeline.

Only the newest :data:`MAX_ROWS` history rows are read: a 10,000-turn loop gets the timeline of
its last turns, and ``truncated`` says so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .attempts import duration_ms, iso_ms
from .errors import InstanceNotFound
from .models import ActivityEvent, ProcessInstance, utcnow

if TYPE_CHECKING:
    from .runtime import Engine

MAX_ROWS = 5000
_ENDS = {"completed": "completed", "cancelled": "cancelled", "failed": "failed", "error": "error"}


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def instance_durations(engine: Engine, instance_id: str) -> dict[str, Any]:
    """``instance`` {started_at, ended_at, duration_ms, running}, ``runs`` (one per task that
    entered an element, in the order entered: element, name, type, started_at, ended_at, end,
    duration_ms) and ``elements`` (per element: runs, total_ms, max_ms)."""
    with engine.db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(f"no process instance {instance_id}")
        started, ended = _aware(instance.created_at), _aware(instance.ended_at)
        rows = list(session.execute(
            select(ActivityEvent.seq, ActivityEvent.element_id, ActivityEvent.element_type, ActivityEvent.name,
                   ActivityEvent.event, ActivityEvent.task_id, ActivityEvent.at)
            .where(ActivityEvent.instance_id == instance_id, ActivityEvent.task_id.is_not(None))
            .order_by(ActivityEvent.seq.desc()).limit(MAX_ROWS + 1)))
    truncated = len(rows) > MAX_ROWS
    rows = list(reversed(rows[:MAX_ROWS]))
    now = utcnow()
    runs: dict[str, dict[str, Any]] = {}
    for _seq, element_id, element_type, name, event, task_id, at in rows:
        at = _aware(at)
        run = runs.get(task_id)
        if event == "entered" and run is None:
            runs[task_id] = {"element_id": element_id, "name": name, "type": element_type, "start": at,
                             "end": None, "end_event": None}
        elif run is not None and event in _ENDS:
            run["end"], run["end_event"] = at, _ENDS[event]
        elif run is not None and event in ("retrying", "retried", "entered"):
            run["end"], run["end_event"] = None, None  # running again
    out_runs = []
    elements: dict[str, dict[str, Any]] = {}
    for run in runs.values():
        finish = run["end"] or (ended or now)
        took = duration_ms(run["start"], finish)
        out_runs.append({"element_id": run["element_id"], "name": run["name"], "type": run["type"],
                         "started_at": iso_ms(run["start"]), "ended_at": iso_ms(run["end"]),
                         "end": run["end_event"] or ("active" if ended is None else "ended"),
                         "duration_ms": took})
        agg = elements.setdefault(run["element_id"], {"element_id": run["element_id"], "name": run["name"],
                                                      "runs": 0, "total_ms": 0, "max_ms": 0})
        agg["runs"] += 1
        agg["total_ms"] += took or 0
        agg["max_ms"] = max(agg["max_ms"], took or 0)
    return {
        "instance": {"id": instance_id, "started_at": iso_ms(started), "ended_at": iso_ms(ended),
                     "duration_ms": duration_ms(started, ended or now), "running": ended is None},
        "runs": out_runs, "elements": sorted(elements.values(), key=lambda e: -e["total_ms"]),
        "truncated": truncated,
    }
