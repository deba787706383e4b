"""A plain ``bpmn:task`` (bpmn.io's default "Task"): Camunda 7 passes through it when reached.

SpiffWorkflow makes it a manual task, which waits for someone to run it, and Baton offers no
way to (it is neither a user nor a manual task): an instance reaching one waited for ever.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import NoneTask


class PlainTask(NoneTask):
    """Runs, and completes, as soon as it is ready."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False
