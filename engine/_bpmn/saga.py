"""Running compensation: the ledger of completed activities, and frames that run handlers in order.

- **Ledger.** Every completed compensable activity (one with a handler, or a sub-process) is
  recorded the moment it completes, with a deep copy of its data: SpiffWorkflow shares nested
  values between tasks, so a later script could otherwise change the snapshot.
- **Frames.** A compensation throw that starts pushes a frame: the units to run (a handler, or a
  sub-process's compensation event sub-process), newest completion first. Units run strictly one
  after another, each as its own small workflow seeded with ``current variables | snapshot``;
  a unit may wait (a service job, a user task) and may throw compensation itself (a nested
  frame). When a frame's queue is empty its throw completes and the flow goes on.
- Completed instances of one *parallel* multi-instance activity are compensated together, at
  the place of the activity's own completion (as Camunda does); everything else in strict
  reverse order of completion. An entry is compensated at most once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, ParallelMultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess, SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .compensation import CompensationPlan, CompensationThrowMixin

if TYPE_CHECKING:
    from .workflow import BatonWorkflow, WorkflowCodec

ROOT = "root"
_MISSING = object()
Note = Callable[[str, str, dict[str, Any]], None]


@dataclass
class Entry:
    """One completed compensable activity instance."""

    index: int
    activity: str
    task_id: str
    scope: str
    mi_parent: str | None = None
    parallel_mi: bool = False
    is_mi: bool = False
    is_subprocess: bool = False
    iteration: int = 1
    snapshot: dict[str, Any] | None = None
    done: bool = False
    local_names: list[str] = field(default_factory=list)  # multi-instance element variables around it


@dataclass
class Unit:
    unit_id: str            # handler or compensation event sub-process id
    entry: int              # ledger index of the compensated activity
    seed: dict[str, Any] = field(default_factory=dict)
    workflow: Any = None    # the running unit workflow, when started


@dataclass
class Frame:
    throw_id: str
    scopes: list[str]
    queue: list[Unit]
    current: Unit | None = None


def seed_for(entry: Entry, current: dict[str, Any]) -> dict[str, Any]:
    """What a handler starts with, as Camunda 7 gives it: the current variables (so a handler sees
    what ran after its activity, and the writes of the handlers before it), plus the snapshot of
    the scope its activity completed in: a multi-instance instance's element variable, and what a
    completed sub-process held that the process does not hold now (its local variables)."""
    seed = copy.deepcopy(current)
    snapshot = entry.snapshot or {}
    for name, value in snapshot.items():
        if name not in seed or name in entry.local_names:
            seed[name] = copy.deepcopy(value)
    return seed


def _element_variables(task: Task) -> list[str]:
    """The element variables of the multi-instance activities and sub-processes ``task`` is in."""
    names: list[str] = []
    node: Task | None = task
    while node is not None:
        parent = node.parent
        spec = parent.task_spec if parent is not None else None
        if isinstance(spec, MultiInstanceTask) and spec.input_item is not None:
            names.append(spec.input_item.bpmn_id)
        if parent is None and node.workflow is not node.workflow.top_workflow:
            node = node.workflow.top_workflow.get_task_from_id(node.workflow.parent_task_id)
        else:
            node = parent
    return names


def scope_key(task: Task) -> str:
    workflow = task.workflow
    return ROOT if workflow is workflow.top_workflow else str(workflow.parent_task_id)


class CompensationState:
    """The per-instance ledger and frames; lives on the top workflow as ``workflow.compensation``."""

    def __init__(self, plan: CompensationPlan, units: dict[str, Any]):
        self.plan = plan
        self.units = units  # unit id -> DefinitionSpecs-like (spec, subprocess_specs)
        self.entries: list[Entry] = []
        self.completed: set[str] = set()
        self.frames: list[Frame] = []
        self.ran = False
        self._recordable = set(plan.handlers) | set(plan.subprocesses)

    # -- the ledger ------------------------------------------------------------------------
    def record(self, task: Task) -> None:
        """Called by the workflow each time a task completes."""
        spec = task.task_spec
        bpmn_id = spec.bpmn_id
        if bpmn_id is None or bpmn_id not in self._recordable:
            return
        is_mi = isinstance(spec, MultiInstanceTask)
        parent = task.parent
        mi_parent = parent if parent is not None and isinstance(parent.task_spec, MultiInstanceTask) \
            and parent.task_spec.bpmn_id == bpmn_id and not is_mi else None
        key = scope_key(task)
        iteration = 1 + sum(1 for e in self.entries if e.activity == bpmn_id and e.scope == key and not e.is_mi)
        needs_data = bpmn_id in self.plan.handlers or bpmn_id in self.plan.event_subprocesses
        local_names = _element_variables(task) if needs_data and not is_mi else []
        self.entries.append(Entry(
            index=len(self.entries), activity=bpmn_id, task_id=str(task.id), scope=key,
            mi_parent=str(mi_parent.id) if mi_parent is not None else None,
            parallel_mi=mi_parent is not None and isinstance(mi_parent.task_spec, ParallelMultiInstanceTask),
            is_mi=is_mi, is_subprocess=isinstance(spec, SubWorkflowTask) and not is_mi,
            iteration=iteration if not is_mi else 0,
            snapshot=copy.deepcopy(task.data) if needs_data and not is_mi and (key != ROOT or local_names) else None,
            local_names=local_names,
        ))
        self.completed.add(str(task.id))

    def select(self, scopes: list[str], activity_ref: str | None, *, mark: bool) -> list[tuple[str, Entry]]:
        """The units compensation thrown in ``scopes`` runs now, in order."""
        units: list[tuple[str, Entry]] = []
        mi_done_at = {e.task_id: e.index for e in self.entries if e.is_mi}

        def eligible(scope_list: list[str], ref: str | None) -> list[Entry]:
            found = [e for e in self.entries if e.scope in scope_list and not e.done and not e.is_mi
                     and (e.mi_parent is None or e.mi_parent in self.completed)
                     and (ref is None or e.activity == ref)]

            def order(e: Entry) -> tuple[int, int]:
                group = mi_done_at.get(e.mi_parent, e.index) if e.parallel_mi and e.mi_parent else e.index
                return (group, e.index)

            return sorted(found, key=order, reverse=True)

        seen: set[int] = set()

        def expand(entry: Entry) -> None:
            if entry.index in seen:
                return
            seen.add(entry.index)
            if mark:
                entry.done = True
            if entry.activity in self.plan.handlers:
                units.append((self.plan.handlers[entry.activity], entry))
            elif entry.activity in self.plan.event_subprocesses:
                units.append((self.plan.event_subprocesses[entry.activity], entry))
            elif entry.is_subprocess:
                for inner in eligible([entry.task_id], None):
                    expand(inner)

        for entry in eligible(scopes, activity_ref):
            expand(entry)
        return units

    def pending(self, workflow: BatonWorkflow) -> list[dict[str, Any]]:
        """For each live scope: what a compensation thrown there now would undo, in order."""
        scopes = [(ROOT, workflow.spec.name)]
        for task_id, sub in workflow.subprocesses.items():
            if not sub.completed:
                try:
                    parent = workflow.get_task_from_id(task_id)
                    scopes.append((str(task_id), parent.task_spec.bpmn_id))
                except Exception:
                    continue
        result = []
        for key, element in scopes:
            steps = [{"activity": e.activity, "handler": unit, "iteration": e.iteration}
                     for unit, e in self.select([key], None, mark=False)]
            if steps:
                result.append({"scope": element, "steps": steps})
        return result

    # -- driving frames --------------------------------------------------------------------
    def drive(self, workflow: BatonWorkflow, note: Note, observe: Callable[[], None],
              new_workflow: Callable[[Any], BatonWorkflow]) -> bool:
        """Start frames for new throws, run units, complete finished throws. True if anything moved."""
        moved = False
        for _ in range(100_000):
            started = self._new_throws(workflow)
            for task, scopes in started:
                spec_plan = self.plan.throws.get(task.task_spec.bpmn_id, {})
                queue = [Unit(unit_id=u, entry=e.index)
                         for u, e in self.select(scopes, spec_plan.get("activity_ref"), mark=True)]
                self.frames.append(Frame(throw_id=str(task.id), scopes=scopes, queue=queue))
                moved = True
            if not self.frames:
                return moved
            frame = self.frames[-1]
            unit = frame.current
            if unit is not None:
                unit.workflow.run_engine()
                observe()
                if self._new_throws(workflow):
                    continue
                if not unit.workflow.completed:
                    return moved
                self._finish(workflow, frame, unit, note)
                moved = True
                continue
            if frame.queue:
                unit = frame.queue.pop(0)
                entry = self.entries[unit.entry]
                throw = workflow.get_task_from_id(UUID(frame.throw_id))
                unit.seed = seed_for(entry, throw.data)
                unit.workflow = new_workflow(self.units[unit.unit_id])
                unit.workflow.task_tree.data.update(unit.seed)
                unit.workflow.unit_scope = entry.task_id
                frame.current = unit
                self.ran = True
                note(entry.activity, "compensating", self._details(unit, entry))
                moved = True
                continue
            throw = workflow.get_task_from_id(UUID(frame.throw_id))
            self.frames.pop()
            throw.internal_data["baton_compensated"] = True
            throw.run()
            moved = True
        raise RuntimeError("compensation did not settle")  # pragma: no cover - a loop guard

    def _finish(self, workflow: BatonWorkflow, frame: Frame, unit: Unit, note: Note) -> None:
        entry = self.entries[unit.entry]
        out = unit.workflow.last_task.data if unit.workflow.last_task is not None else {}
        changed = {k: v for k, v in out.items() if unit.seed.get(k, _MISSING) != v}
        throw = workflow.get_task_from_id(UUID(frame.throw_id))
        throw.data.update(copy.deepcopy(changed))
        note(entry.activity, "compensated", self._details(unit, entry))
        frame.current = None

    def _details(self, unit: Unit, entry: Entry) -> dict[str, Any]:
        return {"activity": entry.activity, "handler": unit.unit_id, "iteration": entry.iteration,
                "activity_task": entry.task_id}

    def _new_throws(self, workflow: BatonWorkflow) -> list[tuple[Task, list[str]]]:
        """STARTED compensation throws that have no frame yet, with the scopes they compensate."""
        framed = {f.throw_id for f in self.frames}
        found: list[tuple[Task, list[str]]] = []
        for task in self.live_tasks(workflow):
            if task.state != TaskState.STARTED or not isinstance(task.task_spec, CompensationThrowMixin):
                continue
            if str(task.id) in framed or task.internal_data.get("baton_compensated"):
                continue
            found.append((task, self._scopes_of(workflow, task)))
        return found

    def _scopes_of(self, workflow: BatonWorkflow, task: Task) -> list[str]:
        unit_scope = getattr(task.workflow.top_workflow, "unit_scope", None)
        if unit_scope is not None and task.workflow.top_workflow is not workflow:
            return [unit_scope]
        key = scope_key(task)
        scopes = [key]
        if key != ROOT:
            parent = workflow.get_task_from_id(task.workflow.parent_task_id)
            if isinstance(parent.task_spec, EventSubprocess) or parent.task_spec.bpmn_id in self.plan.event_scopes:
                scopes.append(scope_key(parent))
        return scopes

    def unit_workflows(self) -> list[BatonWorkflow]:
        return [f.current.workflow for f in self.frames if f.current is not None]

    def live_tasks(self, workflow: BatonWorkflow) -> list[Task]:
        tasks = list(workflow.tasks.values())
        for sub in workflow.subprocesses.values():
            tasks.extend(sub.tasks.values())
        for unit_workflow in self.unit_workflows():
            tasks.extend(unit_workflow.tasks.values())
            for sub in unit_workflow.subprocesses.values():
                tasks.extend(sub.tasks.values())
        return tasks

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self, codec: WorkflowCodec) -> dict[str, Any]:
        frames = []
        for frame in self.frames:
            current = None
            if frame.current is not None:
                # A JSON string, not a dict: the serializer restores typed dicts it finds in the
                # workflow's data, and a unit workflow cannot be restored without its spec.
                current = {"unit": frame.current.unit_id, "entry": frame.current.entry, "seed": frame.current.seed,
                           "state": json.dumps(codec.workflow_to_dict(frame.current.workflow))}
            frames.append({"throw_id": frame.throw_id, "scopes": frame.scopes, "current": current,
                           "queue": [[u.unit_id, u.entry] for u in frame.queue]})
        return {"entries": [asdict(e) for e in self.entries], "frames": frames, "ran": self.ran}

    def restore(self, data: dict[str, Any], codec: WorkflowCodec) -> None:
        self.entries = [Entry(**e) for e in data.get("entries", [])]
        self.completed = {e.task_id for e in self.entries}
        self.ran = bool(data.get("ran"))
        self.frames = []
        for raw in data.get("frames", []):
            current = None
            if raw.get("current"):
                c = raw["current"]
                unit_workflow = codec.workflow_from_dict(json.loads(c["state"]), self.units[c["unit"]])
                unit_workflow.unit_scope = self.entries[c["entry"]].task_id
                current = Unit(unit_id=c["unit"], entry=c["entry"], seed=c["seed"], workflow=unit_workflow)
            self.frames.append(Frame(throw_id=raw["throw_id"], scopes=raw["scopes"], current=current,
                                     queue=[Unit(unit_id=u, entry=e) for u, e in raw["queue"]]))
