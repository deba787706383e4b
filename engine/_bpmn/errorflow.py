"""Throwing a BPMN error from a failed service call into the workflow, scoped to that task.

``task.error()`` fires no boundary event, and SpiffWorkflow's event manager matches error codes
across the whole workflow: two activities with boundary events for the same code would both
catch. So Baton looks outward from the failing task itself: its own boundary events, then error
event sub-processes of its (sub)process, then the same for each enclosing sub-process.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .workflow import BatonWorkflow


def throw_error(workflow: BatonWorkflow, task: Task, code: str, message: str = "") -> bool:
    """Deliver error ``code`` to the nearest catcher around ``task``; False if nothing catches it."""
    event = BpmnEvent(ErrorEventDefinition(code, code=code),
                      payload={"code": code, "message": message})
    manager = workflow.event_manager
    scope: Task | None = task
    while scope is not None:
        parent = scope.parent
        if parent is not None:
            for sibling in parent.children:
                if (sibling is not scope and sibling.state == TaskState.WAITING
                        and isinstance(sibling.task_spec, BoundaryEvent)
                        and sibling.task_spec.catches(sibling, event)):
                    _catch(sibling, event)
                    return True
        for waiting in list(manager.tasks.values()):
            if (waiting.workflow is scope.workflow and not isinstance(waiting.task_spec, BoundaryEvent)
                    and waiting.task_spec.catches(waiting, event)):
                _catch(waiting, event)
                return True
        sub = scope.workflow
        scope = None if sub is workflow else workflow.get_task_from_id(sub.parent_task_id)
    return False


def _catch(task: Task, event: BpmnEvent) -> None:
    task.task_spec.catch(task, event)
    task.task_spec._update(task)
