"""Instance modification and restart: move tokens of a running instance, start an ended one again.

Camunda 7's process-instance modification, in SpiffWorkflow's words. A *token* is a live task of
the process's top level (READY, STARTED, WAITING or ERROR). An instruction is one of

- ``cancel``: every token at an element is cancelled (an activity with boundary events loses its
  waiting boundary events with it);
- ``start_before``: a new token is made at an element, a task in FUTURE state whose spec is the
  element's, under the task the first cancelled token hung from (else the tree's root), and
  SpiffWorkflow's own ``_predict``/``_update`` make it ready, as ``Task.reset_branch`` does;
- ``start_after``: the same at the one element an element's single outgoing flow leads to.

All instructions of one call are applied in one ``instances.advance`` (row lock, one transaction,
history with who and why, jobs written with the state); if any is refused, none is applied.
Refused: an ended instance (restart it instead), a suspended one, an element the definition lacks,
an element inside a sub-process (only the top level is modified), start events and boundary
events (they are not entered by a token), a ``cancel`` with no token there, and a result with no
token left (cancel the instance instead).

``restart_instance`` takes a completed, compensated or cancelled instance, clears its end, and
starts tokens before the given elements with its last variables (Camunda's restart).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ._bpmn.saga import CompensationState
from .errors import InstanceNotActive, InvalidRequest
from .instances import ENDED, Note, Step, advance
from .variables import check_variables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .models import ProcessInstance
    from .runtime import Engine

KINDS = ("cancel", "start_before", "start_after")
LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
MAX_INSTRUCTIONS = 50


@dataclass(frozen=True)
class Instruction:
    """One step of a modification: ``kind`` at the BPMN element ``element_id``.

    ``variables`` (start instructions only) are set on the new token, like Camunda's
    ``startBeforeActivity(...).setVariable(...)``."""

    kind: str
    element_id: str
    variables: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "element": self.element_id}
        if self.variables:
            out["variables"] = self.variables
        return out


def parse_instructions(raw: Any) -> list[Instruction]:
    """Instructions from their JSON form ``[{"type": "cancel", "element": "review"}, ...]``."""
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("give at least one instruction, like "
                             '[{"type": "cancel", "element": "review"}, {"type": "start_before", "element": "pay"}]')
    if len(raw) > MAX_INSTRUCTIONS:
        raise InvalidRequest(f"at most {MAX_INSTRUCTIONS} instructions in one modification, not {len(raw)}")
    found = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise InvalidRequest(f"instruction {n} is not an object with type and element")
        kind, element = item.get("type"), item.get("element")
        if kind not in KINDS:
            raise InvalidRequest(f"instruction {n}: type {kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(element, str) or not element:
            raise InvalidRequest(f"instruction {n}: give the element id it applies to")
        variables = item.get("variables") or {}
        if variables and kind == "cancel":
            raise InvalidRequest(f"instruction {n}: a cancel takes no variables")
        found.append(Instruction(kind, element, check_variables(variables)))
    return found


# -- tokens: what modification, restart and migration move ------------------------------------

def live_tokens(workflow: BatonWorkflow) -> list[Task]:
    """The top-level process's live tasks of BPMN elements (boundary events count separately)."""
    return [t for t in workflow.tasks.values() if t.has_state(LIVE) and t.task_spec.bpmn_id]


def sub_process_tokens(workflow: BatonWorkflow) -> list[tuple[str, str]]:
    """(element, sub-process element) for each live task inside an embedded sub-process."""
    found = []
    for parent_id, sub in workflow.subprocesses.items():
        owner = workflow.tasks.get(parent_id)
        owner_id = owner.task_spec.bpmn_id if owner is not None else "?"
        for task in sub.tasks.values():
            if task.has_state(LIVE) and task.task_spec.bpmn_id:
                found.append((task.task_spec.bpmn_id, owner_id or "?"))
    return found


