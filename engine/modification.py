"""Instance modification and restart: move tokens of a running instance, start an ended one again.

Camunda 7's process-instance modification, in SpiffWorkflow's words. A *token* is a live task
(READY, STARTED, WAITING or ERROR) of the process or of a running embedded sub-process (a
sub-workflow, see ``_bpmn/scopes.py``). An instruction is one of

- ``cancel``: every token at an element is cancelled, in whichever scope (an activity with
  boundary events loses its waiting boundary events with it, a sub-process its inner tokens);
- ``start_before``: a new token is made at an element, a task in FUTURE state whose spec is the
  element's, under the task the first cancelled token of its scope hung from (else the scope's
  root), and SpiffWorkflow's own ``_predict``/``_update`` make it ready, as ``Task.reset_branch``
  does. An element inside sub-processes is started inside their running instance, and a
  sub-process that is not running is instantiated first (its boundary events armed, its start
  event not run), as Camunda's nested instantiation does; two running instances of one are
  ambiguous and refused;
- ``start_after``: the same at the one element an element's single outgoing flow leads to.

All instructions of one call are applied in one ``instances.advance`` (row lock, one transaction,
history with who and why, jobs written with the state); if any is refused, none is applied. The
cancels go first, then the starts; a sub-process left with no token inside after both is cancelled
(Camunda's cancellation propagation). Refused: an ended instance (restart it instead), a suspended
one, an element the definition lacks, start events and boundary events (they are not entered by a
token), a ``cancel`` with no token there, and a result with no token left (cancel the instance).
At the edges: a multi-instance sub-process's iterations are scopes (a start inside several is
ambiguous, inside one not running refused; one iteration emptied while others run is refused, all
emptied cancel the activity); an event sub-process waiting for its event holds no token (not
started inside, not cancelled, not an instance's last token; an event sub-process element is not
started before); a cancelled call activity's called instance is cancelled after it
(``call_cancellation.py``), as Camunda does.

``restart_instance`` takes a completed, compensated or cancelled instance, clears its end, and
starts tokens before the given elements with its last variables (Camunda's restart).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ._bpmn.saga import CompensationState
from ._bpmn.scopes import (
    LIVE,
    Place,
    ScopeIndex,
    element_spec,
    enter_scope,
    instance_spec,
    is_event_subprocess,
    is_instance,
    live_scopes,
    new_token,
    owner_of,
    running_owners,
    tokens_in,
    untriggered,
)
from .errors import InstanceNotActive, InvalidRequest
from .instances import ENDED, Note, Step, advance
from .models import ProcessInstance
from .variables import check_variables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .runtime import Engine

KINDS = ("cancel", "start_before", "start_after")
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
    """The live tasks of BPMN elements in every running scope (boundary events count separately)."""
    return [t for scope in live_scopes(workflow) for t in scope.tasks.values()
            if t.has_state(LIVE) and t.task_spec.bpmn_id]


def locate(workflow: BatonWorkflow, element_id: str, *, what: str) -> Place:
    """Where ``element_id`` sits (top level or inside sub-processes), or a refusal naming why a
    token cannot be started there."""
    place = ScopeIndex(workflow.spec, workflow.subprocess_specs or {}).place(element_id)
    if place is None:
        raise InvalidRequest(f"{what}: the process {workflow.spec.name} has no element {element_id}")
    if isinstance(place.spec, BoundaryEvent):
        raise InvalidRequest(f"{what}: {element_id} is a boundary event; a token is started at "
                             "its activity, the event is then waiting with it")
    if isinstance(place.spec, StartEvent):
        where = f"the sub-process {place.scope} or " if place.scope else ""
        raise InvalidRequest(f"{what}: {element_id} is a start event; start before {where}the element it leads to")
    return place


def next_element(workflow: BatonWorkflow, element_id: str, *, what: str) -> str:
    """The one element ``element_id``'s single outgoing flow leads to (``start_after``)."""
    spec = locate(workflow, element_id, what=what).spec
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


def cancel_task(workflow: BatonWorkflow, task: Task) -> None:
    """Cancel one token: an activity with boundary events with its split's other children (the
    waiting boundary events go too), a sub-process with the tokens inside it (a multi-instance
    one with every iteration's)."""
    anchor = task.parent if task.parent is not None and isinstance(task.parent.task_spec, BoundaryEventSplit) \
        else task
    for t in (anchor.children if anchor is not task else [task]):
        t.cancel()
    _end_orphaned_scopes(workflow)
    for waiting in list(workflow.event_manager.tasks.values()):
        if waiting.state == TaskState.CANCELLED:
            workflow.event_manager.remove_task(waiting)


