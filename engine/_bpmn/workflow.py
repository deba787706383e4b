"""Baton's SpiffWorkflow workflow: no depth limit, a bounded task tree, specs stored once.

Two SpiffWorkflow 3.2 behaviours make long loops fail or crawl:
- ``get_tasks`` stops walking at depth 1,000, so a loop built with a gateway back-edge silently
  stalls at iteration 333;
- the tree keeps every finished task and ``do_engine_steps`` walks it from the root for each
  pass, so a loop of n iterations costs O(n^2) (5,000 iterations took about a minute).
``BatonWorkflow`` lifts the depth limit and, between engine passes, drops finished tasks above
the lowest common ancestor of the unfinished ones (``prune``). The history table, not the task
tree, is the record of what ran, so callers capture history before a prune (``before_prune``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import (
    MessageEventDefinitionConverter,
    TimerConditionalEventDefinitionConverter,
)
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BpmnTaskSpecConverter,
    EventConverter,
    MultiInstanceTaskConverter,
)
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask as DefaultParallelMITask
from SpiffWorkflow.bpmn.specs.defaults import SequentialMultiInstanceTask as DefaultSequentialMITask
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent, EventManager
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .calls import CallActivityTask
from .camunda_calls import CallMappings, CallMappingsConverter
from .camunda_io import CamundaMappings, CamundaMappingsConverter
from .camunda_loops import CamundaParallelLoop, CamundaSequentialLoop
from .commit_points import Hold, attach
from .compensation import (
    CompensationEndEvent,
    CompensationIntermediateThrowEvent,
    CompensationPlan,
)
from .decision_binding import DecisionRefTask, DecisionRefTaskConverter
from .decision_graph import DecisionGraphTask, DecisionGraphTaskConverter
from .event_subprocesses import arm as arm_event_subprocesses
from .event_subprocesses import settle as settle_event_subprocesses
from .event_subprocesses import triggered as event_subprocess_triggered
from .events import BusinessRuleTask
from .plain_task import PlainTask
from .quartz import QuartzCycleTimer
from .saga import CompensationState
from .sandbox import SandboxScriptEngine
from .spiff_events import register as register_spiff_events
from .task_scope import TaskScope, TaskScopeConverter
from .zeebe_loops import LoopOutput, LoopOutputConverter

UNLIMITED_DEPTH = 10**9
_SCRIPT_ENGINE = SandboxScriptEngine()
PRUNE_ABOVE_TASKS = 400  # between the engine passes of one advance
KEEP_TASKS = 16  # at the end of an advance: a tree this small is stored as it is


class BatonSubWorkflow(BpmnSubWorkflow):
    def _task_completed_notify(self, task: Task) -> None:
        super()._task_completed_notify(task)
        ledger = getattr(self.top_workflow, "compensation", None)
        if ledger is not None:
            ledger.record(task)
        event_subprocess_triggered(self, task)  # its start event: interrupt or arm again (settle)

    def get_tasks_iterator(self, first_task: Task | None = None, **kwargs: Any) -> BpmnTaskIterator:
        kwargs.setdefault("max_depth", UNLIMITED_DEPTH)
        return BpmnTaskIterator(first_task or self.task_tree, **kwargs)


class ScopedEventManager(EventManager):
    """SpiffWorkflow's event manager, with event sub-processes inside embedded sub-processes.

    SpiffWorkflow starts an event sub-process lazily, when an event its start event catches is
    thrown, but looks for such sub-processes in the top process only: an error or escalation end
    event inside a sub-process never started the sub-process's own error event sub-process (and
    went on to the boundary events around it, or nowhere). A thrown event aimed at a scope now
    starts that scope's matching event sub-process before it travels outward."""

    def catch(self, event: BpmnEvent, internal: bool = True) -> int:
        target = event.target
        while target is not None and target is not self.workflow:
            if any(t.workflow is target and t.task_spec.event_definition.catches(t, event)
                   for t in self.tasks.values()):
                break
            started = _start_event_subprocess(target, event)
            if started is not None:
                caught = [t for t in self.tasks.values() if t.workflow is started
                          and t.task_spec.catches(t, event)]
                for task in caught:
                    task.task_spec.catch(task, event)
                    task.task_spec._update(task)
                if caught:
                    return len(caught)
            target = target.parent_workflow
        return super().catch(event, internal)


