"""Migrate running instances from one version of a process to another (Camunda 7's migration).

A *plan* maps the elements of version N to elements of version M. By default each element maps
to the element with the same id, the same kind and the same sub-process around it in M (Camunda's
equal activities); ``mapping`` overrides or adds pairs (``{"review": "review_v2"}``; ``null``
unmaps one). :func:`migration_plan` builds and checks a
plan without touching an instance: each pair must name an element of N and one of M of the same
kind; elements of N left without a target are listed in ``unmapped``.

:func:`migrate_instances` applies a plan to the instances given (or every running instance of
version N), each in its own ``instances.advance`` (row lock, one transaction, a ``migrated``
history row with who and why), in batches of ids read ``batch_size`` at a time, and answers a
result per instance: one refused does not stop the others. An instance is refused when the plan
cannot map its state: it has ended, is of another version, is compensating, or has a token at an
element the plan leaves unmapped. A plan is refused when a pair is not of one kind, or would take
an element out of the sub-process its closest mapped sub-process maps to (Camunda's hierarchy
preservation), or maps a boundary event whose activity does not map to the target's activity.

How tokens move (in place, as Camunda 7 migrates) is ``migration_tokens.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from sqlalchemy import select

from ._bpmn.saga import CompensationState
from ._bpmn.scopes import (
    Place,
    ScopeIndex,
    element_kind,
    instance_spec,
    is_event_subprocess,
    live_scopes,
    owner_of,
    tokens_in,
)
from .definitions import get_definition
from .errors import BatonError, InstanceNotActive, InvalidRequest
from .instances import ENDED, Note, Step, advance
from .migration_tokens import move_tokens
from .models import ProcessInstance

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow, DefinitionSpecs
    from .runtime import Engine

MAX_INSTANCES = 10_000  # ids one call takes; more: call again (every running one: no ids)


def _elements(specs: DefinitionSpecs) -> dict[str, Place]:
    """Each BPMN element of a version (inside its sub-processes too) with its place."""
    return ScopeIndex(specs.spec, specs.subprocess_specs).elements()


def _kind(place: Place) -> str:
    return element_kind(place.spec)


def _trigger(place: Place) -> str | None:
    """What an event waits for or throws (a timer of any kind is a timer), None for an activity."""
    definition = getattr(place.spec, "event_definition", None)
    if definition is None:
        return None
    return "timer" if isinstance(definition, TimerEventDefinition) else \
        type(definition).__name__.removesuffix("EventDefinition").lower() or "none"


def migration_plan(engine: Engine, key: str, source_version: int, target_version: int | None = None,
                   mapping: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The checked plan from ``key`` v``source_version`` to ``target_version`` (default: latest).

    By default an element maps to the element of M with its id, its kind and the same sub-process
    around it (Camunda's equal activities). Raises :class:`InvalidRequest` naming every pair that
    cannot be."""
    with engine.db.reading() as session:
        source = get_definition(session, key, source_version)
        target = get_definition(session, key, target_version)
        source_id, target_id, target_number = source.id, target.id, target.version
    if source_id == target_id:
        raise InvalidRequest(f"{key} v{source_version} is already the target version; choose another")
    source_elements = _elements(engine._spec(source_id))
    target_elements = _elements(engine._spec(target_id))
    pairs = {e: e for e, place in source_elements.items()
             if e in target_elements and _kind(target_elements[e]) == _kind(place)
             and _trigger(target_elements[e]) == _trigger(place) and target_elements[e].chain == place.chain}
    problems = []
    for src, tgt in (mapping or {}).items():
        if src not in source_elements:
            problems.append(f"{src}: {key} v{source_version} has no such element")
        elif tgt is None:
            pairs.pop(src, None)
        elif tgt not in target_elements:
            problems.append(f"{src} -> {tgt}: {key} v{target_number} has no element {tgt}")
        elif _kind(source_elements[src]) != _kind(target_elements[tgt]):
            problems.append(f"{src} -> {tgt}: a {_kind(source_elements[src])} cannot become a "
                            f"{_kind(target_elements[tgt])}")
        elif _trigger(source_elements[src]) != _trigger(target_elements[tgt]):
            # Camunda's same-event-type rule: a kept timer job would wait for a message, or the reverse
            problems.append(f"{src} -> {tgt}: a {_trigger(source_elements[src])} {_kind(source_elements[src])} "
                            f"cannot become a {_trigger(target_elements[tgt])} one")
        else:
            pairs[src] = tgt
    if not problems:
        scoped = _scope_problems(pairs, source_elements, target_elements)
        # a pair the plan made by id that the given pairs make invalid is left out (Camunda's
        # generator makes no invalid instruction); one given is refused
        for src in [s for s in scoped if s not in (mapping or {})]:
            pairs.pop(src)
        problems = list(_scope_problems(pairs, source_elements, target_elements).values())
    if problems:
        raise InvalidRequest("the migration plan is refused: " + "; ".join(problems))
    return {
        "key": key, "source_version": source_version, "target_version": target_number,
        "source_definition_id": source_id, "target_definition_id": target_id,
        "mapping": dict(sorted(pairs.items())),
        "unmapped": sorted(e for e in source_elements if e not in pairs),
    }


