"""Migrate running instances from one version of a process to another (Camunda 7's migration).

A *plan* maps the elements of version N to elements of version M. By default each element maps
to the element with the same id and the same kind in M; ``mapping`` overrides or adds pairs
(``{"review": "review_v2"}``; ``null`` unmaps one). :func:`migration_plan` builds and checks a
plan without touching an instance: each pair must name an element of N and one of M of the same
kind; elements of N left without a target are listed in ``unmapped``.

:func:`migrate_instances` applies a plan to the instances given (or every running instance of
version N), each in its own ``instances.advance`` (row lock, one transaction, a ``migrated``
history row with who and why), in batches of ids read ``batch_size`` at a time, and answers a
result per instance: one refused does not stop the others. An instance is refused when the plan
cannot map its state: it has ended, is of another version, is compensating, has a token inside an
embedded sub-process, or has a token at an element the plan leaves unmapped.

How a token moves, in SpiffWorkflow's terms: the workflow keeps its object and its live tasks
(same task ids, so jobs, user tasks and subscriptions keep pointing at them) and gets M's specs;
each live task is re-parented under the root with its mapped spec, and its predicted children are
made again from M (``_predict``). A join a token waits at keeps the branches that came in already
(each arrival with the completed task it came from), since that is how SpiffWorkflow counts them.
A token at an activity with boundary events (in N or in M) is entered again at its mapped
activity instead, so its boundary events are M's: its user task is offered again, its call made
again with the same variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from ._bpmn.saga import CompensationState
from .definitions import get_definition
from .errors import BatonError, InstanceNotActive, InvalidRequest
from .instances import ENDED, Note, Step, advance
from .models import Job, MessageSubscription, ProcessInstance, UserTaskRow, utcnow
from .modification import LIVE, live_tokens, start_token, sub_process_tokens

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow, DefinitionSpecs
    from .runtime import Engine

MAX_INSTANCES = 10_000  # ids one call takes; more: call again (every running one: no ids)


def _elements(specs: DefinitionSpecs) -> dict[str, str]:
    """Each top-level BPMN element id of a version with its kind (the spec class's name)."""
    return {s.bpmn_id: type(s).__name__ for s in specs.spec.task_specs.values() if s.bpmn_id}


def migration_plan(engine: Engine, key: str, source_version: int, target_version: int | None = None,
                   mapping: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The checked plan from ``key`` v``source_version`` to ``target_version`` (default: latest).

    Raises :class:`InvalidRequest` naming every pair that cannot be."""
    with engine.db.reading() as session:
        source = get_definition(session, key, source_version)
        target = get_definition(session, key, target_version)
        source_id, target_id, target_number = source.id, target.id, target.version
    if source_id == target_id:
        raise InvalidRequest(f"{key} v{source_version} is already the target version; choose another")
    source_elements = _elements(engine._spec(source_id))
    target_elements = _elements(engine._spec(target_id))
    pairs = {e: e for e, kind in source_elements.items() if target_elements.get(e) == kind}
    problems = []
    for src, tgt in (mapping or {}).items():
        if src not in source_elements:
            problems.append(f"{src}: {key} v{source_version} has no such element")
        elif tgt is None:
            pairs.pop(src, None)
        elif tgt not in target_elements:
            problems.append(f"{src} -> {tgt}: {key} v{target_number} has no element {tgt}")
        elif source_elements[src] != target_elements[tgt]:
            problems.append(f"{src} -> {tgt}: a {source_elements[src]} cannot become a {target_elements[tgt]}")
        else:
            pairs[src] = tgt
    if problems:
        raise InvalidRequest("the migration plan is refused: " + "; ".join(problems))
    return {
        "key": key, "source_version": source_version, "target_version": target_number,
        "source_definition_id": source_id, "target_definition_id": target_id,
        "mapping": dict(sorted(pairs.items())),
        "unmapped": sorted(e for e in source_elements if e not in pairs),
    }


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
        inside = sub_process_tokens(workflow)
        if inside:
            element, owner = inside[0]
            raise InvalidRequest(f"{what} has a token at {element} inside the sub-process {owner}; "
                                 "instances with tokens inside sub-processes are not migrated")
        tokens = [t for t in live_tokens(workflow) if not isinstance(t.task_spec, BoundaryEvent)]
        unmapped = sorted({t.task_spec.bpmn_id for t in tokens if t.task_spec.bpmn_id not in mapping})
        if unmapped:
            raise InvalidRequest(f"{what} has a token at {', '.join(unmapped)}, which the plan maps to nothing in "
                                 f"v{plan['target_version']}")
        note = Note("process", "migrated", {"by": by, "reason": reason, "from_version": plan["source_version"],
                                             "to_version": plan["target_version"]})
        step.events.append(note)
        note.details["tokens"] = _move_tokens(session, instance, workflow, target_specs, tokens, mapping, step)
        _carry_ledger(engine, workflow, target_specs)
        instance.definition_id = plan["target_definition_id"]

    return advance(engine, instance_id, apply)


def _move_tokens(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, target: DefinitionSpecs,
                 tokens: list[Any], mapping: dict[str, str], step: Step) -> dict[str, str]:
    by_id = {s.bpmn_id: s for s in target.spec.task_specs.values() if s.bpmn_id}
    waiting_events = set(workflow.event_manager.tasks)
    keep, again = [], []
    for task in tokens:
        spec = by_id[mapping[task.task_spec.bpmn_id]]
        has_split = isinstance(task.parent.task_spec, BoundaryEventSplit) or \
            any(isinstance(s, BoundaryEventSplit) for s in spec.inputs)
        (again if has_split else keep).append((task, spec))
    root = workflow.task_tree
    data = dict(instance.variables or {})
    arrivals = _join_arrivals(workflow, keep, mapping, by_id)
    kept = {t.id for t, _ in keep} | {t.id for pair in arrivals for t, _ in pair}
    dropped = [t for t in workflow.tasks.values() if t is not root and t.id not in kept]
    for task, _ in again:
        # history says the old token ended here: the diagram must not keep it active
        step.events.append(Note(task.task_spec.bpmn_id, "cancelled", {"migration": True}, task))
    workflow.spec, workflow.subprocess_specs, workflow.specs = target.spec, target.subprocess_specs, target
    root.task_spec = target.spec.task_specs[root.task_spec.name]
    root._children = []
    root.data = data
    workflow.tasks = {root.id: root}
    workflow.event_manager.tasks = {}
    workflow.last_task = root
    workflow.completed = False
    moved: dict[str, str] = {}
    parent_of: dict[Any, Any] = {}
    for (arrival, arrival_spec), (source, source_spec) in arrivals:
        if source.id not in workflow.tasks:
            source.task_spec, source._parent, source._children = source_spec, root.id, []
            workflow.tasks[source.id] = source
            root._children.append(source.id)
        source._children.append(arrival.id)
        parent_of[arrival.id] = source
        if not arrival.has_state(LIVE):  # an earlier arrival: it only says its branch came in
            arrival.task_spec, arrival._parent, arrival._children = arrival_spec, source.id, []
            workflow.tasks[arrival.id] = arrival
    for task, spec in keep:
        moved[task.task_spec.bpmn_id] = spec.bpmn_id
        parent = parent_of.get(task.id, root)
        task.task_spec = spec
        task._parent, task._children = parent.id, []
        workflow.tasks[task.id] = task
        if parent is root:
            root._children.append(task.id)
        spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)
        if task.id in waiting_events:
            workflow.event_manager.add_task(task)
    for task, spec in again:
        moved[task.task_spec.bpmn_id] = spec.bpmn_id
        start_token(workflow, root, spec, {**data, **task.data})
    gone = [str(t.id) for t in dropped]
    if gone:
        session.execute(update(Job).where(Job.instance_id == instance.id, Job.task_id.in_(gone),
                                          Job.status.in_(("pending", "running")))
                        .values(status="cancelled", updated_at=utcnow()))
    for task, spec in keep:  # kept tasks keep their rows, under their new element id
        for model in (Job, UserTaskRow, MessageSubscription):
            column = model.id if model is UserTaskRow else model.task_id
            session.execute(update(model).where(model.instance_id == instance.id, column == str(task.id))
                            .values(element_id=spec.bpmn_id))
    return moved


def _join_arrivals(workflow: BatonWorkflow, keep: list[tuple[Any, Any]], mapping: dict[str, str],
                   by_id: dict[str, Any]) -> list[tuple[tuple[Any, Any], tuple[Any, Any]]]:
    """For each join a token waits at (a parallel or inclusive gateway), the branches that already
    came in: SpiffWorkflow counts an arrival as a task of the join's spec whose parent completed,
    so each such task and its parent go over too, mapped like the tokens. Pairs of
    ((arrival, its spec in M), (the completed task it came from, that task's spec in M))."""
    joins = {t.task_spec for t, _ in keep if isinstance(t.task_spec, UnstructuredJoin)}
    found = []
    for task in list(workflow.tasks.values()):
        parent = task.parent
        if task.task_spec not in joins or parent is None or parent.state != TaskState.COMPLETED:
            continue
        source_spec = _mapped_spec(parent.task_spec, mapping, by_id)
        if source_spec is None:
            raise InvalidRequest(f"the join {task.task_spec.bpmn_id} has a branch in from "
                                 f"{parent.task_spec.bpmn_id or parent.task_spec.name}, which the plan maps to nothing")
        found.append(((task, by_id[mapping[task.task_spec.bpmn_id]]), (parent, source_spec)))
    return found


def _mapped_spec(spec: Any, mapping: dict[str, str], by_id: dict[str, Any]) -> Any:
    """``spec``'s counterpart in M: by the plan for an element, by its element's name for one of
    SpiffWorkflow's helpers (``review.BoundaryEventJoin``)."""
    if spec.bpmn_id:
        return by_id.get(mapping.get(spec.bpmn_id, ""))
    element, dot, suffix = spec.name.rpartition(".")
    if not dot or element not in mapping:
        return None
    return by_id[mapping[element]]._wf_spec.task_specs.get(f"{mapping[element]}.{suffix}")


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
    """Each top-level element of ``key`` v``version`` with its kind (what a plan editor offers)."""
    with engine.db.reading() as session:
        definition_id = get_definition(session, key, version).id
    return _elements(engine._spec(definition_id))


def latest_version(engine: Engine, key: str) -> int:
    """The newest version of ``key`` (what a "migrate to the latest" offer names)."""
    with engine.db.reading() as session:
        return get_definition(session, key).version
