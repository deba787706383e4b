"""Event sub-processes as Camunda 7 runs them, over SpiffWorkflow 3.2's.

SpiffWorkflow hangs an event sub-process with a timer start event under its scope's start task
(armed when the scope starts) and keeps the others as the start task's *triggers*, started by
the top process's event manager when a matching event is thrown inside the instance. Three gaps:

- an armed event sub-process is a branch into the scope's end join, which waits for every
  branch: a process whose main flow had ended waited for a timer that might never come;
- message and signal start events were triggers only: no subscription row, so a message
  correlated from outside (or a signal broadcast) found nothing;
- ``isInterrupting`` was not read: an interrupting event sub-process ran beside the main flow.

So, when a definition version is restored (:func:`arm`), message and signal event sub-processes
are armed like timer ones (their start events wait, and ``messages.sync_subscriptions`` makes
their rows); after each engine pass (:func:`settle`) an event sub-process that has just been
triggered interrupts its scope (its other tokens and armed event sub-processes are cancelled)
or, when it does not interrupt and waits for a message or signal, is armed again (Camunda
subscribes while the scope is active); and a scope whose main flow has ended ends its armed event
sub-processes (their timer jobs and subscriptions go with them). A triggered one still running
keeps the scope alive. Error and escalation event sub-processes stay triggers (their throw starts
them, ``workflow.ScopedEventManager``). Refused at deploy (:func:`check`): conditional start
events (nothing re-evaluates their condition when variables change) and interrupting timer
cycles (a cycle's start event keeps waiting and spawns its path, so no trigger is seen).
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
_ARMABLE = (MessageEventDefinition, SignalEventDefinition)


def bindings(root: etree._Element) -> dict[str, dict[str, Any]]:
    """Deploy-time facts: event sub-process start event id -> {"interrupting": bool} (BPMN's
    default is interrupting)."""
    found: dict[str, dict[str, Any]] = {}
    for sub in root.iter(f"{{{BPMN}}}subProcess"):
        if sub.get("triggeredByEvent") != "true":
            continue
        for start in sub.findall(f"{{{BPMN}}}startEvent"):
            found[start.get("id", "")] = {"interrupting": (start.get("isInterrupting") or "true").lower() != "false"}
    return found


def check(root: etree._Element, refuse: Any) -> None:
    """Refuse what would be accepted and not run: a conditional start event of an event
    sub-process, an interrupting one with a timer cycle (its start event keeps waiting: Baton
    sees no trigger to interrupt on), and an event-based gateway with more than one timer branch (SpiffWorkflow keeps
    one due time per gateway, so the second timer would fire at the first's time)."""
    for sub in root.iter(f"{{{BPMN}}}subProcess"):
        if sub.get("triggeredByEvent") != "true":
            continue
        for start in sub.findall(f"{{{BPMN}}}startEvent"):
            if start.find(f"{{{BPMN}}}conditionalEventDefinition") is not None:
                refuse(start, "a conditional start event of an event sub-process is not supported: nothing "
                              "evaluates its condition when variables change; use a message or signal start "
                              "event, or a gateway in the main flow")
            interrupting = (start.get("isInterrupting") or "true").lower() != "false"
            if interrupting and start.find(f"{{{BPMN}}}timerEventDefinition/{{{BPMN}}}timeCycle") is not None:
                refuse(start, "an interrupting event sub-process with a timer cycle is not supported (it would "
                              "fire once, at the first due time): use a timeDate or timeDuration, or make it "
                              "non-interrupting (isInterrupting=\"false\") to fire at every cycle")
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    flows = list(root.iter(f"{{{BPMN}}}sequenceFlow"))
    for gateway in root.iter(f"{{{BPMN}}}eventBasedGateway"):
        outgoing = [f.get("targetRef") for f in flows if f.get("sourceRef") == gateway.get("id")]
        timers = [t for t in outgoing if t in by_id and by_id[t].find(f"{{{BPMN}}}timerEventDefinition") is not None]
        if len(timers) > 1:
            refuse(gateway, f"an event-based gateway with more than one timer branch ({', '.join(timers)}) is not "
                            "supported: the gateway keeps one due time; keep the earliest timer only")


def arm(specs: Any) -> None:
    """Arm message and signal event sub-processes like timer ones, once per restored definition
    version; note which scopes have event sub-processes and which of those interrupt."""
    if specs.event_subprocesses is not None:
        return
    interrupting = {e for e, b in specs.bindings.items() if isinstance(b, dict) and b.get("interrupting")}
    found: dict[str, bool] = {}  # event sub-process spec name -> interrupts
    for wf_spec in (specs.spec, *specs.subprocess_specs.values()):
        start = wf_spec.start
        for name in list(getattr(start, "trigger_specs", [])):
            sub_spec, task_spec = specs.subprocess_specs.get(name), wf_spec.task_specs.get(name)
            if sub_spec is None or task_spec is None:
                continue
            if all(isinstance(s.event_definition, _ARMABLE) for s in sub_spec.bpmn_start_events):
                start.trigger_specs.remove(name)
                if start not in task_spec.inputs:
                    start.connect(task_spec)
                    task_spec.connect(wf_spec.end)
        for task_spec in list(start.outputs) + [wf_spec.task_specs[n] for n in start.trigger_specs
                                                if n in wf_spec.task_specs]:
            name = getattr(task_spec, "spec", None)
            sub_spec = specs.subprocess_specs.get(name) if isinstance(name, str) else None
            if sub_spec is not None and sub_spec.bpmn_start_events:
                found[name] = any(s.bpmn_id in interrupting for s in sub_spec.bpmn_start_events)
    specs.event_subprocesses = found


def triggered(sub: Any, task: Task) -> None:
    """Note an event sub-process whose start event has just completed (``settle`` acts on it)."""
    top = sub.top_workflow
    kinds = top.specs.event_subprocesses if top.specs is not None else None
    if kinds and sub.spec.name in kinds and isinstance(task.task_spec, StartEvent):
        top.triggered_event_subprocesses.append(sub.parent_task_id)


def settle(workflow: Any) -> bool:
    """Act on event sub-processes after an engine pass: interrupt, arm again, end the armed ones
    of a scope whose main flow has ended. True when something changed (run the engine again)."""
    kinds: dict[str, bool] = workflow.specs.event_subprocesses
    changed = False
    pending, workflow.triggered_event_subprocesses = workflow.triggered_event_subprocesses, []
    for owner_id in pending:
        owner = _task(workflow, owner_id)
        if owner is None or not owner.has_state(TaskState.STARTED | TaskState.COMPLETED):
            continue
        scope, name = owner.workflow, owner.task_spec.spec
        end = scope.spec.end.name
        if kinds.get(name):
            for task in list(scope.tasks.values()):
                if task is not owner and task.has_state(LIVE) and task.task_spec.name != end:
                    task.cancel()
            for join in [t for t in scope.tasks.values() if t.task_spec.name == end and t.state == TaskState.WAITING]:
                join.task_spec._update(join)
            changed = True
        elif name in scope.spec.task_specs and all(
                isinstance(s.event_definition, _ARMABLE) for s in workflow.subprocess_specs[name].bpmn_start_events):
            scope.spec.start.trigger_wf(scope.task_tree, name)  # subscribed again while the scope runs
            changed = True
    scopes = [workflow, *(s for s in workflow.subprocesses.values() if not s.completed)]
    for scope in scopes:
        changed |= _end_armed(workflow, scope, kinds)
    if changed:
        for waiting in list(workflow.event_manager.tasks.values()):
            if waiting.state == TaskState.CANCELLED:
                workflow.event_manager.remove_task(waiting)
    return changed


def _end_armed(workflow: Any, scope: Any, kinds: dict[str, bool]) -> bool:
    """Cancel the armed event sub-processes of ``scope`` once its main flow has reached its end
    join (Camunda removes their subscriptions when the scope ends), and let the join fire."""
    end = scope.spec.end.name  # (a restored spec's ``end`` is not the task spec object of that name)
    joins = [t for t in scope.tasks.values() if t.task_spec.name == end and t.state == TaskState.WAITING]
    if not joins:
        return False
    rest = [t for t in scope.tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)
            and t.task_spec.name not in (end, "End")]
    armed = {t.id: t for t in rest if t.id in workflow.subprocesses
             and workflow.subprocesses[t.id].spec.name in kinds and _armed(workflow.subprocesses[t.id])}
    if not armed or any(t.id not in armed and (t.has_state(LIVE) or t.parent is None or t.parent.id not in armed)
                        for t in rest):
        return False  # a token of the main flow, or a triggered event sub-process, still runs
    for task in armed.values():
        task.cancel()
    for join in joins:
        join.task_spec._update(join)
    return True


def _armed(sub: Any) -> bool:
    """Whether an event sub-process's sub-workflow only waits for its start event."""
    waiting = False
    for task in sub.tasks.values():
        if task.has_state(LIVE):
            if not (isinstance(task.task_spec, StartEvent) and task.state == TaskState.WAITING):
                return False
            waiting = True
    return waiting


def _task(workflow: Any, task_id: Any) -> Task | None:
    try:
        return workflow.get_task_from_id(task_id)
    except Exception:
        return None


__all__ = ["arm", "bindings", "check", "settle", "triggered"]
