"""Event parsing SpiffWorkflow 3.2 gets wrong, fixed by parser subclasses.

Its start event parser reads message, signal, timer and conditional definitions only: an error
or escalation start event of an event sub-process becomes a *none* start event, so the event
sub-process runs at once, when its scope starts, instead of when the error is thrown.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TIMER_EVENT_XPATH,
)
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser


class StartEventParser(CamundaStartEventParser):
    def create_task(self) -> Any:
        event_definition = self.get_event_definition([
            MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, TIMER_EVENT_XPATH, CONDITIONAL_EVENT_XPATH,
            ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
        ])
        task = self._create_task(event_definition)
        self.spec.start.connect(task)
        return task
