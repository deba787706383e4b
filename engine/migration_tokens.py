"""How a migrated instance's tokens move onto the target version's specs (``version_migration``).

How a token moves, in SpiffWorkflow's terms (Camunda's migration in place): the workflow keeps its
object and its live tasks, same ids, states, data and internal data, so a user task keeps its row
(assignee, claim), a service task its job (idempotency key, attempts, an external task's lock), a
waiting catch its subscription; nothing is entered again. Each scope (the process, and each
running embedded sub-process, whose sub-workflow is kept with its local data when the sub-process
is mapped) gets M's specs; each token is hung under its scope's root with its mapped spec, and its
predicted children are made again from M (``_predict``). Its boundary events become M's
(``_bpmn/scopes.attach_task``): a waiting one that the plan maps keeps its task (a timer its due
date, Camunda's default without ``updateEventTrigger``), M's others are armed from now, N's
unmapped ones go with their jobs. A sub-process of M that no running one maps to is instantiated
around the tokens that move into it; a running one that maps to nothing is cancelled and its
tokens move out. A join a token waits at keeps the branches that came in already (each arrival
with the completed task it came from), since that is how SpiffWorkflow counts them.
A multi-instance sub-process moves as one token: its loop task carries its iterations, done and
running, and each running iteration keeps its sub-workflow. A timer event sub-process that M adds
is armed; one the plan maps from N was kept armed (its start event a token) or has fired already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from ._bpmn.scopes import (
    LIVE,
    Attached,
    ScopeIndex,
    attach_task,
    element_spec,
    enter_scope,
    instance_spec,
    is_event_subprocess,
    is_instance,
    new_token,
    owners_around,
    subworkflow_spec_name,
    tokens_in,
)
from .errors import InvalidRequest
from .instances import Note, Step
from .models import Job, MessageSubscription, ProcessInstance, UserTaskRow, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow, DefinitionSpecs


def move_tokens(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, target: DefinitionSpecs,
                leaves: list[Task], mapping: dict[str, str], step: Step) -> dict[str, str]:
    """Move ``leaves`` (the live tasks that are not running sub-processes) to ``target``, each to
    its element in ``mapping``; return element -> element for each token moved."""
    places = ScopeIndex(target.spec, target.subprocess_specs)
    old_scopes = [workflow, *workflow.subprocesses.values()]
    before = {t.id: t for scope in old_scopes for t in scope.tasks.values()}
    waiting_events = set(workflow.event_manager.tasks)
    attached = {t.id: Attached.of(t) for scope in old_scopes for t in tokens_in(scope)}
    # each leaf's scope in M: per sub-process around its target, the running one of N mapped to
    # it (kept, with its sub-workflow) or a new one (made once per parent scope)
    keys: dict[Any, tuple[Any, ...]] = {}
    kept_owners: dict[Any, Task] = {}
    for task in leaves:
        running = {owner.task_spec.bpmn_id: owner for owner in owners_around(workflow, task.workflow)}
        by_target = {mapping[o]: running[o] for o in running if o in mapping}
        key: tuple[Any, ...] = ()
        for sub_id in places.place(mapping[task.task_spec.bpmn_id]).chain:  # type: ignore[union-attr]
            owner = by_target.get(sub_id)
            key += (("kept", owner.id) if owner is not None else ("new", sub_id),)
            if owner is not None:
                kept_owners[owner.id] = owner
        keys[task.id] = key
    arrivals = _join_arrivals(leaves, mapping, places)
    iterations = {o.id for o in kept_owners.values() if is_instance(o)}  # read while the tree is whole
    workflow.spec, workflow.subprocess_specs, workflow.specs = target.spec, target.subprocess_specs, target
    _reset_scope(workflow, workflow, target.spec)
    roots = {id(workflow): workflow.task_tree}
    for owner in kept_owners.values():
        owner_spec = places.place(mapping[owner.task_spec.bpmn_id]).spec  # type: ignore[union-attr]
        scope = workflow.subprocesses[owner.id]
        _reset_scope(workflow, scope, target.subprocess_specs[subworkflow_spec_name(owner_spec)])
        roots[id(scope)] = scope.task_tree
    workflow.task_tree.data = dict(instance.variables or {})
    old_subprocesses, workflow.subprocesses = workflow.subprocesses, {}
    workflow.event_manager.tasks = {}
    scope_of: dict[tuple[Any, ...], Any] = {(): workflow}
    kept: list[Task] = []
    for key in sorted(set(k[:n] for k in keys.values() for n in range(1, len(k) + 1)), key=len):
        parent_scope = scope_of[key[:-1]]
        how, ident = key[-1]
        if how == "kept":
            owner = kept_owners[ident]
            spec = _spec_in(parent_scope, mapping[owner.task_spec.bpmn_id])
            sub = old_subprocesses[owner.id]
            if owner.id in iterations:  # an iteration: its multi-instance task (a token) carries it over
                spec = instance_spec(spec)
            else:
                _hang(workflow, parent_scope, owner, spec, roots[id(parent_scope)], mapping, attached[owner.id],
                      waiting_events, kept)
            sub.completed_event.disconnect_all()
            sub.completed_event.connect(spec._on_subworkflow_completed, owner)
            workflow.subprocesses[owner.id] = sub
            scope_of[key] = sub
        else:
            data = next(dict(t.data) for t in leaves if keys[t.id][:len(key)] == key)
            sub = enter_scope(workflow, parent_scope, roots[id(parent_scope)], _spec_in(parent_scope, ident), data)
            roots[id(sub)] = sub.task_tree
            scope_of[key] = sub
    parent_of: dict[Any, Task] = {}
    for join, (arrival, arrival_spec), (source, source_spec) in arrivals:
        scope = scope_of[keys[join.id]]
        if source.id not in scope.tasks:
            scope_root = roots[id(scope)]
            source.task_spec, source.workflow, source._parent, source._children = \
                source_spec, scope, scope_root.id, []
            scope.tasks[source.id] = source
            scope_root._children.append(source.id)
        parent_of[arrival.id] = source
        if not arrival.has_state(LIVE):  # an earlier arrival: it only says its branch came in
            arrival.task_spec, arrival.workflow, arrival._parent, arrival._children = \
                arrival_spec, scope, source.id, []
            scope.tasks[arrival.id] = arrival
            source._children.append(arrival.id)
    moved: dict[str, str] = {}
    for task in leaves:
        scope = scope_of[keys[task.id]]
        spec = _spec_in(scope, mapping[task.task_spec.bpmn_id])
        moved[task.task_spec.bpmn_id] = spec.bpmn_id
        _hang(workflow, scope, task, spec, parent_of.get(task.id, roots[id(scope)]), mapping, attached[task.id],
              waiting_events, kept)
    for sub in workflow.subprocesses.values():  # an outer sub-process may have gone; an iteration is hung now
        sub.depth = sub._calculate_depth()
    _arm_added_event_subprocesses(scope_of.values(), roots, mapping)
    for owner_id in old_subprocesses:
        owner = before.get(owner_id)
        if owner_id not in kept_owners and owner is not None and owner.state == TaskState.STARTED:
            # a running sub-process the plan maps to nothing ends; its tokens moved out of it
            step.events.append(Note(owner.task_spec.bpmn_id, "cancelled", {"migration": True}, owner))
    _rewrite_rows(session, instance, workflow, before, kept)
    return moved


def _arm_added_event_subprocesses(scopes: Any, roots: dict[int, Task], mapping: dict[str, str]) -> None:
    """An event sub-process with a timer start event that M adds waits from now on (Camunda
    initializes the triggers the plan maps nothing to); one the plan maps from N was kept armed with
    its start event, or has fired already and is not armed twice."""
    targets = set(mapping.values())
    for scope in scopes:
        root = roots[id(scope)]
        for spec in root.task_spec.outputs:
            if not is_event_subprocess(spec) or spec.bpmn_id in targets \
                    or any(t.task_spec is spec for t in scope.tasks.values()):
                continue
            new_token(scope, root, spec, dict(root.data))


def _spec_in(scope: Any, element_id: str) -> Any:
    return element_spec(scope.spec, element_id)


def _reset_scope(workflow: BatonWorkflow, scope: Any, spec: Any) -> None:
    """``scope`` keeps only its root, under M's process spec ``spec`` for it (the tokens are hung
    again after)."""
    if scope is not workflow:
        scope.spec = spec
    root = scope.task_tree
    root.task_spec = spec.task_specs[root.task_spec.name]
    root._children = []
    scope.tasks = {root.id: root}
    scope.last_task = root
    scope.completed = False


def _hang(workflow: BatonWorkflow, scope: Any, task: Task, spec: Any, parent: Task, mapping: dict[str, str],
          before: Attached, waiting_events: set[Any], kept: list[Task]) -> None:
    """Hang the kept ``task`` with its boundary events (``attach_task``); it and the boundary
    events it keeps wait for their events again."""
    _, boundaries = attach_task(workflow, scope, task, spec, parent, mapping, before)
    for waiting in (task, *boundaries, *before.instances):
        kept.append(waiting)
        if waiting.id in waiting_events:
            workflow.event_manager.add_task(waiting)


def _rewrite_rows(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, before: dict[Any, Task],
                  kept: list[Task]) -> None:
    """Jobs of tasks that are gone are cancelled; kept tasks keep their rows (job, user task,
    subscription) under their new element id (a timer's job keeps its due date)."""
    now_present = {t.id for scope in [workflow, *workflow.subprocesses.values()] for t in scope.tasks.values()}
    gone = [str(task_id) for task_id in before if task_id not in now_present]
    if gone:
        session.execute(update(Job).where(Job.instance_id == instance.id, Job.task_id.in_(gone),
                                          Job.status.in_(("pending", "running")))
                        .values(status="cancelled", updated_at=utcnow()))
    for task in kept:
        element_id = task.task_spec.bpmn_id
        for model in (Job, UserTaskRow, MessageSubscription):
            column = model.id if model is UserTaskRow else model.task_id
            session.execute(update(model).where(model.instance_id == instance.id, column == str(task.id))
                            .values(element_id=element_id))
        for job in session.scalars(select(Job).where(Job.instance_id == instance.id, Job.task_id == str(task.id),
                                                     Job.kind == "timer", Job.status == "pending")):
            # timer keys name the element (outbox.schedule_timers): the kept timer is not made twice
            parts = job.idempotency_key.split(":", 3)
            if len(parts) == 4 and parts[2] != element_id:
                job.idempotency_key = ":".join((parts[0], parts[1], element_id, parts[3]))


def _join_arrivals(leaves: list[Task], mapping: dict[str, str],
                   places: ScopeIndex) -> list[tuple[Task, tuple[Any, Any], tuple[Any, Any]]]:
    """For each join a token waits at (a parallel or inclusive gateway), the branches that already
    came in: SpiffWorkflow counts an arrival as a task of the join's spec whose parent completed,
    so each such task and its parent go over too, mapped like the tokens. Triples of (the token
    waiting at the join, (arrival, its spec in M), (the completed task it came from, its spec in M))."""
    joins = {t.task_spec: t for t in leaves if isinstance(t.task_spec, UnstructuredJoin)}
    found = []
    for join_spec, join in joins.items():
        for task in list(join.workflow.tasks.values()):
            parent = task.parent
            if task.task_spec is not join_spec or parent is None or parent.state != TaskState.COMPLETED:
                continue
            source_spec = _mapped_spec(parent.task_spec, mapping, places)
            if source_spec is None:
                raise InvalidRequest(f"the join {join_spec.bpmn_id} has a branch in from "
                                     f"{parent.task_spec.bpmn_id or parent.task_spec.name}, which the plan maps "
                                     "to nothing")
            arrival_spec = places.place(mapping[join_spec.bpmn_id]).spec  # type: ignore[union-attr]
            found.append((join, (task, arrival_spec), (parent, source_spec)))
    return found


def _mapped_spec(spec: Any, mapping: dict[str, str], places: ScopeIndex) -> Any:
    """``spec``'s counterpart in M: by the plan for an element, by its element's name for one of
    SpiffWorkflow's helpers (``review.BoundaryEventJoin``)."""
    if spec.bpmn_id:
        place = places.place(mapping.get(spec.bpmn_id, ""))
        return place.spec if place is not None else None
    element, dot, suffix = spec.name.rpartition(".")
    place = places.place(mapping.get(element, "")) if dot else None
    if place is None:
        return None
    return place.spec._wf_spec.task_specs.get(f"{mapping[element]}.{suffix}")
