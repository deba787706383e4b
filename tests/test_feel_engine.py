"""FEEL sequence-flow conditions through the engine: a diagram as Camunda Modeler writes it for
Camunda 8 (``=amount > 100`` on the gateway's flows, a default flow) deploys unchanged and takes
the right path; a missing variable makes a condition null, which is not taken; FEEL outside the
subset, or where Baton does not evaluate it yet, is refused at deploy naming the element.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError

ZEEBE_MODELER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"
    exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Cloud"
    modeler:executionPlatformVersion="8.6.0">
  <bpmn:process id="{key}" name="Route order" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:outgoing>Flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:exclusiveGateway id="Gateway_route" name="Which way?" default="Flow_manual">
      <bpmn:incoming>Flow_start</bpmn:incoming>
      <bpmn:outgoing>Flow_big</bpmn:outgoing>
      <bpmn:outgoing>Flow_small</bpmn:outgoing>
      <bpmn:outgoing>Flow_manual</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_1" targetRef="Gateway_route" />
    <bpmn:sequenceFlow id="Flow_big" name="big" sourceRef="Gateway_route" targetRef="Event_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{big}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_small" name="small" sourceRef="Gateway_route" targetRef="Event_small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{small}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_manual" name="otherwise" sourceRef="Gateway_route" targetRef="Event_manual" />
    <bpmn:endEvent id="Event_big" name="Big">
      <bpmn:incoming>Flow_big</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="Event_small" name="Small">
      <bpmn:incoming>Flow_small</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="Event_manual" name="Manual">
      <bpmn:incoming>Flow_manual</bpmn:incoming>
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

ENDS = ("Event_big", "Event_small", "Event_manual")


def diagram(key: str, big: str = "=amount &gt; 100", small: str = "= amount &lt;= 100") -> bytes:
    return ZEEBE_MODELER.replace("{key}", key).replace("{big}", big).replace("{small}", small).encode()


def ended_at(doc: dict[str, Any]) -> list[str]:
    return [h["element_id"] for h in doc["history"] if h["element_id"] in ENDS and h["event"] == "completed"]


@pytest.mark.parametrize(("variables", "end"), [
    ({"amount": 250}, "Event_big"),
    ({"amount": 100}, "Event_small"),
    ({"amount": 99.5}, "Event_small"),
    ({}, "Event_manual"),                      # amount is null: both conditions null, neither taken
    ({"amount": "250"}, "Event_manual"),       # a string compared with a number: null, not taken
])
def test_a_camunda8_gateway_with_feel_conditions_takes_the_right_path(bare_engine, variables, end) -> None:  # type: ignore[no-untyped-def]
    assert [r.describe() for r in bare_engine.deploy([("route.bpmn", diagram("route"))])] == ["deployed route v1"]
    doc = bare_engine.get_instance(bare_engine.start("route", variables))
    assert doc["status"] == "completed", doc["incidents"]
    assert ended_at(doc) == [end]


def test_feel_conditions_read_lists_contexts_and_built_ins(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("risky", big='= some item in order.items satisfies item.price * item.qty &gt; 1000',
                  small='=count(order.items[starts with(upper case(sku), "B")]) &gt;= 1 and not(order.vip)')
    bare_engine.deploy([("risky.bpmn", xml)])
    big = {"order": {"items": [{"sku": "a1", "price": 600, "qty": 2}], "vip": False}}
    small = {"order": {"items": [{"sku": "b2", "price": 6, "qty": 2}], "vip": False}}
    vip = {"order": {"items": [{"sku": "b2", "price": 6, "qty": 2}], "vip": True}}
    assert [ended_at(bare_engine.get_instance(bare_engine.start("risky", v))) for v in (big, small, vip)] == [
        ["Event_big"], ["Event_small"], ["Event_manual"]]


def test_a_runaway_feel_condition_is_an_incident_on_the_gateway(bare_engine) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("loop.bpmn", diagram("loop", big="=count(for i in 1..n return i) &gt; 0"))])
    doc = bare_engine.get_instance(bare_engine.start("loop", {"n": 10_000_000}))
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "Gateway_route"
    assert "more than 100000 items" in incident["message"]


def test_feel_outside_the_subset_is_refused_at_deploy_naming_the_flow_and_the_part(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("ai", big='=fromAi(toolCall.query, "the query") != null', small="=Current Status.name = 1")
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("ai.bpmn", xml)])
    reasons = {p.element_id: p.reason for p in refused.value.problems}
    assert "the function fromAi() is not in Baton's FEEL subset (at column 1" in reasons["Flow_big"]
    assert "'Current Status' is several words" in reasons["Flow_small"]


def test_feel_where_baton_does_not_evaluate_it_yet_is_still_refused(bare_engine) -> None:  # type: ignore[no-untyped-def]
    xml = diagram("looped").replace(
        b'<bpmn:endEvent id="Event_big" name="Big">',
        b'<bpmn:task id="Each"><bpmn:incoming>x</bpmn:incoming><bpmn:multiInstanceLoopCharacteristics>'
        b"<bpmn:loopCardinality>=count(items)</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
        b'</bpmn:task><bpmn:endEvent id="Event_big" name="Big">')
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("looped.bpmn", xml)])
    reasons = {p.element_id: p.reason for p in refused.value.problems}
    assert "Baton evaluates FEEL in sequence-flow conditions, timers and zeebe:ioMapping only" in reasons["Each"]


def test_a_feel_timer_value_is_evaluated_as_zeebe_does(bare_engine) -> None:  # type: ignore[no-untyped-def]
    """``=duration("PT" + string(wait) + "S")`` on a timer: the FEEL answer is the ISO 8601 duration."""
    timer = ('<bpmn:intermediateCatchEvent id="Pause"><bpmn:incoming>Flow_start</bpmn:incoming>'
             '<bpmn:outgoing>Flow_on</bpmn:outgoing><bpmn:timerEventDefinition id="T"><bpmn:timeDuration '
             'xsi:type="bpmn:tFormalExpression">=duration("PT" + string(wait) + "S")</bpmn:timeDuration>'
             '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
             '<bpmn:sequenceFlow id="Flow_on" sourceRef="Pause" targetRef="Gateway_route" />')
    xml = diagram("paused").replace(
        b'<bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_1" targetRef="Gateway_route" />',
        b'<bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_1" targetRef="Pause" />' + timer.encode())
    bare_engine.deploy([("paused.bpmn", xml)])
    instance_id = bare_engine.start("paused", {"wait": 1, "amount": 500})
    assert bare_engine.get_instance(instance_id)["status"] == "waiting"
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed", doc["incidents"]
    assert ended_at(doc) == ["Event_big"]
    [timer_job] = [j for j in doc["jobs"] if j["element_id"] == "Pause"]
    assert timer_job["status"] == "done"


PAID = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="paid" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Wait" targetRef="end"/>
  </bpmn:process>
  <bpmn:message id="M" name="payment-received">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=upper case(order.id)"/></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>"""


def test_a_zeebe_correlation_key_may_be_any_feel_of_the_subset(bare_engine) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("paid.bpmn", PAID)])
    first = bare_engine.start("paid", {"order": {"id": "a-1"}})
    second = bare_engine.start("paid", {"order": {"id": "b-2"}})
    bare_engine.correlate("payment-received", correlation={"upper case(order.id)": "B-2"}, variables={"paid": True})
    assert bare_engine.get_instance(second)["status"] == "completed"
    assert bare_engine.get_instance(first)["status"] == "waiting"
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("paid.bpmn", PAID.replace(b"upper case(order.id)", b"matches(order.id, &quot;a+&quot;)"))])
    assert "cannot run: the function matches() is not in Baton's FEEL subset" in refused.value.problems[0].reason
