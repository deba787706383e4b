"""Retention: delete the instances that ended long ago, with every row they own.

``engine.prune_history("90d")`` (``baton history prune``, ``POST /api/v1/history/prune``) removes
instances whose status is final (``completed``, ``compensated``, ``cancelled``, ``terminated``)
and whose ``ended_at`` is older than the cut-off, with their history, jobs, incidents, message
subscriptions, open user tasks, start idempotency records and any other row that names one of
them (found from the models: a foreign key to ``process_instance`` or an ``instance_id`` column,
so a new table is covered without touching this file).

What is never pruned, and why:

- **Instances that have not ended**: ``running``, ``waiting``, ``suspended`` and ``incident``
  (an instance with an open incident waits for an operator's retry: it is not finished).
- **Call trees are pruned as a whole, from their root.** A child instance whose caller still
  exists is kept as long as its caller is (the caller's history and ``children`` name it; its
  ``return`` job lands on the caller); it goes in the same transaction as its caller. A root
  whose tree holds an instance that has not ended (a caller cancelled whose child's
  ``cancel_child`` job has not run yet) is kept whole: the child will send its ``return`` job to
  that caller when it ends.
- **Message receipts** (``message_receipt``) stay: they are keyed by message id, not instance,
  and deleting one would let a redelivered message start a second instance.

Safe while the engine runs: candidates are read without a lock, then each batch of at most
``batch_size`` roots is re-checked and deleted in its own short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so an instance an ``advance`` holds is left for the next run; SQLite
queues the batch behind the database's write lock like any other writer). An ended instance is
never changed again by the engine, so nothing is lost by deleting it between two batches.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Table, delete, func, or_, select

from .errors import InvalidRequest
from .models import Base, ProcessDefinition, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine

FINISHED = ("completed", "compensated", "cancelled", "terminated")
CHUNK = 500  # ids per IN (...): well below every database's parameter limit

_SHORT = re.compile(r"^([0-9]+)([dhm])$")
_ISO = re.compile(r"^P(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?$")
_LONGEST = timedelta(days=36_525)  # a century: any longer cut-off is a typo (and past datetime's range)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, or ISO 8601 ``P90D`` / ``PT12H`` / ``P2W`` / ``P1DT6H``.

    Years and months are refused: their length varies, and a cut-off must be exact."""
    raw = text.strip()
    short, iso = _SHORT.match(raw), _ISO.match(raw.upper())
    if not short and (not iso or raw.upper() in ("P", "PT") or raw.upper().endswith("T")):
        raise InvalidRequest(f"older than {text!r}: write a duration such as 90d, 12h, 30m or P90D "
                             "(ISO 8601 weeks, days, hours, minutes, seconds; not years or months)")
    try:
        if short:
            found = timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
        else:
            weeks, days, hours, minutes, seconds = (int(part or 0) for part in iso.groups())  # type: ignore[union-attr]
            found = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (OverflowError, ValueError):  # more digits than timedelta (or int()) takes
        found = _LONGEST + _LONGEST
    if not timedelta(0) < found <= _LONGEST:
        raise InvalidRequest(f"older than {text!r}: the duration must be more than zero and at most a century")
    return found


@dataclass
class PruneReport:
    """What a prune deleted (or, with ``dry_run``, would delete)."""

    cutoff: datetime
    dry_run: bool
    instances: int = 0
    kept: int = 0  # ended roots past the cut-off kept because part of their call tree has not ended
    batches: int = 0
    by_definition: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "dry_run": self.dry_run, "instances": self.instances,
                "kept": self.kept, "batches": self.batches, "by_definition": dict(sorted(self.by_definition.items())),
                "rows": {name: self.rows.get(name, 0) for name in sorted(self.rows)}}


def prune_history(engine: Engine, older_than: str | timedelta, *, dry_run: bool = False,
                  batch_size: int = 500) -> dict[str, Any]:
    """Delete the instances that ended before now minus ``older_than``, ``batch_size`` call
    trees per transaction; return :meth:`PruneReport.to_dict` (counts per table)."""
    age = parse_duration(older_than) if isinstance(older_than, str) else older_than
    if not timedelta(0) < age <= _LONGEST:
        raise InvalidRequest("older than: the duration must be more than zero and at most a century")
    if batch_size < 1:
        raise InvalidRequest("batch size must be at least 1")
    report = PruneReport(cutoff=utcnow() - age, dry_run=dry_run)
    after = ""
    while True:
        with engine.db.reading() as session:
            roots = _roots(session, report.cutoff, after, batch_size)
        if not roots:
            break
        after = roots[-1]  # keyset on the primary key: each candidate is looked at once
        if dry_run:
            with engine.db.reading() as session:
                _prune_batch(session, roots, report, delete_rows=False)
        else:
            with engine.db.transaction() as session:
                pruned = _prune_batch(session, roots, report, delete_rows=True)
            for instance_id in pruned:
                engine._remember_workflow(instance_id, -1, None)
    return report.to_dict()