def _scope_problems(pairs: dict[str, str], source: dict[str, Place], target: dict[str, Place]) -> dict[str, str]:
    """Camunda's creation-time checks on scopes, a problem per source element: an element stays
    inside what its closest mapped sub-process maps to; a boundary event maps along with the
    activity it is attached to."""
    problems: dict[str, str] = {}
    looped = {e for e, place in target.items() if instance_spec(place.spec) is not None}
    evented = {e for e, place in target.items() if is_event_subprocess(place.spec)}

    def unmapped_around(src: str, tgt: str, scopes: set[str]) -> str | None:
        """A scope of ``scopes`` around ``tgt`` that no sub-process around ``src`` maps to."""
        return next((s for s in target[tgt].chain if s in scopes
                     and not any(pairs.get(a) == s for a in source[src].chain)), None)

    for src, tgt in sorted(pairs.items()):
        ancestor = next((a for a in reversed(source[src].chain) if a in pairs), None)
        if ancestor is not None and pairs[ancestor] not in target[tgt].chain:
            problems[src] = (f"{src} -> {tgt}: {src} is inside the sub-process {ancestor}, which maps to "
                             f"{pairs[ancestor]}, and {tgt} is not inside {pairs[ancestor]} (an element stays "
                             "inside the sub-process its closest mapped sub-process maps to)")
        new_loop = unmapped_around(src, tgt, looped)
        if new_loop is not None:
            problems[src] = (f"{src} -> {tgt}: {tgt} is inside the multi-instance sub-process {new_loop}, which no "
                             f"sub-process around {src} maps to; migration keeps running iterations but does not "
                             "make new ones around a token")
        new_handler = unmapped_around(src, tgt, evented)
        if new_handler is not None:
            problems[src] = (f"{src} -> {tgt}: {tgt} is inside the event sub-process {new_handler}, which no "
                             f"sub-process around {src} maps to; migration does not trigger an event sub-process "
                             "around a token")
        if isinstance(source[src].spec, BoundaryEvent):
            activity, target_activity = _attached_to(source[src].spec), _attached_to(target[tgt].spec)
            if activity is not None and pairs.get(activity) != target_activity:
                problems[src] = (f"{src} -> {tgt}: the boundary event is attached to {activity}, which the plan "
                                 f"maps to {pairs.get(activity) or 'nothing'}, not to {target_activity}")
    return problems


def _attached_to(spec: Any) -> str | None:
    """The activity a boundary event spec is attached to (the main output of its split)."""
    for split in spec.inputs:
        if isinstance(split, BoundaryEventSplit):
            main = next((o for o in split.outputs if not isinstance(o, BoundaryEvent)), None)
            return main.bpmn_id if main is not None else None
    return None


def migrate_instances(engine: Engine, plan: dict[str, Any], instance_ids: list[str] | None = None, *,
                      by: str, reason: str | None = None, batch_size: int = 100) -> dict[str, Any]:
    """Apply ``plan`` (from :func:`migration_plan`) to each instance; a result per instance."""
    checked = migration_plan(engine, plan["key"], plan["source_version"], plan["target_version"],
                             _overrides(plan))
    if instance_ids is not None and len(instance_ids) > MAX_INSTANCES:
        raise InvalidRequest(f"at most {MAX_INSTANCES} instances in one call, not {len(instance_ids)}")
    results: list[dict[str, Any]] = []
    for batch in _batches(engine, checked, instance_ids, max(1, batch_size)):
        for instance_id in batch:
            try:
                status = migrate_instance(engine, checked, instance_id, by=by, reason=reason)
                results.append({"id": instance_id, "ok": True, "status": status})
            except BatonError as exc:
                results.append({"id": instance_id, "ok": False, "error": str(exc)})
    return {"plan": checked, "results": results,
            "migrated": sum(1 for r in results if r["ok"]), "refused": sum(1 for r in results if not r["ok"])}


