"""Compensation keeps the process's data, as Camunda 7 does: a handler reads the current variables
(plus, for an activity inside a completed sub-process, that scope's local variables as they were),
and what it writes goes to the process, where the next handler and the rest of the flow see it."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import PROCESSES

TRAIL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="trail" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="reserve" scriptFormat="python"><bpmn:script>trail = trail + ['reserve']
seats = 2</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="reserve_comp" attachedToRef="reserve"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
    <bpmn:scriptTask id="unreserve" isForCompensation="true" scriptFormat="python">
      <bpmn:script>trail = trail + ['unreserve ' + str(seats)]</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="charge" scriptFormat="python"><bpmn:script>trail = trail + ['charge']
charge_id = 'ch-1'</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="charge_comp" attachedToRef="charge"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
    <bpmn:scriptTask id="refund" isForCompensation="true" scriptFormat="python">
      <bpmn:script>trail = trail + ['refund ' + charge_id]
refund_id = 'rf-1'</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="grow" scriptFormat="python"><bpmn:script>trail = trail + ['grow']
seats = 5</bpmn:script></bpmn:scriptTask>
    <bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>
    <bpmn:scriptTask id="after" scriptFormat="python">
      <bpmn:script>trail = trail + ['after']</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="reserve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="reserve" targetRef="charge"/>
    <bpmn:sequenceFlow id="f3" sourceRef="charge" targetRef="grow"/>
    <bpmn:sequenceFlow id="f4" sourceRef="grow" targetRef="undo"/>
    <bpmn:sequenceFlow id="f5" sourceRef="undo" targetRef="after"/>
    <bpmn:sequenceFlow id="f6" sourceRef="after" targetRef="end"/>
    <bpmn:association id="a1" sourceRef="reserve_comp" targetRef="unreserve"/>
    <bpmn:association id="a2" sourceRef="charge_comp" targetRef="refund"/>
  </bpmn:process>
</bpmn:definitions>"""

HOTELS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="hotels" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="scope">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="room"></camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="hotels"
          camunda:elementVariable="hotel"/>
      <bpmn:startEvent id="scope_start"/>
      <bpmn:scriptTask id="book_hotel" scriptFormat="python">
        <bpmn:script>room = hotel + '-101'</bpmn:script></bpmn:scriptTask>
      <bpmn:boundaryEvent id="book_comp" attachedToRef="book_hotel">
        <bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
      <bpmn:scriptTask id="cancel_hotel" isForCompensation="true" scriptFormat="python">
        <bpmn:script>cancelled = cancelled + [hotel + ':' + room]</bpmn:script></bpmn:scriptTask>
      <bpmn:endEvent id="scope_end"/>
      <bpmn:sequenceFlow id="s1" sourceRef="scope_start" targetRef="book_hotel"/>
      <bpmn:sequenceFlow id="s2" sourceRef="book_hotel" targetRef="scope_end"/>
      <bpmn:association id="a1" sourceRef="book_comp" targetRef="cancel_hotel"/>
    </bpmn:subProcess>
    <bpmn:intermediateThrowEvent id="undo">
      <bpmn:compensateEventDefinition activityRef="scope"/></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="scope"/>
    <bpmn:sequenceFlow id="f2" sourceRef="scope" targetRef="undo"/>
    <bpmn:sequenceFlow id="f3" sourceRef="undo" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_every_handler_sees_the_writes_before_it_and_the_flow_sees_every_handler(bare_engine):
    bare_engine.deploy([("trail.bpmn", TRAIL)])
    instance_id = bare_engine.start("trail", {"trail": []})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    variables = doc["variables"]
    # newest first; each handler appended to what the steps and the handlers before it wrote, and
    # read the current value of a variable changed after its activity (seats 5, not 2)
    assert variables["trail"] == ["reserve", "charge", "grow", "refund ch-1", "unreserve 5", "after"]
    assert variables["charge_id"] == "ch-1" and variables["refund_id"] == "rf-1" and variables["seats"] == 5


def test_handlers_inside_a_multi_instance_sub_process_read_their_own_iteration(bare_engine):
    # `room` is the iteration's own through an input parameter, as Camunda 7 makes a local variable
    # (without it, a write inside the loop reaches the process: one `room`, the last iteration's)
    bare_engine.deploy([("hotels.bpmn", HOTELS)])
    instance_id = bare_engine.start("hotels", {"hotels": ["Rupert", "Milliways", "Taunton"], "cancelled": []})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    # each handler saw the element variable and the room of the iteration its activity ran in,
    # and wrote to the process's list, newest iteration first
    assert doc["variables"]["cancelled"] == ["Taunton:Taunton-101", "Milliways:Milliways-101", "Rupert:Rupert-101"]


