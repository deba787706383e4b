"""JUEL sequence-flow conditions through the engine: a diagram as Camunda Modeler writes it for
Camunda 7 (``${approved}`` / ``${not approved}`` on the gateway's flows) deploys unchanged and
takes the right path; an unknown variable is an incident that names it; JUEL outside the
subset, or where Baton does not evaluate it yet, is refused at deploy naming the element.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError

MODELER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"
    exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Platform"
    modeler:executionPlatformVersion="7.22.0">
  <bpmn:process id="{key}" name="Approve" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:outgoing>Flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:exclusiveGateway id="Gateway_approved" name="Approved?">
      <bpmn:incoming>Flow_start</bpmn:incoming>
      <bpmn:outgoing>Flow_yes</bpmn:outgoing>
      <bpmn:outgoing>Flow_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_1" targetRef="Gateway_approved" />
    <bpmn:sequenceFlow id="Flow_yes" name="yes" sourceRef="Gateway_approved" targetRef="Event_approved">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{yes}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_no" name="no" sourceRef="Gateway_approved" targetRef="Event_rejected">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{no}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="Event_approved" name="Approved">
      <bpmn:incoming>Flow_yes</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="Event_rejected" name="Rejected">
      <bpmn:incoming>Flow_no</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="{key}">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def diagram(key: str, yes: str = "${approved}", no: str = "${not approved}") -> bytes:
    return MODELER.replace("{key}", key).replace("{yes}", yes).replace("{no}", no).encode()


def ended_at(doc: dict[str, Any]) -> list[str]:
    return [h["element_id"] for h in doc["history"]
            if h["element_id"] in ("Event_approved", "Event_rejected") and h["event"] == "completed"]


@pytest.mark.parametrize(("approved", "end"), [(True, "Event_approved"), (False, "Event_rejected")])
def test_a_camunda_modeler_gateway_with_juel_conditions_takes_the_right_path(bare_engine, approved: bool,
                                                                            end: str) -> None:
    assert [r.describe() for r in bare_engine.deploy([("approve.bpmn", diagram("approve"))])] == ["deployed approve v1"]
    doc = bare_engine.get_instance(bare_engine.start("approve", {"approved": approved}))
    assert doc["status"] == "completed", doc["incidents"]
    assert ended_at(doc) == [end]


def test_juel_conditions_compare_and_write_variables(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("score", yes="#{execution.setVariable('checked', true) == null &amp;&amp; score &gt; 5}",
                  no="\n        ${score &lt;= 5}\n      ")
    bare_engine.deploy([("score.bpmn", xml)])
    high = bare_engine.get_instance(bare_engine.start("score", {"score": 9}))
    low = bare_engine.get_instance(bare_engine.start("score", {"score": "3"}))  # EL coerces the string
    assert (ended_at(high), high["variables"].get("checked")) == (["Event_approved"], True)
    assert ended_at(low) == ["Event_rejected"]


def test_an_unknown_variable_in_a_juel_condition_is_an_incident_naming_it(bare_engine) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("approve.bpmn", diagram("approve"))])
    doc = bare_engine.get_instance(bare_engine.start("approve", {"aproved": True}))
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "Gateway_approved"
    assert "cannot resolve identifier 'approved'" in incident["message"]
    assert "${approved}" in incident["message"]


def test_a_juel_condition_that_is_not_a_boolean_is_an_incident(bare_engine) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("approve.bpmn", diagram("approve"))])
    doc = bare_engine.get_instance(bare_engine.start("approve", {"approved": "maybe"}))
    assert doc["status"] == "incident"
    assert "not a Boolean" in doc["incidents"][0]["message"]


def test_juel_outside_the_subset_is_refused_at_deploy_naming_the_flow_and_the_part(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("beans", yes="${approvalService.isApproved(order)}")
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("beans.bpmn", xml)])
    [problem] = refused.value.problems
    assert problem.element_id == "Flow_yes"
    assert "JUEL expression '${approvalService.isApproved(order)}'" in problem.reason
    assert "method call 'approvalService.isApproved(order)' is not supported" in problem.reason
    assert "at position 2" in problem.reason


def test_juel_where_baton_does_not_evaluate_it_is_refused(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("assigned").replace(
        b'<bpmn:endEvent id="Event_approved" name="Approved">',
        b'<bpmn:userTask id="Review" camunda:formKey="${formName}"><bpmn:incoming>x</bpmn:incoming></bpmn:userTask>'
        b'<bpmn:endEvent id="Event_approved" name="Approved">')
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("assigned.bpmn", xml)])
    reasons = {p.element_id: p.reason for p in refused.value.problems}
    assert "JUEL expression '${formName}' in camunda:formKey cannot run: Baton does not evaluate JUEL here" \
        in reasons["Review"]  # (JUEL message names: tests/test_juel_message_names.py)
