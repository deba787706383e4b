"""A plain ``bpmn:task`` (bpmn.io's default "Task"): Camunda 7 passes through it when reached.

SpiffWorkflow makes it a manual task, which waits for someone to run it, and Baton offers no
way to (it is neither a user nor a manual task): an instance reaching one waited for ever.

SpiffArena, though, shows a plain task to a person, with a Continue button (its task list counts
"Task"/"NoneTask" as human tasks, as SpiffWorkflow's parser means): in a SpiffArena diagram (one
that declares the ``spiffworkflow`` namespace) a plain task is read as a manual task, which waits
on the task list and takes the values its completion carries.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.defaults import NoneTask

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


class PlainTask(NoneTask):
    """Runs, and completes, as soon as it is ready."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


def spiffarena_tasks_wait(root: etree._Element, processes: list[etree._Element]) -> None:
    """In a SpiffArena diagram, make each plain task of ``processes`` a manual task (see above)."""
    if SPIFF not in (root.nsmap or {}).values():
        return
    for process in processes:
        for task in process.iter(f"{{{BPMN}}}task"):
            task.tag = f"{{{BPMN}}}manualTask"
