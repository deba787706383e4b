"""History rows are written in the order things happened, each once."""

from __future__ import annotations

from collections import Counter

import httpx

from tests.conftest import PROCESSES

FAILING_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="divide" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="prepare" scriptFormat="python"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="split" scriptFormat="python"><bpmn:script>share = total / n</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="split"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def assert_in_order_once(history: list[dict]) -> None:
    seqs = [h["seq"] for h in history]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    times = [h["at"] for h in history]
    assert times == sorted(times), [(h["seq"], h["element_id"], h["event"], h["at"]) for h in history]
    # the instance document carries no task ids: these diagrams run each element once
    rows = Counter((h["element_id"], h["event"], repr(h["details"])) for h in history
                   if h["element_id"] == "process" or h["event"] in ("failed", "cancelled"))
    assert all(n == 1 for n in rows.values()), rows


def test_a_cancel_is_recorded_once_after_the_tasks_it_cancelled(inline_engine, services):
    inline_engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    instance_id = inline_engine.start("order_fulfillment", {"amount": 5})
    inline_engine.cancel(instance_id, reason="customer asked")
    history = inline_engine.get_instance(instance_id)["history"]
    assert_in_order_once(history)
    events = [(h["element_id"], h["event"]) for h in history]
    assert events.count(("process", "cancelled")) == 1
    assert events[-1] == ("process", "cancelled") and ("charge_payment", "cancelled") in events


def test_a_failed_script_is_recorded_once_after_what_led_to_it(bare_engine):
    bare_engine.deploy([("divide.bpmn", FAILING_SCRIPT)])
    instance_id = bare_engine.start("divide", {"total": 10})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    history = doc["history"]
    assert_in_order_once(history)
    events = [(h["element_id"], h["event"]) for h in history]
    assert events.count(("split", "failed")) == 1
    assert events.index(("prepare", "completed")) < events.index(("split", "entered")) \
        < events.index(("split", "failed"))
    failed = next(h for h in history if h["event"] == "failed")
    assert "ZeroDivisionError" in failed["details"]["error"]


def test_a_compensated_saga_and_a_cancelled_trip_keep_their_rows_in_order(inline_engine, services):
    inline_engine.deploy([(n, (PROCESSES / n).read_bytes()) for n in ("order_saga.bpmn", "trip_booking.bpmn")])
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": 1})
    saga = inline_engine.start("order_saga", {"amount": 3})
    inline_engine.driver.drain()
    httpx.post(f"{services}/_control/fail", json={"path": "/payment/charge", "mode": "bpmn_error",
                                                   "code": "PAYMENT_DECLINED", "count": 1})
    trip = inline_engine.start("trip_booking", {"amount": 90})
    inline_engine.driver.drain()
    for instance_id in (saga, trip):
        doc = inline_engine.get_instance(instance_id)
        assert doc["status"] == "compensated"
        assert_in_order_once(doc["history"])
        assert [(h["element_id"], h["event"]) for h in doc["history"]][-1] == ("process", "compensated")
