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
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessageDefinition


class StartEventParser(CamundaStartEventParser):
    def create_task(self) -> Any:
        event_definition = self.get_event_definition([
            MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, TIMER_EVENT_XPATH, CONDITIONAL_EVENT_XPATH,
            ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
        ])
        task = self._create_task(event_definition)
        self.spec.start.connect(task)
        return task


def plain_messages(specs: list[Any]) -> None:
    """Give message events without a Camunda payload expression SpiffWorkflow's plain definition.

    The Camunda parser makes every message definition Camunda's, whose throw evaluates a payload
    expression (``camunda:expression``) and fails when there is none. Baton's rule: a message
    carries the throwing task's variables, which the plain definition does.
    """
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MultipleEventDefinition):
                definition.event_definitions = [_plain(d) for d in definition.event_definitions]
            elif definition is not None:
                task_spec.event_definition = _plain(definition)


def _plain(definition: Any) -> Any:
    if isinstance(definition, CamundaMessageDefinition) and definition.expression is None:
        return MessageEventDefinition(definition.name, definition.correlation_properties,
                                      description=definition.description)
    return definition


def user_task_people(root: Any) -> dict[str, dict[str, Any]]:
    """Who may do each user task, from Camunda's attributes: element id -> assignee, candidates."""
    camunda = "http://camunda.org/schema/1.0/bpmn"
    people: dict[str, dict[str, Any]] = {}
    for el in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask"):
        entry: dict[str, Any] = {}
        if el.get(f"{{{camunda}}}assignee"):
            entry["assignee"] = el.get(f"{{{camunda}}}assignee")
        for attr, key in (("candidateUsers", "candidate_users"), ("candidateGroups", "candidate_groups")):
            value = el.get(f"{{{camunda}}}{attr}")
            if value:
                entry[key] = [v.strip() for v in value.split(",") if v.strip()]
        if entry:
            people[el.get("id", "")] = {"user_task": entry}
    return people
