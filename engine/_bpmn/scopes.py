"""Scopes: the embedded sub-processes around an element, and the tree moves that put a task in one.

SpiffWorkflow runs an embedded (event, transaction) sub-process as a sub-workflow of the top
workflow, ``workflow.subprocesses[owner task id]``, made from ``subprocess_specs[name]``; its
*owner* is a task of a ``SubWorkflowTask`` spec whose ``spec`` is that name. An element's *scope
chain* is the ids of the sub-process elements around it, outermost first (``()`` at the process's
top level). Modification and migration use this module to find where an element sits in a
version (:class:`ScopeIndex`), to enter a sub-process without running its start event
(:func:`enter_scope`), and to hang an existing task under a new spec with the boundary events
that spec has (:func:`attach_task`). Each iteration of a multi-instance sub-process is a scope of
its own: its owner is the loop task's ``[child]`` (:func:`instance_spec`); an event sub-process
whose start event still waits is armed, not running (:func:`untriggered`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask, TransactionSubprocess
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


@dataclass(frozen=True)
class Place:
    """Where an element sits in a version: its spec and the sub-process ids around it."""

    spec: Any
    chain: tuple[str, ...]

    @property
    def scope(self) -> str | None:
        """The innermost sub-process around the element (None: the process's top level)."""
        return self.chain[-1] if self.chain else None


class ScopeIndex:
    """Each BPMN element of one version (top level and inside its sub-processes) with its place."""

    def __init__(self, spec: Any, subprocess_specs: dict[str, Any]) -> None:
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        containers: dict[str, str | None] = {}  # element id -> name of the sub spec holding it
        owners: dict[str, tuple[str, str | None]] = {}  # sub spec name -> (owner id, its container)
        self._specs: dict[str, Any] = {}
        for name, process_spec in [(None, spec), *subprocess_specs.items()]:
            for task_spec in process_spec.task_specs.values():
                if isinstance(task_spec, SubWorkflowTask) and task_spec.spec in subprocess_specs:
                    # a multi-instance sub-process's iterations run the spec of its "[child]" task,
                    # which shares the element id with the loop task that is the element
                    owners[task_spec.spec] = (task_spec.bpmn_id, name)
                if not task_spec.bpmn_id or task_spec.bpmn_id in containers and not isinstance(task_spec, LoopTask):
                    continue  # (the loop task, not its "[child]", is the element)
                containers[task_spec.bpmn_id] = name
                self._specs[task_spec.bpmn_id] = task_spec
        self._places: dict[str, Place] = {}
        for element_id, name in containers.items():
            chain: list[str] = []
            seen: set[str] = set()
            while name is not None and name in owners and name not in seen:
                seen.add(name)
                owner_id, name = owners[name]
                chain.insert(0, owner_id)
            self._places[element_id] = Place(self._specs[element_id], tuple(chain))

    def place(self, element_id: str) -> Place | None:
        return self._places.get(element_id)

    def multi_instance_scopes(self) -> set[str]:
        """The ids of the sub-processes that are multi-instance (each iteration a sub-workflow)."""
        return {e for e, place in self._places.items() if instance_spec(place.spec) is not None}

    def elements(self) -> dict[str, Place]:
        return dict(self._places)


def is_event_subprocess(spec: Any) -> bool:
    """Whether ``spec`` is an event sub-process: SpiffWorkflow hangs one with a timer (or none)
    start event under its scope's start task, and keeps the others as that task's triggers."""
    if not isinstance(spec, SubWorkflowTask):
        return False
    start = spec._wf_spec.start
    return spec in start.outputs or spec.spec in getattr(start, "trigger_specs", ())


def element_kind(spec: Any) -> str:
    """What a plan compares: the spec's class, a sub-process told from an event sub-process and a
    transaction, a multi-instance activity with what its iterations are."""
    inner = spec._wf_spec.task_specs.get(spec.task_spec) if isinstance(spec, LoopTask) else None
    if inner is not None:
        return f"{type(spec).__name__}({element_kind(inner)})"
    if isinstance(spec, TransactionSubprocess):
        return "Transaction"
    if isinstance(spec, SubWorkflowTask):
        return "EventSubProcess" if is_event_subprocess(spec) else "SubProcess"
    return type(spec).__name__


def element_spec(process_spec: Any, element_id: str) -> Any:
    """The spec of ``element_id`` in one process spec (a multi-instance one's loop task, not the
    "[child]" that shares its id)."""
    found = [s for s in process_spec.task_specs.values() if s.bpmn_id == element_id]
    return next((s for s in found if isinstance(s, LoopTask)), found[0] if found else None)


def instance_spec(spec: Any) -> Any:
    """The "[child]" spec a multi-instance sub-process's iterations run as (None for anything else)."""
    if not isinstance(spec, LoopTask):
        return None
    child = spec._wf_spec.task_specs.get(spec.task_spec)
    return child if isinstance(child, SubWorkflowTask) else None


def subworkflow_spec_name(spec: Any) -> str:
    """The name of the sub-workflow spec that sub-process element ``spec`` runs (its iterations' for
    a multi-instance one)."""
    return (instance_spec(spec) or spec).spec


# -- a running workflow's scopes -----------------------------------------------------------------

def owner_of(workflow: Any, scope: Any) -> Task | None:
    """The sub-process task that runs the sub-workflow ``scope`` (None for the top workflow)."""
    parent_id = getattr(scope, "parent_task_id", None)
    if parent_id is None:
        return None
    try:
        return workflow.get_task_from_id(parent_id)
    except Exception:
        return None


def owners_around(workflow: Any, scope: Any) -> list[Task]:
    """The running sub-process tasks a scope sits in, outermost first, its own owner last."""
    found: list[Task] = []
    while (owner := owner_of(workflow, scope)) is not None:
        found.insert(0, owner)
        scope = owner.workflow
    return found


def live_scopes(workflow: Any) -> list[Any]:
    """The top workflow and every sub-workflow whose sub-process task is still running."""
    found = [workflow]
    for sub in workflow.subprocesses.values():
        owner = owner_of(workflow, sub)
        if owner is not None and owner.state == TaskState.STARTED and not sub.completed:
            found.append(sub)
    return found


def tokens_in(scope: Any) -> list[Task]:
    """The live tasks of BPMN elements in one scope (boundary events wait with their activity,
    the instances of a loop or multi-instance activity with the activity)."""
    return [t for t in scope.tasks.values() if t.has_state(LIVE) and t.task_spec.bpmn_id
            and not isinstance(t.task_spec, BoundaryEvent) and not _is_instance(t)]


def is_instance(task: Task) -> bool:
    """Whether ``task`` is one iteration of a loop or multi-instance activity."""
    return _is_instance(task)


def untriggered(scope: Any) -> bool:
    """Whether ``scope`` is an event sub-process waiting for its start event (armed, not triggered)."""
    return any(isinstance(t.task_spec, StartEvent) and t.state == TaskState.WAITING for t in scope.tasks.values())


def _is_instance(task: Task) -> bool:
    parent = task.parent
    return parent is not None and isinstance(parent.task_spec, LoopTask) and \
        task.task_spec.name == parent.task_spec.task_spec


def running_owners(workflow: Any, scope: Any, element_id: str) -> list[Task]:
    """The running tasks of sub-process ``element_id`` inside ``scope`` that have their sub-workflow."""
    return [t for t in scope.tasks.values() if t.task_spec.bpmn_id == element_id and t.state == TaskState.STARTED
            and t.id in workflow.subprocesses]


# -- tree moves --------------------------------------------------------------------------------------

def new_token(scope: Any, parent: Task, spec: Any, data: dict[str, Any]) -> Task:
    """A new token at ``spec`` under the finished task ``parent`` of ``scope``, made ready as
    SpiffWorkflow resets a branch (``Task.reset_branch``): FUTURE, predicted, updated. An activity
    with boundary events is entered through its split."""
    split = next((s for s in spec.inputs if isinstance(s, BoundaryEventSplit)), None)
    start_spec = split or spec
    task = Task(scope, start_spec, parent, state=TaskState.FUTURE)
    task.data = copy.deepcopy(data)
    start_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
    start_spec._update(task)
    return task


def enter_scope(workflow: Any, scope: Any, parent: Task, owner_spec: Any, data: dict[str, Any]) -> Any:
    """Instantiate the sub-process ``owner_spec`` under ``parent`` in ``scope`` and return its
    sub-workflow, with no token inside yet (Camunda's nested instantiation): the sub-process task
    starts as SpiffWorkflow starts it (data copied in, boundary events around it waiting), and the
    start event its start readied is taken away again, since the caller puts the token elsewhere
    (its timer event sub-processes stay, to wait as they would)."""
    task = new_token(scope, parent, owner_spec, data)
    if isinstance(task.task_spec, BoundaryEventSplit) and task.state == TaskState.READY:
        task.run()  # its boundary events wait; its main child, the sub-process, starts
        task = next(c for c in task.children if c.task_spec is owner_spec)
    sub = workflow.subprocesses.get(task.id)
    if sub is None:
        raise ValueError(f"the sub-process {owner_spec.bpmn_id} did not start")
    root = sub.task_tree
    for child in list(root.children):
        if not is_event_subprocess(child.task_spec):  # its timer event sub-processes wait as they would
            sub._remove_task(child.id)
    return sub


@dataclass(frozen=True)
class Attached:
    """What hung around a task before it moves: its boundary-event split, its waiting boundary events."""

    split: Task | None
    boundaries: tuple[Task, ...]
    instances: tuple[Task, ...]  # of a loop or multi-instance activity: every iteration, done or not

    @classmethod
    def of(cls, task: Task) -> Attached:
        split = task.parent if task.parent is not None and isinstance(task.parent.task_spec, BoundaryEventSplit) \
            else None
        return cls(split, tuple(t for t in (split.children if split else [])
                                if isinstance(t.task_spec, BoundaryEvent) and t.state == TaskState.WAITING),
                   tuple(c for c in task.children if _is_instance(c)))


def attach_task(workflow: Any, scope: Any, task: Task, spec: Any, parent: Task, boundary_map: dict[str, str],
                before: Attached) -> tuple[Task, list[Task]]:
    """Hang the live ``task`` (its id, state, data and internal data kept) under ``parent`` in
    ``scope`` with the spec ``spec`` of another version, and give it ``spec``'s boundary events:
    a waiting boundary event that ``boundary_map`` maps onto one of them keeps its task (a timer
    its due date); the others of ``spec`` are armed now. Returns the task the caller hangs under
    ``parent`` (the split, or ``task``) and the boundary tasks kept from before (``before``: what
    hung around it, taken before its scope was cleared)."""
    old_split = before.split
    old_boundaries = {t.task_spec.bpmn_id: t for t in before.boundaries}
    split_spec = next((s for s in spec.inputs if isinstance(s, BoundaryEventSplit)), None)
    if split_spec is None:
        _adopt(scope, task, spec, parent)
        _predict(task, spec)
        _carry_instances(scope, task, spec, before.instances)
        return task, []
    split = old_split or Task(scope, split_spec, None, state=TaskState.COMPLETED)
    if old_split is None:
        split.data = copy.deepcopy(task.data)
    _adopt(scope, split, split_spec, parent)
    _adopt(scope, task, spec, split)
    _predict(task, spec)
    _carry_instances(scope, task, spec, before.instances)
    kept: list[Task] = []
    for output in split_spec.outputs:
        if not isinstance(output, BoundaryEvent):
            continue
        source = next((old for old_id, old in old_boundaries.items() if boundary_map.get(old_id) == output.bpmn_id),
                      None)
        if source is not None:
            _adopt(scope, source, output, split)
            _predict(source, output)
            kept.append(source)
            continue
        fresh = Task(scope, output, split, state=TaskState.MAYBE)
        fresh.data = copy.deepcopy(task.data)
        fresh._set_state(TaskState.WAITING)
        output._update(fresh)  # waits: its timer is due from now, its message subscribed
        _predict(fresh, output)
    return split, kept


def _carry_instances(scope: Any, task: Task, spec: Any, instances: tuple[Task, ...]) -> None:
    """A loop or multi-instance activity keeps its iterations (the finished ones count them) under
    the target's instance spec, whose completions its new spec merges."""
    if not instances:
        return
    child_spec = spec._wf_spec.task_specs[spec.task_spec]
    if not child_spec.completed_event.is_connected(spec.merge_child):
        child_spec.completed_event.connect(spec.merge_child)
    for instance in instances:
        _adopt(scope, instance, child_spec, task)


def _adopt(scope: Any, task: Task, spec: Any, parent: Task | None) -> None:
    """``task`` becomes a task of ``scope`` with ``spec``, under ``parent`` (None: detached)."""
    task.task_spec = spec
    task.workflow = scope
    task._children = []
    task._parent = parent.id if parent is not None else None
    scope.tasks[task.id] = task
    if parent is not None and task.id not in parent._children:
        parent._children.append(task.id)


def _predict(task: Task, spec: Any) -> None:
    """Make ``task``'s predicted children again from its (new) spec (``_adopt`` left it none)."""
    spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)
