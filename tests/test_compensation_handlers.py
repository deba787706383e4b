"""Compensation handlers of every kind: a user task waits for a person, a sub-process runs whole,
and the handler sees the current variables (as in Camunda 7), not those of its activity's time."""

from __future__ import annotations

import pytest

HANDLERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="booking" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="book_room" scriptFormat="python"><bpmn:script>room = "R12"
price = 90</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="room_comp" attachedToRef="book_room">
      <bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
    <bpmn:userTask id="call_guest" name="Call the guest" isForCompensation="true"/>
    <bpmn:scriptTask id="book_table" scriptFormat="python"><bpmn:script>table = 7
price = 40</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="table_comp" attachedToRef="book_table">
      <bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
    <bpmn:subProcess id="release_table" isForCompensation="true">
      <bpmn:startEvent id="rt_start"/>
      <bpmn:scriptTask id="free_table" scriptFormat="python"><bpmn:script>freed = table
freed_price = price</bpmn:script></bpmn:scriptTask>
      <bpmn:endEvent id="rt_end"/>
      <bpmn:sequenceFlow id="rt1" sourceRef="rt_start" targetRef="free_table"/>
      <bpmn:sequenceFlow id="rt2" sourceRef="free_table" targetRef="rt_end"/>
    </bpmn:subProcess>
    <bpmn:scriptTask id="change_price" scriptFormat="python">
      <bpmn:script>price = 1000</bpmn:script></bpmn:scriptTask>
    <bpmn:intermediateThrowEvent id="undo_all"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="book_room"/>
    <bpmn:sequenceFlow id="f2" sourceRef="book_room" targetRef="book_table"/>
    <bpmn:sequenceFlow id="f3" sourceRef="book_table" targetRef="change_price"/>
    <bpmn:sequenceFlow id="f4" sourceRef="change_price" targetRef="undo_all"/>
    <bpmn:sequenceFlow id="f5" sourceRef="undo_all" targetRef="end"/>
    <bpmn:association id="a1" sourceRef="room_comp" targetRef="call_guest"/>
    <bpmn:association id="a2" sourceRef="table_comp" targetRef="release_table"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("booking.bpmn", HANDLERS)])
    return bare_engine


def test_a_subprocess_handler_then_a_user_task_handler_newest_first(engine):
    instance_id = engine.start("booking")
    doc = engine.get_instance(instance_id)
    # the sub-process handler of the newest activity ran whole
    completed = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
    assert "free_table" in completed and "call_guest" not in completed
    assert doc["status"] == "waiting"
    [task] = engine.open_tasks(instance_id)
    assert task["element_id"] == "call_guest"  # the older activity's handler waits for a person
    path = engine.get_compensation(instance_id)["executed"]
    assert [(s["activity"], s["handler"], s["status"]) for s in path] == [
        ("book_table", "release_table", "compensated"), ("book_room", "call_guest", "compensating")]
    engine.complete_user_task(instance_id, "call_guest", {"guest_reached": True})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    # handlers saw the current variables: the price set after book_table, not the one it set
    assert doc["variables"]["freed"] == 7 and doc["variables"]["freed_price"] == 1000
    assert doc["variables"]["guest_reached"] is True
