"""Turn SpiffWorkflow task state changes into ``activity_event`` rows.

A tracker snapshots every task's state before the workflow moves and diffs after. Several
transitions between two snapshots (READY -> STARTED -> COMPLETED inside one engine pass) collapse
into ``entered`` + ``completed``. Only tasks of real BPMN elements are recorded (SpiffWorkflow's
own helper tasks have no ``bpmn_id``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import commit_points, decision_record
from .compensation import CANCELLED_TRANSACTION, SYNTHETIC_PREFIX
from .workflow import BatonWorkflow

_ACTIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING


@dataclass
class Change:
    """One history event, before it becomes a row."""

    at: datetime
    element_id: str
    element_type: str | None
    name: str | None
    event: str
    task_id: str
    details: dict[str, Any] | None = None
    order: float = 0.0


def all_tasks(workflow: BatonWorkflow) -> list[Task]:
    """Every task of the instance: the workflow, its sub-processes, running compensation units."""
    if workflow.compensation is not None:
        return workflow.compensation.live_tasks(workflow)
    tasks = list(workflow.tasks.values())
    for sub in workflow.subprocesses.values():
        tasks.extend(sub.tasks.values())
    return tasks


# Baton's own spec classes, shown under the BPMN element name a modeller uses.
_BPMN_NAMES = {
    "CompensationIntermediateThrowEvent": "IntermediateThrowEvent",
    "CompensationEndEvent": "EndEvent",
    "CallActivityTask": "CallActivity",
    # SpiffWorkflow's Camunda parser builds embedded (and event) sub-processes from its
    # CallActivity class; Baton's call activities are CallActivityTask.
    "CallActivity": "SubProcess",
    "DecisionGraphTask": "BusinessRuleTask",  # a business rule task whose decision has required ones
    "DecisionRefTask": "BusinessRuleTask",  # bound to its decision when reached (decision_binding.py)
}


def element_type(task: Task) -> str:
    name = type(task.task_spec).__name__
    return _BPMN_NAMES.get(name, name)


@dataclass
class Tracker:
    """Remembers task states; :meth:`collect` returns the changes since the last look."""

    states: dict[UUID, int] = field(default_factory=dict)
    pending: list[Change] = field(default_factory=list)
    #: boundary events cancelled with their activity: no history row, but their timer or message
    #: jobs must go (``outbox.cancel_orphan_jobs``)
    quietly_cancelled: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, workflow: BatonWorkflow) -> Tracker:
        tracker = cls()
        tracker.states = {t.id: t.state if t.state != TaskState.WAITING else commit_points.shown_state(t)
                          for t in all_tasks(workflow)}
        return tracker

    def collect(self, workflow: BatonWorkflow) -> None:
        """Diff now against the last snapshot; keep the changes; take a new snapshot."""
        states: dict[UUID, int] = {}
        for task in all_tasks(workflow):
            state = task.state
            if state == TaskState.WAITING:
                state = commit_points.shown_state(task)  # a held task has not entered its element yet
            states[task.id] = state
            old = self.states.get(task.id)
            bpmn_id = task.task_spec.bpmn_id
            if old == state or bpmn_id is None or bpmn_id.startswith(SYNTHETIC_PREFIX):
                continue
            self._record(task, old, state)
        self.states = states

    def _record(self, task: Task, old: int | None, new: int) -> None:
        if isinstance(task.task_spec, BoundaryEvent):
            # A boundary event "waits" as long as its activity runs: only its firing is news.
            if new == TaskState.CANCELLED:
                self.quietly_cancelled.append(str(task.id))
            if new != TaskState.COMPLETED:
                return
            old = None
        # a task held at camunda:asyncBefore was waiting there, though not entered (commit_points.py)
        was_active = old is not None and (bool(old & _ACTIVE) or task.internal_data.get(commit_points.BEFORE) == "held")
        at = datetime.fromtimestamp(task.last_state_change, UTC)
        spec = task.task_spec

        def add(event: str, order_bias: float = 0.0) -> None:
            decided = decision_record.evaluation(task) if event == "completed" else None
            self.pending.append(Change(
                at=at, element_id=spec.bpmn_id, element_type=element_type(task), name=spec.bpmn_name,
                event=event, task_id=str(task.id), order=task.last_state_change + order_bias,
                details={"decision": decided} if decided else None,
            ))

        if new & _ACTIVE and not was_active:
            add("entered")
        elif new == TaskState.COMPLETED:
            if not was_active:
                add("entered", -1e-7)
            # A cancelled transaction ends as a task SpiffWorkflow completes: say what happened.
            add("cancelled" if task.internal_data.get(CANCELLED_TRANSACTION) else "completed")
        elif new == TaskState.CANCELLED and was_active:
            add("cancelled")
        elif new == TaskState.ERROR:
            if not was_active:
                add("entered", -1e-7)
            add("failed")

    def note(self, element_id: str, event: str, details: dict[str, Any] | None = None,
             element_type: str | None = None) -> None:
        """A history row Baton adds itself, ordered with the task changes around it."""
        now = time.time()
        self.pending.append(Change(at=datetime.fromtimestamp(now, UTC), element_id=element_id,
                                   element_type=element_type, name=None, event=event, task_id="",
                                   details=details, order=now))

    def drain_quiet_cancels(self) -> list[str]:
        cancelled, self.quietly_cancelled = self.quietly_cancelled, []
        return cancelled

    def drain(self) -> list[Change]:
        changes = sorted(self.pending, key=lambda c: c.order)
        self.pending = []
        return changes