def _finished_before(cutoff: datetime) -> Any:
    return ProcessInstance.status.in_(FINISHED) & ProcessInstance.ended_at.is_not(None) & \
        (ProcessInstance.ended_at < cutoff)


def _roots(session: Session, cutoff: datetime, after: str, limit: int) -> list[str]:
    """Ended instances past the cut-off that head a call tree: no caller, or their caller is gone."""
    caller = ProcessInstance.__table__.alias("caller")
    no_caller = or_(ProcessInstance.parent_instance_id.is_(None),
                    ~select(caller.c.id).where(caller.c.id == ProcessInstance.parent_instance_id).exists())
    return list(session.scalars(
        select(ProcessInstance.id).where(ProcessInstance.id > after, _finished_before(cutoff), no_caller)
        .order_by(ProcessInstance.id).limit(limit)))


def _prune_batch(session: Session, roots: Sequence[str], report: PruneReport, *, delete_rows: bool) -> list[str]:
    """Count or delete the call trees of ``roots``; return the instance ids deleted."""
    query = select(ProcessInstance.id).where(ProcessInstance.id.in_(roots), _finished_before(report.cutoff))
    if delete_rows:  # re-checked under lock: the candidates were read without one
        query = query.with_for_update(skip_locked=True)
    roots = list(session.scalars(query))
    ids = _whole_trees(session, roots, report)
    if not ids:
        return []
    report.batches += 1
    report.instances += len(ids)
    for chunk in _chunks(ids):
        report.by_definition.update(dict(session.execute(
            select(ProcessDefinition.key, func.count()).join(ProcessInstance)
            .where(ProcessInstance.id.in_(chunk)).group_by(ProcessDefinition.key)).all()))
    for table, column in owned_tables():
        report.rows[table.name] += _apply(session, table, column, ids, delete_rows)
    instances = ProcessInstance.__table__
    report.rows[instances.name] += _apply(session, instances, instances.c.id, ids, delete_rows)
    return ids if delete_rows else []


def _whole_trees(session: Session, roots: list[str], report: PruneReport) -> list[str]:
    """``roots`` and every instance they called, transitively, leaving out each tree that holds
    an instance that has not ended.

    The called instances are read without a lock: one that has ended stays so, and one seen
    still running keeps its tree (locking it would wait on, or deadlock with, its own advance,
    whose ``return`` job points at the root this batch holds)."""
    root_of = {root: root for root in roots}
    unfinished_trees: set[str] = set()
    frontier = list(roots)
    while frontier:
        found = []
        for chunk in _chunks(frontier):
            found += session.execute(
                select(ProcessInstance.id, ProcessInstance.parent_instance_id, ProcessInstance.status)
                .where(ProcessInstance.parent_instance_id.in_(chunk))).all()
        frontier = []
        for child_id, parent_id, status in found:
            if child_id in root_of:  # a malformed cycle: never walk it twice
                continue
            root_of[child_id] = root_of[parent_id]
            if status not in FINISHED:
                unfinished_trees.add(root_of[parent_id])
            frontier.append(child_id)
    report.kept += len(unfinished_trees)
    return [instance_id for instance_id, root in root_of.items() if root not in unfinished_trees]


def owned_tables() -> list[tuple[Table, Column[Any]]]:
    """Every table that names an instance, and the column that does: a foreign key to
    ``process_instance.id``, or a column called ``instance_id`` (a reference kept without a
    foreign key, such as a start's idempotency record, which must not outlive its instance).
    Tables whose rows point at others' rows come first (``incident`` before the ``job`` it names)."""
    instances = Base.metadata.tables[ProcessInstance.__tablename__]
    found = []
    for table in reversed(Base.metadata.sorted_tables):
        for column in table.columns:
            if table is not instances and (column.name == "instance_id" or any(
                    fk.column.table is instances for fk in column.foreign_keys)):
                found.append((table, column))
                break
    return found


def _apply(session: Session, table: Table, column: Column[Any], ids: list[str], delete_rows: bool) -> int:
    count = 0
    for chunk in _chunks(ids):
        if delete_rows:
            result = session.execute(delete(table).where(column.in_(chunk)).execution_options(
                synchronize_session=False))
            count += result.rowcount  # type: ignore[attr-defined]
        else:
            count += session.scalar(select(func.count()).select_from(table).where(column.in_(chunk))) or 0
    return count


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    items = list(items)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