def element_spec(workflow: BatonWorkflow, element_id: str, *, what: str) -> Any:
    """The top-level spec of ``element_id`` a token can be started at, or a refusal naming why."""
    for spec in workflow.spec.task_specs.values():
        if spec.bpmn_id == element_id:
            if isinstance(spec, BoundaryEvent):
                raise InvalidRequest(f"{what}: {element_id} is a boundary event; a token is started at "
                                     "its activity, the event is then waiting with it")
            if isinstance(spec, StartEvent):
                raise InvalidRequest(f"{what}: {element_id} is a start event; start before the element it leads to")
            return spec
    for name, sub_spec in (workflow.subprocess_specs or {}).items():
        if any(s.bpmn_id == element_id for s in sub_spec.task_specs.values()):
            raise InvalidRequest(f"{what}: {element_id} is inside the sub-process {name}; only elements of the "
                                 "process's top level can be started or cancelled")
    raise InvalidRequest(f"{what}: the process {workflow.spec.name} has no element {element_id}")


def next_element(workflow: BatonWorkflow, element_id: str, *, what: str) -> str:
    """The one element ``element_id``'s single outgoing flow leads to (``start_after``)."""
    spec = element_spec(workflow, element_id, what=what)
    targets: list[str] = []
    seen: set[str] = set()
    stack = list(spec.outputs)
    while stack:
        out = stack.pop()
        if out.name in seen:
            continue
        seen.add(out.name)
        if isinstance(out, BoundaryEventJoin | BoundaryEventSplit) or not out.bpmn_id:
            stack.extend(out.outputs)  # SpiffWorkflow's helper tasks stand between two elements
        elif not isinstance(out, BoundaryEvent):
            targets.append(out.bpmn_id)
    if len(targets) != 1:
        raise InvalidRequest(f"{what}: {element_id} has {len(targets)} outgoing flows; start after an element "
                             f"with exactly one, or start before one of {', '.join(sorted(targets)) or 'them'}")
    return targets[0]


def start_token(workflow: BatonWorkflow, parent: Task, spec: Any, data: dict[str, Any]) -> Task:
    """A new token at ``spec`` under the finished task ``parent``, made ready as SpiffWorkflow
    resets a branch (``Task.reset_branch``): FUTURE, predicted, updated."""
    split = next((s for s in spec.inputs if isinstance(s, BoundaryEventSplit)), None)
    start_spec = split or spec  # an activity with boundary events is entered through its split
    task = Task(workflow, start_spec, parent, state=TaskState.FUTURE)
    task.data = copy.deepcopy(data)
    start_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
    start_spec._update(task)
    return task


def cancel_tokens(workflow: BatonWorkflow, element_id: str) -> list[Task]:
    """Cancel every token at ``element_id``; returns the tasks cancelled (activities with boundary
    events are cancelled with their split, so the waiting boundary events go too)."""
    cancelled = []
    for task in live_tokens(workflow):
        if task.task_spec.bpmn_id != element_id or isinstance(task.task_spec, BoundaryEvent):
            continue
        anchor = task.parent if task.parent is not None and isinstance(task.parent.task_spec, BoundaryEventSplit) \
            else task
        for t in (anchor.children if anchor is not task else [task]):
            t.cancel()
            workflow.event_manager.remove_task(t)
            if t.id in workflow.subprocesses:  # a sub-process's own tokens end with it
                for inner in workflow.cancel(workflow.subprocesses[t.id]):
                    workflow.event_manager.remove_task(inner)
        cancelled.append(task)
    return cancelled


# -- the operations --------------------------------------------------------------------------------

def modify_instance(engine: Engine, instance_id: str, instructions: list[Instruction] | list[dict[str, Any]], *,
                    by: str, reason: str | None = None) -> str:
    """Apply ``instructions`` to a running instance in one advance; return its status after.

    History gets a ``modified`` row on the process (who, why, the instructions) and the task
    changes (``cancelled``, ``entered``) the instructions caused."""
    parsed = parse_instructions([i.to_dict() if isinstance(i, Instruction) else i for i in instructions])

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        if instance.status in ENDED:
            raise InstanceNotActive(f"instance {instance.id} is {instance.status}: restart it from an activity "
                                    "instead of modifying it")
        if instance.status == "suspended":
            raise InstanceNotActive(f"instance {instance.id} is suspended: resume it before modifying it")
        if workflow.compensation is not None and workflow.compensation.frames:
            raise InvalidRequest(f"instance {instance.id} is compensating; modify it once compensation has ended")
        # noted first: history then reads "modified", then the cancels and starts it caused
        step.events.append(Note("process", "modified", {
            "by": by, "reason": reason, "instructions": [i.to_dict() for i in parsed]}))
        _apply_instructions(workflow, parsed, instance.variables or {})

    return advance(engine, instance_id, apply)