def _overrides(plan: dict[str, Any]) -> dict[str, str | None]:
    """The plan's mapping, with the elements it leaves out unmapped (a plan edited by hand)."""
    mapping: dict[str, str | None] = dict(plan.get("mapping") or {})
    for element in plan.get("unmapped") or []:
        mapping.setdefault(element, None)
    return mapping


def _batches(engine: Engine, plan: dict[str, Any], ids: list[str] | None, size: int) -> Any:
    if ids is not None:
        for start in range(0, len(ids), size):
            yield ids[start:start + size]
        return
    after = ""
    for _ in range(MAX_INSTANCES // size + 1):
        with engine.db.reading() as session:
            batch = list(session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.definition_id == plan["source_definition_id"],
                       ProcessInstance.status.notin_(ENDED), ProcessInstance.id > after)
                .order_by(ProcessInstance.id).limit(size)))
        if not batch:
            return
        yield batch
        after = batch[-1]


def migrate_instance(engine: Engine, plan: dict[str, Any], instance_id: str, *, by: str,
                     reason: str | None = None) -> str:
    """Move one instance to the plan's target version in one advance; return its status."""
    target_specs = engine._spec(plan["target_definition_id"])
    mapping: dict[str, str] = plan["mapping"]

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        what = f"instance {instance.id}"
        if instance.status in ENDED:
            raise InstanceNotActive(f"{what} is {instance.status}; only running instances are migrated")
        if instance.definition_id != plan["source_definition_id"]:
            raise InvalidRequest(f"{what} is not of {plan['key']} v{plan['source_version']}")
        if workflow.compensation is not None and workflow.compensation.frames:
            raise InvalidRequest(f"{what} is compensating; migrate it once compensation has ended")
        scopes = live_scopes(workflow)
        owners = {owner_of(workflow, scope).id for scope in scopes[1:]}  # type: ignore[union-attr]
        leaves = [t for scope in scopes for t in tokens_in(scope) if t.id not in owners]
        unmapped = sorted({t.task_spec.bpmn_id for t in leaves if t.task_spec.bpmn_id not in mapping})
        if unmapped:
            raise InvalidRequest(f"{what} has a token at {', '.join(unmapped)}, which the plan maps to nothing in "
                                 f"v{plan['target_version']}")
        note = Note("process", "migrated", {"by": by, "reason": reason, "from_version": plan["source_version"],
                                             "to_version": plan["target_version"]})
        step.events.append(note)
        note.details["tokens"] = move_tokens(session, instance, workflow, target_specs, leaves, mapping, step)
        _carry_ledger(engine, workflow, target_specs)
        instance.definition_id = plan["target_definition_id"]

    return advance(engine, instance_id, apply)


def _carry_ledger(engine: Engine, workflow: BatonWorkflow, target: DefinitionSpecs) -> None:
    """The saga ledger (completed compensable activities) goes over to the target's plan."""
    old = workflow.compensation
    if not target.plan.active:
        workflow.compensation = None
        return
    fresh = CompensationState(target.plan, target.units)
    if old is not None and old.entries:
        fresh.restore(old.to_dict(engine.codec), engine.codec)
    workflow.compensation = fresh


def element_kinds(engine: Engine, key: str, version: int) -> dict[str, str]:
    """Each element of ``key`` v``version`` (inside its sub-processes too) with its kind (what a plan
    editor and the modification form offer)."""
    with engine.db.reading() as session:
        definition_id = get_definition(session, key, version).id
    return {e: _kind(place) for e, place in _elements(engine._spec(definition_id)).items()}


def latest_version(engine: Engine, key: str) -> int:
    """The newest version of ``key`` (what a "migrate to the latest" offer names)."""
    with engine.db.reading() as session:
        return get_definition(session, key).version
