"""Camunda 7's asynchronous continuations: ``camunda:asyncBefore`` / ``asyncAfter`` as commit points.

Camunda 7 commits at wait states, and where an editor asks for it: ``asyncBefore`` (or the older
``camunda:async``) commits before the element runs and a job continues from there; ``asyncAfter``
lets the element complete, commits, and a job takes its outgoing flows. A failure after the commit
point rolls back to it and that job is retried, then becomes an incident.

Baton does the same on every element Camunda 7 allows it on:

- at deploy, :func:`check` refuses the places Baton cannot honour (naming the element) and
  :func:`read` turns the attributes into bindings: ``async_before`` / ``async_after``; a service
  or send task run by a job is its own commit point already (its job is made in the advance
  that reached it), so its ``asyncBefore`` is ``async`` (never called inside the advance);
- at run time, :func:`attach` wraps the marked task specs of a definition version (restored once
  per process). SpiffWorkflow has no hook between a task's predecessor completing and the task
  becoming ready, nor between a task completing and its successors being updated, so the two
  methods are wrapped on the marked spec objects (never serialised again: instance state leaves
  the specs out). A task held *before* waits (WAITING, without running its spec's update: no
  subscription, no user task, no timer), and so do the successors of a task held *after*;
  history shows them ``waiting``, not entered (``history.Tracker``), until they are released.
  A held token has not reached a parallel or inclusive join yet, as in Camunda 7: SpiffWorkflow's
  threshold counts an arrival whose predecessor completed, so the join specs a hold can reach (a
  join marked ``asyncBefore``, or following an ``asyncAfter`` element) get one more wrapper that
  keeps the join waiting while any of its arrivals is held; the job that lets the last one go
  fires it, once (with ``asyncBefore`` on the join, a job per arrival, as Camunda makes one per
  token; the earlier ones find the join still waiting). Each hold is recorded on
  the workflow (``BatonWorkflow.new_holds``) so the advance writes a ``continue`` job for it in
  the same transaction (``engine/continuations.py``); the job :func:`release`\\ s the tasks.

The holds live in the tasks' ``internal_data``, so they survive a restore from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .compensation import is_compensation_esp

if TYPE_CHECKING:
    from .workflow import DefinitionSpecs

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
Refuse = Callable[[etree._Element, str], None]

#: internal_data of a task marked asyncBefore: "held" until its job releases it, then "passed"
BEFORE = "baton:async_before"
#: internal_data of a successor held after an asyncAfter element: that element's id
HELD_AFTER = "baton:held_after"

_FLOW_NODES = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent",
}
_ATTRIBUTES = ("asyncBefore", "asyncAfter", "async")


def _flag(el: etree._Element, name: str) -> bool:
    return (el.get(f"{{{CAMUNDA}}}{name}") or "").strip().lower() == "true"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _marked(el: etree._Element) -> list[str]:
    return [f"camunda:{a}" for a in _ATTRIBUTES if _flag(el, a)]  # "false" asks for nothing


def check(processes: list[etree._Element], refuse: Refuse) -> None:
    """Refuse a commit point where Baton would not honour it."""
    for process in processes:
        for el in process.iter():
            if not isinstance(el.tag, str) or not (named := _marked(el)):
                continue
            what, local = " / ".join(named), _local(el)
            reason = _refusal(el, local)
            if reason is not None:
                refuse(el, f"{what} {reason}")


def _refusal(el: etree._Element, local: str) -> str | None:
    if local == "multiInstanceLoopCharacteristics":
        return ("on the loop characteristics (a commit point per instance) is not supported: put it on the "
                "activity itself (before or after all its instances)")
    if local == "boundaryEvent":
        return ("on a boundary event is not supported: it fires inside the advance that triggers it; put "
                "asyncBefore on the element its flow leads to")
    if etree.QName(el).namespace != BPMN or local not in _FLOW_NODES:
        return "is read on activities, gateways and events only"
    for node in (el, *el.iterancestors()):
        if node.get("isForCompensation") == "true" or is_compensation_esp(node):
            return "is not supported in compensation handlers: they run inside the advance of their throw"
    parent = el.getparent()
    in_event_subprocess = parent is not None and parent.get("triggeredByEvent") == "true"
    if (local == "subProcess" and el.get("triggeredByEvent") == "true") or (in_event_subprocess
                                                                             and local == "startEvent"):
        return ("on an event sub-process or its start event is not supported: it starts inside the advance "
                "that throws its event; mark the first element inside it instead")
    if local == "eventBasedGateway" and _flag(el, "asyncAfter"):
        return "asyncAfter on an event-based gateway is not supported (as in Camunda 7)"
    if local in ("intermediateCatchEvent", "receiveTask") and (_flag(el, "asyncBefore") or _flag(el, "async")):
        by_id = {n.get("id"): n for n in el.getparent().iter() if isinstance(n.tag, str) and n.get("id")}
        for flow in el.getparent().iterfind(f"{{{BPMN}}}sequenceFlow"):
            source = by_id.get(flow.get("sourceRef"))
            if flow.get("targetRef") == el.get("id") and source is not None and _local(source) == "eventBasedGateway":
                return ("before an event after an event-based gateway is not supported: the gateway waits for "
                        "all its events at once")
    return None


def read(processes: list[etree._Element], bindings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """element id -> the commit points it asks for, given the deploy bindings of its service tasks."""
    found: dict[str, dict[str, Any]] = {}
    for process in processes:
        for el in process.iter(*(f"{{{BPMN}}}{n}" for n in _FLOW_NODES)):
            before = _flag(el, "asyncBefore") or _flag(el, "async")
            after = _flag(el, "asyncAfter")
            if not (before or after) or not el.get("id"):
                continue
            entry: dict[str, Any] = {}
            binding = bindings.get(el.get("id")) or {}
            if before:
                # a task run by a job commits before its call anyway: the job is the continuation
                entry["async" if "topic" in binding or "endpoint" in binding else "async_before"] = True
            if after:
                entry["async_after"] = True
            found[el.get("id")] = entry
    return found


# -- run time --------------------------------------------------------------------------------

def attach(specs: DefinitionSpecs) -> None:
    """Wrap the marked specs of a definition version, once (see the module's docstring)."""
    if specs.commit_points_attached:
        return
    specs.commit_points_attached = True
    before = {e for e, b in specs.bindings.items() if isinstance(b, dict) and b.get("async_before")}
    after = {e for e, b in specs.bindings.items() if isinstance(b, dict) and b.get("async_after")}
    if not before and not after:
        return
    for wf_spec in (specs.spec, *specs.subprocess_specs.values()):
        joins = {name for name, spec in wf_spec.task_specs.items() if isinstance(spec, UnstructuredJoin)}
        for name in joins & (before | {o.name for a in after & set(wf_spec.task_specs)
                                       for o in wf_spec.task_specs[a].outputs}):
            spec = wf_spec.task_specs[name]  # innermost: it sees only arrivals that were let go
            spec._update_hook = partial(_join_waits_for_held, spec._update_hook, spec)
        for name, spec in wf_spec.task_specs.items():
            # the element's own spec, not a multi-instance body's inner '[child]' spec; with boundary
            # events the split in front of it holds, so its boundary events wait with it
            split = name.endswith(".BoundaryEventSplit")
            element_id = name[: -len(".BoundaryEventSplit")] if split else name
            if element_id in before and (split or f"{name}.BoundaryEventSplit" not in wf_spec.task_specs):
                spec._update_hook = partial(_held_before, spec._update_hook, element_id)
        successors = set()
        for name in after & set(wf_spec.task_specs):
            spec = wf_spec.task_specs[name]
            if getattr(spec, "bpmn_id", None) == name:
                spec._on_complete = partial(_held_after, spec, name)
                successors.update(spec.outputs)
        for spec in successors:  # outermost: SpiffWorkflow updates every WAITING task at each completion
            spec._update_hook = partial(_held_by_predecessor, spec._update_hook)


def _held_before(update_hook: Callable[[Task], Any], element_id: str, my_task: Task) -> Any:
    state = my_task.internal_data.get(BEFORE)
    if state == "passed":
        return update_hook(my_task)
    if state is None:
        my_task.internal_data[BEFORE] = "held"
        my_task._set_state(TaskState.WAITING)
        _record(my_task, element_id, "before", [my_task])
    return False  # not ready until the continue job releases it


def _join_waits_for_held(update_hook: Callable[[Task], Any], spec: Any, my_task: Task) -> Any:
    """A parallel or inclusive join whose arrival is held has not had that token yet: it waits
    (SpiffWorkflow's threshold would count the held task as arrived, its predecessor having
    completed, and its firing would cancel the held arrival). The last arrival let go fires it."""
    if any(t is not my_task and t.task_spec is spec and is_held(t) for t in my_task.workflow.tasks.values()):
        my_task._set_state(TaskState.WAITING)
        return False
    return update_hook(my_task)


def _held_by_predecessor(update_hook: Callable[[Task], Any], my_task: Task) -> Any:
    if HELD_AFTER in my_task.internal_data:
        return False  # its predecessor's continue job has not run yet
    return update_hook(my_task)


def _held_after(spec: Any, element_id: str, my_task: Task) -> None:
    """``TaskSpec._on_complete`` without updating the successors: they wait for the continue job
    (a boundary event join still runs, so the element's boundary events end with it)."""
    spec._on_complete_hook(my_task)
    held = []
    for child in my_task.children:
        if child.has_state(TaskState.FINISHED_MASK):
            continue
        if isinstance(child.task_spec, BoundaryEventJoin):
            child.task_spec._update(child)
        else:
            if child.has_state(TaskState.PREDICTED_MASK):
                child.task_spec._predict(child)  # as _update would have, before the hook
            child.internal_data[HELD_AFTER] = element_id
            child._set_state(TaskState.WAITING)
            held.append(child)
    my_task.workflow._task_completed_notify(my_task)
    if held:
        _record(my_task, element_id, "after", held)


def _record(task: Task, element_id: str, at: str, held: list[Task]) -> None:
    holds = getattr(task.workflow.top_workflow, "new_holds", None)
    if holds is not None:
        holds.append(Hold(element_id, at, task, held))


class Hold:
    """One commit point reached in this advance: the element, before or after it, the task that
    reached it and the tasks its continue job releases."""

    __slots__ = ("at", "element_id", "held", "task")

    def __init__(self, element_id: str, at: str, task: Task, held: list[Task]) -> None:
        self.element_id, self.at, self.task, self.held = element_id, at, task, held


def shown_state(task: Task) -> int:
    """The state history sees: a held task has not entered its element yet."""
    state = task.state
    if state == TaskState.WAITING and (task.internal_data.get(BEFORE) == "held" or HELD_AFTER in task.internal_data):
        return TaskState.FUTURE
    return state


def is_held(task: Task | None) -> bool:
    """Whether ``task`` still waits for a continue job."""
    if task is None or task.has_state(TaskState.FINISHED_MASK):
        return False
    return task.internal_data.get(BEFORE) == "held" or HELD_AFTER in task.internal_data


def release(tasks: list[Task]) -> list[Task]:
    """Let the held ``tasks`` go on (the continue job's advance runs them); returns those released."""
    released = []
    for task in tasks:
        if not is_held(task):
            continue
        if HELD_AFTER in task.internal_data:
            del task.internal_data[HELD_AFTER]
        else:
            task.internal_data[BEFORE] = "passed"
        task._set_state(TaskState.FUTURE)  # as it was before the hold: its entering happens now
        task.task_spec._update(task)
        released.append(task)
    return released