def _start_event_subprocess(scope: Any, event: BpmnEvent) -> Any:
    """Start the event sub-process of ``scope`` whose start event catches ``event``, if any."""
    start = scope.spec.start
    for name in getattr(start, "trigger_specs", []):
        spec = scope.subprocess_specs.get(name) if hasattr(scope, "subprocess_specs") else None
        spec = spec or scope.top_workflow.subprocess_specs.get(name)
        if spec is None or not any(ts.event_definition == event.event_definition for ts in spec.bpmn_start_events):
            continue
        child_id = start.trigger_wf(scope.task_tree, name)
        return scope.top_workflow.subprocesses.get(child_id)
    return None


class BatonWorkflow(BpmnWorkflow):
    compensation: CompensationState | None = None
    unit_scope: str | None = None  # set on a compensation unit's own workflow
    specs: DefinitionSpecs | None = None  # what it was made from (set by WorkflowCodec)
    # the instance it runs, for expressions that read it (JUEL's execution.processBusinessKey)
    instance_id: str | None = None
    business_key: str | None = None

    def __init__(self, spec: Any, subprocess_specs: dict[str, Any] | None = None, script_engine: Any = None,
                 **kwargs: Any):
        # Scripts and expressions never run with plain eval/exec: see sandbox.py.
        super().__init__(spec, subprocess_specs, script_engine=script_engine or _SCRIPT_ENGINE, **kwargs)
        self.event_manager = ScopedEventManager(self)
        # camunda:asyncBefore/asyncAfter reached since the advance began (commit_points.py)
        self.new_holds: list[Hold] = []
        # event sub-processes whose start event completed since the last engine pass (their tasks' ids)
        self.triggered_event_subprocesses: list[UUID] = []

    def _task_completed_notify(self, task: Task) -> None:
        super()._task_completed_notify(task)
        if self.compensation is not None:
            self.compensation.record(task)

    def find_task(self, task_id: str) -> Task | None:
        """The task with this id (string form), here, in a sub-process or a compensation unit."""
        try:
            return self.get_task_from_id(UUID(task_id))
        except Exception:
            return None

    def get_task_from_id(self, task_id: UUID) -> Task:
        try:
            return super().get_task_from_id(task_id)
        except Exception:
            if self.compensation is None:
                raise
            for unit_workflow in self.compensation.unit_workflows():
                try:
                    return unit_workflow.get_task_from_id(task_id)
                except Exception:
                    continue
            raise

    def get_tasks_iterator(self, first_task: Task | None = None, **kwargs: Any) -> BpmnTaskIterator:
        kwargs.setdefault("max_depth", UNLIMITED_DEPTH)
        return BpmnTaskIterator(first_task or self.task_tree, **kwargs)

    def create_subprocess(self, my_task: Task, spec_name: str) -> BatonSubWorkflow:
        subprocess = BatonSubWorkflow(self.subprocess_specs[spec_name], parent_task_id=my_task.id,
                                      top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def is_completed(self) -> bool:
        if not self.completed:
            return self.get_next_task(state=TaskState.NOT_FINISHED_MASK) is None
        return True

    def run_engine(self, before_prune: Callable[[BatonWorkflow], None] | None = None) -> None:
        """``do_engine_steps`` that keeps the task tree small between passes."""
        while True:
            while self._do_engine_steps():
                if len(self.tasks) > PRUNE_ABOVE_TASKS:
                    if before_prune is not None:
                        before_prune(self)
                    self.prune()
            # interrupt, arm again, or end the armed ones of an ended scope (event_subprocesses.py)
            if not (self.specs is not None and self.specs.event_subprocesses and settle_event_subprocesses(self)):
                break
        self.refresh_timers()

    def prune_finished(self) -> int:
        """Prune at the end of an advance, once its history is taken, if finished tasks pile up."""
        return self.prune() if len(self.tasks) > KEEP_TASKS else 0

    def prune(self) -> int:
        """Drop the finished tasks above the lowest common ancestor of every unfinished task."""
        tasks = self.tasks
        live: set[UUID] = set()
        for task in tasks.values():
            if task.has_state(TaskState.NOT_FINISHED_MASK) or (
                task.id in self.subprocesses and not self.subprocesses[task.id].completed
            ):
                node: Task | None = task
                while node is not None and node.id not in live:
                    live.add(node.id)
                    node = node.parent
        root = self.task_tree
        node = root
        chain: list[Task] = []
        while not node.has_state(TaskState.NOT_FINISHED_MASK):
            children = [c for c in node.children if c.id in live]
            if len(children) != 1:
                break
            chain.append(node)
            node = children[0]
        if len(chain) < 2:
            return 0
        keep = node
        doomed: list[Task] = []
        stack = [c for c in root.children if c.id != chain[1].id] + chain[1:]
        for task in chain[1:]:
            stack.extend(c for c in task.children if c.id != keep.id and c not in chain)
        seen: set[UUID] = set()
        while stack:
            task = stack.pop()
            if task.id in seen or task is keep:
                continue
            seen.add(task.id)
            doomed.append(task)
            if task not in chain:
                stack.extend(task.children)
        for task in doomed:
            if task.id in self.subprocesses:
                self.delete_subprocess(task)
            tasks.pop(task.id, None)
        keep._parent = root.id
        root._children = [keep.id]
        if self.last_task is not None and self.last_task.id not in tasks:
            self.last_task = keep
        return len(doomed)


def json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON-only deep copy of task data (what Baton stores, sends and shows)."""
    return json.loads(json.dumps(data, default=str))


class _WorkflowConverter(BpmnWorkflowConverter):
    """Leaves the spec out: it is stored once per definition version, not in every instance."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _serializer_config() -> dict[Any, Any]:
    config = deepcopy(CAMUNDA_CONFIG)
    config.pop(BpmnWorkflow, None)
    config.pop(BpmnSubWorkflow, None)
    config[BatonWorkflow] = _WorkflowConverter
    config[BatonSubWorkflow] = BpmnSubWorkflowConverter
    config[ServiceTask] = BpmnTaskSpecConverter
    config[CompensationIntermediateThrowEvent] = EventConverter
    config[CompensationEndEvent] = EventConverter
    config[CallActivityTask] = BpmnTaskSpecConverter
    config[BusinessRuleTask] = BaseBusinessRuleTaskConverter
    config[DecisionGraphTask] = DecisionGraphTaskConverter  # both: definitions deployed before run-time binding
    config[DecisionRefTask] = DecisionRefTaskConverter
    config[TaskScope] = TaskScopeConverter  # Zeebe mappings, Spiff pre/post scripts
    config[LoopOutput] = LoopOutputConverter  # Zeebe outputCollection / outputElement
    config[PlainTask] = BpmnTaskSpecConverter
    config[CamundaMappings] = CamundaMappingsConverter  # camunda:inputOutput
    config[QuartzCycleTimer] = TimerConditionalEventDefinitionConverter  # cron cycles
    config[CallMappings] = CallMappingsConverter  # camunda:in / camunda:out
    return config


@dataclass
class DefinitionSpecs:
    """Everything parsed from one definition version, restored once per process and shared."""

    spec: Any
    subprocess_specs: dict[str, Any]
    plan: CompensationPlan = field(default_factory=CompensationPlan)
    units: dict[str, DefinitionSpecs] = field(default_factory=dict)
    bindings: dict[str, Any] = field(default_factory=dict)  # deploy-time facts per element id
    commit_points_attached: bool = False  # commit_points.attach wrapped the marked specs
    #: event sub-process spec name -> whether it interrupts (None until event_subprocesses.arm ran)
    event_subprocesses: dict[str, bool] | None = None

    @cached_property
    def waits_for_people_or_events(self) -> bool:
        """Whether any task can wait for a user, a message or a signal (else advance skips the
        queries that keep those lists)."""
        from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
        from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
        from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
        from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

        waiting = (MessageEventDefinition, SignalEventDefinition, MultipleEventDefinition)
        specs = [self.spec, *self.subprocess_specs.values()]
        specs += [s for unit in self.units.values() for s in (unit.spec, *unit.subprocess_specs.values())]
        return any(isinstance(t, UserTask | ManualTask) or isinstance(getattr(t, "event_definition", None), waiting)
                   for spec in specs for t in spec.task_specs.values())


COMPENSATION_KEY = "baton:compensation"


class WorkflowCodec:
    """Turns specs and workflow state into JSON text and back."""

    def __init__(self) -> None:
        self._registry = BpmnWorkflowSerializer.configure(_serializer_config())
        # The Camunda parser builds SpiffWorkflow's plain multi-instance specs for script and
        # service tasks, but its serializer config only knows its own (same class names).
        MultiInstanceTaskConverter(DefaultSequentialMITask, self._registry, "BpmnSequentialMultiInstanceTask")
        MultiInstanceTaskConverter(DefaultParallelMITask, self._registry, "BpmnParallelMultiInstanceTask")
        MessageEventDefinitionConverter(MessageEventDefinition, self._registry, "BpmnMessageEventDefinition")
        MultiInstanceTaskConverter(CamundaSequentialLoop, self._registry)
        MultiInstanceTaskConverter(CamundaParallelLoop, self._registry)
        register_spiff_events(self._registry)  # SpiffArena's message and event payloads
        self._serializer = BpmnWorkflowSerializer(self._registry)

    def spec_to_json(self, spec: Any, subprocess_specs: dict[str, Any], plan: CompensationPlan | None = None,
                     units: dict[str, tuple[Any, dict[str, Any]]] | None = None) -> str:
        return json.dumps({
            **self._specs_to_dict(spec, subprocess_specs),
            "compensation": plan.to_dict() if plan else None,
            "units": {k: self._specs_to_dict(*v) for k, v in (units or {}).items()},
        })

    def _specs_to_dict(self, spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
        return {"spec": self._registry.convert(spec),
                "subprocess_specs": {k: self._registry.convert(v) for k, v in subprocess_specs.items()}}

    def spec_from_json(self, text: str) -> DefinitionSpecs:
        data = json.loads(text)
        units = {k: self._specs_from_dict(v, CompensationPlan()) for k, v in (data.get("units") or {}).items()}
        specs = self._specs_from_dict(data, CompensationPlan.from_dict(data.get("compensation")))
        specs.units = units
        return specs

    def _specs_from_dict(self, data: dict[str, Any], plan: CompensationPlan) -> DefinitionSpecs:
        return DefinitionSpecs(
            spec=self._registry.restore(data["spec"]),
            subprocess_specs={k: self._registry.restore(v) for k, v in data["subprocess_specs"].items()},
            plan=plan,
        )

    def new_workflow(self, specs: DefinitionSpecs) -> BatonWorkflow:
        attach(specs)
        arm_event_subprocesses(specs)
        workflow = BatonWorkflow(specs.spec, specs.subprocess_specs)
        workflow.specs = specs
        if specs.plan.active:
            workflow.compensation = CompensationState(specs.plan, specs.units)
        return workflow

    def state_to_json(self, workflow: BatonWorkflow) -> str:
        if workflow.compensation is not None:
            workflow.data[COMPENSATION_KEY] = workflow.compensation.to_dict(self)
        try:
            return self._serializer.serialize_json(workflow)
        finally:
            workflow.data.pop(COMPENSATION_KEY, None)

    def state_from_json(self, text: str, specs: DefinitionSpecs) -> BatonWorkflow:
        attach(specs)
        arm_event_subprocesses(specs)
        dct = json.loads(text)
        self._serializer.migrate(dct)
        workflow = self.workflow_from_dict(dct, specs)
        workflow.specs = specs
        saved = workflow.data.pop(COMPENSATION_KEY, None)
        if specs.plan.active:
            workflow.compensation = CompensationState(specs.plan, specs.units)
            if saved:
                workflow.compensation.restore(saved, self)
        return workflow

    def workflow_to_dict(self, workflow: BatonWorkflow) -> dict[str, Any]:
        return self._registry.convert(workflow)

    def workflow_from_dict(self, data: dict[str, Any], specs: DefinitionSpecs) -> BatonWorkflow:
        return self._registry.restore(data, spec=specs.spec, subprocess_specs=specs.subprocess_specs)