def _apply_instructions(workflow: BatonWorkflow, instructions: list[Instruction], fallback: dict[str, Any]) -> None:
    anchor: Task | None = None
    data: dict[str, Any] | None = None
    starts: list[tuple[Any, dict[str, Any]]] = []
    for n, instruction in enumerate(instructions, start=1):
        what = f"instruction {n} ({instruction.kind} {instruction.element_id})"
        if instruction.kind == "cancel":
            element_spec(workflow, instruction.element_id, what=what)
            cancelled = cancel_tokens(workflow, instruction.element_id)
            if not cancelled:
                raise InvalidRequest(f"{what}: no token is at {instruction.element_id}; "
                                     f"tokens are at {', '.join(_token_places(workflow)) or 'no element'}")
            if anchor is None:
                first = cancelled[0]
                anchor = first.parent.parent if isinstance(first.parent.task_spec, BoundaryEventSplit) else first.parent
                data = dict(first.data)
        else:
            target = instruction.element_id if instruction.kind == "start_before" else \
                next_element(workflow, instruction.element_id, what=what)
            starts.append((element_spec(workflow, target, what=what), instruction.variables))
    if data is None:
        tokens = live_tokens(workflow)
        data = dict(tokens[0].data) if tokens else dict(fallback)
    parent = anchor if anchor is not None else workflow.task_tree
    for spec, variables in starts:
        start_token(workflow, parent, spec, {**data, **variables})
    if not live_tokens(workflow) and not any(t.has_state(LIVE) for _, s in workflow.subprocesses.items()
                                             for t in s.tasks.values()):
        raise InvalidRequest("the modification would leave the instance without a token; "
                             "start a token somewhere, or cancel the instance instead")


def _token_places(workflow: BatonWorkflow) -> list[str]:
    return sorted({t.task_spec.bpmn_id for t in live_tokens(workflow) if not isinstance(t.task_spec, BoundaryEvent)})


def restart_instance(engine: Engine, instance_id: str, element_ids: list[str], *, by: str,
                     reason: str | None = None, variables: dict[str, Any] | None = None) -> str:
    """Start an ended instance again before ``element_ids`` with its last variables (plus
    ``variables``); returns its status after the advance."""
    if not element_ids:
        raise InvalidRequest("give the element (or elements) to restart the instance from")
    extra = check_variables(variables)

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        if instance.status not in ENDED:
            raise InstanceNotActive(f"instance {instance.id} is {instance.status}: only an ended instance is "
                                    "restarted (modify a running one)")
        if instance.parent_instance_id:
            raise InvalidRequest(f"instance {instance.id} was called by instance {instance.parent_instance_id}; "
                                 "restart or modify the caller instead")
        specs = [element_spec(workflow, e, what=f"restart at {e}") for e in element_ids]
        data = {**(instance.variables or {}), **extra}
        step.events.append(Note("process", "restarted", {
            "by": by, "reason": reason, "elements": list(element_ids), "was": instance.status,
            "variables": sorted(extra)}))
        workflow.completed = False
        if workflow.compensation is not None and workflow.specs is not None:
            # a fresh ledger: the restarted run compensates what it did, not what the ended run did
            workflow.compensation = CompensationState(workflow.specs.plan, workflow.specs.units)
        for spec in specs:
            start_token(workflow, workflow.task_tree, spec, data)
        instance.ended_at = None
        instance.status = "running"

    return advance(engine, instance_id, apply)