def _end_orphaned_scopes(workflow: BatonWorkflow) -> None:
    """Every sub-workflow whose sub-process task is cancelled ends with its tokens: the task's own,
    and those of the iterations under a cancelled multi-instance task (SpiffWorkflow's
    ``Task.cancel`` cancels the iterations but not the sub-workflows they run)."""
    changed = True
    while changed:
        changed = False
        for sub in list(workflow.subprocesses.values()):
            owner = owner_of(workflow, sub)
            if owner is not None and owner.state == TaskState.CANCELLED \
                    and any(t.has_state(LIVE) for t in sub.tasks.values()):
                workflow.cancel(sub)
                changed = True


def cancel_tokens(workflow: BatonWorkflow, element_id: str) -> list[Task]:
    """Cancel every token at ``element_id``, in whichever scope; returns the tasks cancelled."""
    cancelled = []
    for task in live_tokens(workflow):
        if task.task_spec.bpmn_id != element_id or isinstance(task.task_spec, BoundaryEvent) \
                or not task.has_state(LIVE):
            continue
        cancel_task(workflow, task)
        cancelled.append(task)
    return cancelled


def end_empty_scopes(workflow: BatonWorkflow) -> None:
    """A running sub-process left with no token inside is cancelled too (Camunda's cancellation
    propagation), innermost first. An iteration of a multi-instance sub-process is cancelled with
    the whole activity when no other iteration runs; while others run it is refused, since
    SpiffWorkflow ends a multi-instance activity only when every iteration has completed."""
    changed = True
    while changed:
        changed = False
        for scope in sorted(live_scopes(workflow)[1:], key=lambda s: -s.depth):
            owner = owner_of(workflow, scope)
            if owner is None or owner.state != TaskState.STARTED or _holds_token(workflow, scope):
                continue
            if is_instance(owner):
                others = [t for t in owner.parent.children if t is not owner and is_instance(t)
                          and t.has_state(LIVE) and (t.id not in workflow.subprocesses
                                                     or _holds_token(workflow, workflow.subprocesses[t.id]))]
                if others:
                    raise InvalidRequest(
                        f"the modification would leave one iteration of the multi-instance sub-process "
                        f"{owner.task_spec.bpmn_id} without a token while {len(others)} other iteration(s) run, and "
                        "the activity would never complete; cancel the whole sub-process, or start a token "
                        "in that iteration too")
                owner = owner.parent
            cancel_task(workflow, owner)
            changed = True
            break


def _holds_token(workflow: BatonWorkflow, scope: Any) -> bool:
    """Whether a token runs in ``scope``: an event sub-process waiting for its event keeps no scope
    alive (its trigger ends with the scope)."""
    return any(t.id not in workflow.subprocesses or not untriggered(workflow.subprocesses[t.id])
               for t in tokens_in(scope))