def test_a_cancelled_trip_keeps_its_bookings_and_cancellations(inline_engine, services):
    inline_engine.deploy([("trip_booking.bpmn", (PROCESSES / "trip_booking.bpmn").read_bytes())])
    httpx.post(f"{services}/_control/fail", json={"path": "/payment/charge", "mode": "bpmn_error",
                                                   "code": "PAYMENT_DECLINED", "count": -1})
    instance_id = inline_engine.start("trip_booking", {"amount": 900})
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    variables = doc["variables"]
    for booked in ("hotel_booking_id", "flight_booking_id", "car_booking_id"):
        assert variables[booked], booked  # written inside the transaction before it was cancelled
    for undone in ("hotel_cancelled", "flight_cancelled", "car_cancelled"):
        assert variables[undone] is True, undone  # written by the handlers
    assert variables["code"] == "PAYMENT_DECLINED" and variables["amount"] == 900
    # the transaction is recorded as cancelled, not completed, before its cancel boundary fires
    events = [(h["element_id"], h["event"]) for h in doc["history"]]
    assert ("book_trip", "cancelled") in events and ("book_trip", "completed") not in events
    assert events.index(("book_trip", "cancelled")) < events.index(("trip_cancelled", "completed"))
    # each cancellation was asked with the booking it undoes
    calls = httpx.get(f"{services}/_control/calls").json()["calls"]
    cancel = {c["path"]: c["body"] for c in calls if c["path"].endswith("/cancel")}
    assert cancel["/hotel/cancel"]["hotel_booking_id"] == variables["hotel_booking_id"]
    assert cancel["/car/cancel"]["flight_booking_id"] == variables["flight_booking_id"]


def test_a_compensated_order_saga_keeps_what_every_step_and_handler_wrote(inline_engine, services):
    inline_engine.deploy([("order_saga.bpmn", (PROCESSES / "order_saga.bpmn").read_bytes())])
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": -1})
    instance_id = inline_engine.start("order_saga", {"amount": 30}, business_key="order-data")
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    variables = doc["variables"]
    assert variables["payment_id"] and variables["reservation_id"] and variables["charged"] == 30
    assert variables["released"] is True and variables["refund_id"]
    calls = httpx.get(f"{services}/_control/calls").json()["calls"]
    refund = next(c["body"] for c in calls if c["path"] == "/payment/refund")
    # the refund, run after the release, saw what the release wrote
    assert refund["released"] is True and refund["payment_id"] == variables["payment_id"]


def test_a_sub_process_handler_waiting_in_a_user_task_survives_a_fresh_engine(bare_engine):
    """The handler's own workflow is restored from the database, not from this process's cache."""
    from engine import EndpointMap, Engine

    diagram = (Path(__file__).parent / "diagrams" / "compensation" / "testSubprocessCompensationHandler.bpmn")
    bare_engine.deploy([(diagram.name, diagram.read_bytes())])
    instance_id = bare_engine.start("subProcessCompensationHandler", {"order": "o-1"})
    bare_engine.complete_user_task(instance_id, "activity", {"booked": "b-1"})
    fresh = Engine(bare_engine.settings, endpoints=EndpointMap())
    try:
        assert [t["element_id"] for t in fresh.open_tasks(instance_id)] == ["subProcessTask"]
        assert fresh.get_instance(instance_id)["status"] == "waiting"
        fresh.complete_user_task(instance_id, "subProcessTask", {"undone": "b-1"})
        assert [t["element_id"] for t in fresh.open_tasks(instance_id)] == ["beforeEnd"]
        fresh.complete_user_task(instance_id, "beforeEnd", {})
        doc = fresh.get_instance(instance_id)
    finally:
        fresh.close()
    assert doc["status"] == "compensated" and not doc["incidents"]
    assert doc["variables"]["booked"] == "b-1" and doc["variables"]["undone"] == "b-1"


def test_a_handler_user_task_is_on_the_task_list_and_completes_from_it(bare_engine):
    diagram = (Path(__file__).parent / "diagrams" / "compensation" / "testSubprocessCompensationHandler.bpmn")
    bare_engine.deploy([(diagram.name, diagram.read_bytes())])
    instance_id = bare_engine.start("subProcessCompensationHandler")
    bare_engine.complete_user_task(instance_id, "activity", {})
    [task] = [t for t in bare_engine.list_user_tasks() if t["instance_id"] == instance_id]
    assert task["element_id"] == "subProcessTask"
    bare_engine.claim_user_task(task["id"], "alice")
    bare_engine.complete_user_task_by_id(task["id"], {"undone": True}, user="alice")
    doc = bare_engine.get_instance(instance_id)
    assert not doc["incidents"], doc["incidents"]
    assert [t["element_id"] for t in bare_engine.open_tasks(instance_id)] == ["beforeEnd"]
