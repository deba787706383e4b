"""Parsing SpiffWorkflow 3.2 gets wrong or leaves unsaid, fixed by parser and spec subclasses.

Its start event parser reads message, signal, timer and conditional definitions only: an error
or escalation start event of an event sub-process becomes a *none* start event, so the event
sub-process runs at once, when its scope starts, instead of when the error is thrown.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
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
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask as CamundaBusinessRuleTask
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessageDefinition

from . import decision_record


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
            if value and value.strip().startswith("="):  # Zeebe FEEL (=["a", "b"]): evaluated whole when ready
                entry[key] = [value.strip()]
            elif value:
                entry[key] = [v.strip() for v in value.split(",") if v.strip()]
        if entry:
            people[el.get("id", "")] = {"user_task": entry}
    return people


class BusinessRuleTask(CamundaBusinessRuleTask):
    """A decision table with no matching rule is a clear incident, not an undefined variable later.

    Its table was bound at deploy; it stays for definitions deployed so (their stored specs hold
    it). Business rule tasks deployed now are ``decision_binding.DecisionRefTask``.

    (A COLLECT table's empty result is a valid answer: its outputs become empty lists.)"""

    def _run_hook(self, my_task: Any) -> Any:
        table = self.dmnEngine.decision_table
        matched = self.dmnEngine.decide(my_task)
        inputs = {i.label or i.expression: _peek(my_task, i.expression) for i in table.inputs}
        if table.hit_policy != "COLLECT" and not matched:
            shown = ", ".join(f"{name}={value!r}" for name, value in inputs.items())
            raise WorkflowTaskException(f"decision {table.name or table.id!r} matched no rule "
                                        f"(hit policy {table.hit_policy}) for {shown}", task=my_task)
        decision_record.remember(my_task, table, matched, inputs)  # the history row shows what matched
        return super()._run_hook(my_task)


def _peek(task: Any, expression: str) -> Any:
    try:
        return task.workflow.script_engine.evaluate(task, expression)
    except Exception:
        return "?"


ZEEBE = "http://camunda.org/schema/zeebe/1.0"


def zeebe_subscriptions(root: Any) -> dict[str, dict[str, Any]]:
    """Camunda 8 correlation: ``<bpmn:message name="N"><zeebe:subscription correlationKey="=orderId"/>``.

    Returns message element id -> {"message": N, "correlation_variable": "orderId"}: a subscription
    to N carries the waiting task's ``orderId`` under that name, and a message published with
    ``correlation_keys {"orderId": ...}`` matches it. Any FEEL of Baton's subset may be the key
    (``=order.id``): it is evaluated over the waiting task and named by its text (``order.id``).
    """
    found: dict[str, dict[str, Any]] = {}
    for message in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}message"):
        subscription = message.find(f".//{{{ZEEBE}}}subscription")
        if subscription is None:
            continue
        variable = (subscription.get("correlationKey") or "").strip().lstrip("=").strip()
        if variable:
            found[message.get("id", "")] = {"message": message.get("name") or message.get("id"),
                                            "correlation_variable": variable}
    return found