def start_at(workflow: BatonWorkflow, place: Place, data: dict[str, Any], variables: dict[str, Any],
             anchors: dict[int, Task], *, what: str) -> Task:
    """A new token at ``place``: inside the running instance of each sub-process around it (one
    is made where none runs, as Camunda instantiates missing parent scopes; two running ones are
    ambiguous), under the task its scope's first cancelled token hung from, else the scope's root.
    Its data: ``data``, then what a token of that running scope holds (its local variables),
    then ``variables``."""
    if is_event_subprocess(place.spec):
        raise InvalidRequest(f"{what}: {place.spec.bpmn_id} is an event sub-process, which its event starts; "
                             "start before an element inside it instead")
    scope: Any = workflow
    for owner_id in place.chain:
        running = running_owners(workflow, scope, owner_id)
        owner_spec = element_spec(scope.spec, owner_id)
        if len(running) > 1:
            how = "as iterations of a multi-instance sub-process; which one to start in is ambiguous (there is " \
                "no ancestor selection)" if instance_spec(owner_spec) is not None else \
                "; which one to start in is ambiguous (cancel all but one first)"
            raise InvalidRequest(f"{what}: the sub-process {owner_id} runs {len(running)} times {how}")
        if running and untriggered(workflow.subprocesses[running[0].id]):
            raise InvalidRequest(f"{what}: the event sub-process {owner_id} has not been triggered (its start event "
                                 "waits); a token inside it would run beside that trigger; start it once the event "
                                 "came, or start elsewhere")
        if running:
            scope = workflow.subprocesses[running[0].id]
            if id(scope) not in anchors:
                inside = tokens_in(scope)
                data = {**data, **(inside[0].data if inside else {})}
            continue
        if instance_spec(owner_spec) is not None:
            raise InvalidRequest(f"{what}: {place.spec.bpmn_id} is inside the multi-instance sub-process {owner_id}, "
                                 f"which is not running; start before {owner_id} (all its iterations) instead")
        scope = enter_scope(workflow, scope, anchors.get(id(scope), scope.task_tree), owner_spec,
                            {**data, **variables})
    return new_token(scope, anchors.get(id(scope), scope.task_tree), place.spec, {**data, **variables})


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
    anchors: dict[int, Task] = {}  # per scope, the task its first cancelled token hung from
    data: dict[str, Any] | None = None
    starts: list[tuple[Place, dict[str, Any], str]] = []
    for n, instruction in enumerate(instructions, start=1):
        what = f"instruction {n} ({instruction.kind} {instruction.element_id})"
        if instruction.kind == "cancel":
            locate(workflow, instruction.element_id, what=what)
            _refuse_untriggered(workflow, instruction.element_id, what)
            cancelled = cancel_tokens(workflow, instruction.element_id)
            if not cancelled:
                raise InvalidRequest(f"{what}: no token is at {instruction.element_id}; "
                                     f"tokens are at {', '.join(_token_places(workflow)) or 'no element'}")
            for task in cancelled:
                parent = task.parent.parent if isinstance(task.parent.task_spec, BoundaryEventSplit) else task.parent
                anchors.setdefault(id(task.workflow), parent)
            if data is None:
                data = dict(cancelled[0].data)
        else:
            target = instruction.element_id if instruction.kind == "start_before" else \
                next_element(workflow, instruction.element_id, what=what)
            starts.append((locate(workflow, target, what=what), instruction.variables, what))
    if data is None:
        tokens = [t for t in live_tokens(workflow) if t.workflow is workflow]
        data = dict(tokens[0].data) if tokens else dict(fallback)
    for place, variables, what in starts:
        start_at(workflow, place, data, variables, anchors, what=what)
    end_empty_scopes(workflow)
    if not active_tokens(workflow):
        raise InvalidRequest("the modification would leave the instance without a token (an event sub-process "
                             "waiting for its event is none); start a token somewhere, or cancel the instance instead")


def active_tokens(workflow: BatonWorkflow) -> list[Task]:
    """The live tokens but event sub-processes that wait for their event, and their start events."""
    armed = {owner_of(workflow, scope).id for scope in live_scopes(workflow)[1:]  # type: ignore[union-attr]
             if untriggered(scope)}
    return [t for t in live_tokens(workflow)
            if t.id not in armed and getattr(t.workflow, "parent_task_id", None) not in armed]


def _refuse_untriggered(workflow: BatonWorkflow, element_id: str, what: str) -> None:
    """An event sub-process still waiting for its event has no token to cancel (its trigger stays)."""
    for scope in live_scopes(workflow)[1:]:
        owner = owner_of(workflow, scope)
        if owner is not None and owner.task_spec.bpmn_id == element_id and untriggered(scope):
            raise InvalidRequest(f"{what}: the event sub-process {element_id} has not been triggered; it waits for "
                                 "its event and holds no token to cancel")


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
        places = [locate(workflow, e, what=f"restart at {e}") for e in element_ids]
        data = {**(instance.variables or {}), **extra}
        step.events.append(Note("process", "restarted", {
            "by": by, "reason": reason, "elements": list(element_ids), "was": instance.status,
            "variables": sorted(extra)}))
        workflow.completed = False
        if workflow.compensation is not None and workflow.specs is not None:
            # a fresh ledger: the restarted run compensates what it did, not what the ended run did
            workflow.compensation = CompensationState(workflow.specs.plan, workflow.specs.units)
        for place, element in zip(places, element_ids, strict=True):
            start_at(workflow, place, data, {}, {}, what=f"restart at {element}")
        instance.ended_at = None
        instance.status = "running"

    return advance(engine, instance_id, apply)
