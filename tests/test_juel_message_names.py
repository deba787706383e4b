"""A message name with JUEL, as Camunda 7 runs it: evaluated on the waiting catch when its
subscription is made, the message correlates by the evaluated name; an unknown variable is an
incident; a message start event's name must be constant (refused at deploy, naming the event).
"""

from __future__ import annotations

import pytest

from engine import DeploymentError, MessageNotCorrelated

WAITING = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="paid" name="payment-${orderId}"/>
  <bpmn:process id="await_payment" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:receiveTask id="wait_payment" messageRef="paid"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_payment"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_payment" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

STARTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="order" name="order-${region}"/>
  <bpmn:process id="by_message" isExecutable="true">
    <bpmn:startEvent id="order_received"><bpmn:messageEventDefinition messageRef="order"/></bpmn:startEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="order_received" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_catch_waits_for_its_evaluated_message_name(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("await_payment.bpmn", WAITING)])
    first = bare_engine.start("await_payment", {"orderId": "A-1"})
    second = bare_engine.start("await_payment", {"orderId": "B-2"})
    with pytest.raises(MessageNotCorrelated):
        bare_engine.correlate("payment-${orderId}", variables={})  # the text as written matches nothing
    result = bare_engine.correlate("payment-B-2", variables={"amount": 5})
    assert result["result"] == "delivered" and result["instance_id"] == second
    assert bare_engine.get_instance(second)["status"] == "completed"
    assert bare_engine.get_instance(first)["status"] == "waiting"
    bare_engine.correlate("payment-A-1", variables={})
    assert bare_engine.get_instance(first)["status"] == "completed"


def test_an_unknown_variable_in_the_name_is_an_incident_naming_it(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("await_payment.bpmn", WAITING)])
    doc = bare_engine.get_instance(bare_engine.start("await_payment", {}))
    assert doc["status"] == "incident"
    assert "orderId" in doc["incidents"][0]["message"]


def test_a_message_start_event_needs_a_constant_name(bare_engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        bare_engine.deploy([("by_message.bpmn", STARTED)])
    [problem] = caught.value.problems
    assert problem.element_id == "order_received"
    assert "cannot run on a message start event: Camunda 7 requires a constant name there" in problem.reason
