"""The engine's spine through its public API: deploy, start, jobs, errors, incidents, loops."""

from __future__ import annotations

import httpx
import pytest

from engine import DeploymentError, InstanceNotActive
from tests.conftest import PROCESSES


def deploy_bundled(engine) -> None:  # type: ignore[no-untyped-def]
    engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])


def events(doc, element_id):  # type: ignore[no-untyped-def]
    return [h["event"] for h in doc["history"] if h["element_id"] == element_id]


def test_order_completes_through_http_services(inline_engine, services):
    deploy_bundled(inline_engine)
    instance_id = inline_engine.start("order_fulfillment", {"amount": 42}, business_key="order-1")
    assert inline_engine.get_instance(instance_id)["status"] == "running"
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["variables"]["charged"] == 42 and doc["variables"]["shipment_id"]
    assert events(doc, "create_shipment") == ["entered", "completed"]
    calls = httpx.get(f"{services}/_control/calls").json()["calls"]
    keys = {c["path"]: c["idempotency_key"] for c in calls}
    assert set(keys) == {"/payment/charge", "/inventory/reserve", "/shipping/create"}
    assert all(k.startswith(instance_id) for k in keys.values())
    assert all(c["traceparent"].startswith("00-") and c["instance_id"] == instance_id for c in calls)


def test_identical_deploy_makes_no_new_version(inline_engine):
    data = (PROCESSES / "order_fulfillment.bpmn").read_bytes()
    first = inline_engine.deploy([("order_fulfillment.bpmn", data)])
    again = inline_engine.deploy([("order_fulfillment.bpmn", data)])
    changed = inline_engine.deploy([("order_fulfillment.bpmn", data.replace(b"Order fulfillment", b"Orders"))])
    assert [r.describe() for r in first] == ["deployed order_fulfillment v1"]
    assert [r.describe() for r in again] == ["unchanged order_fulfillment v1"]
    assert [r.describe() for r in changed] == ["deployed order_fulfillment v2"]


def test_bpmn_error_from_service_follows_the_boundary_path(inline_engine, services):
    deploy_bundled(inline_engine)
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": 1})
    instance_id = inline_engine.start("order_fulfillment", {"amount": 5})
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert events(doc, "create_shipment") == ["entered", "error", "cancelled"]
    assert events(doc, "shipping_failed") == ["entered", "completed"]
    assert events(doc, "order_not_shipped")[-1] == "completed"


def test_retries_then_incident_then_retry_completes(inline_engine, services):
    deploy_bundled(inline_engine)
    httpx.post(f"{services}/_control/fail", json={"path": "/inventory/reserve", "mode": "http500", "count": -1})
    instance_id = inline_engine.start("order_fulfillment", {"amount": 5})
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    job = next(j for j in doc["jobs"] if j["element_id"] == "reserve_inventory")
    assert job["attempts"] == job["max_attempts"] == 4 and job["status"] == "failed"
    assert events(doc, "reserve_inventory").count("retrying") == 3
    [incident] = doc["incidents"]
    assert "reserve_inventory" in incident["message"] and "500" in incident["message"]
    calls = [c for c in httpx.get(f"{services}/_control/calls").json()["calls"] if c["path"] == "/inventory/reserve"]
    assert len(calls) == 4 and len({c["idempotency_key"] for c in calls}) == 1

    httpx.post(f"{services}/_control/reset")
    inline_engine.retry_incident(incident["id"])
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["incidents"][0]["resolved_at"] is not None


def test_user_task_waits_then_completes(inline_engine, services):
    deploy_bundled(inline_engine)
    instance_id = inline_engine.start("user_registration", {"email": "a@example.org"})
    assert inline_engine.get_instance(instance_id)["status"] == "waiting"
    inline_engine.complete_user_task(instance_id, "review_application", {"approved": False})
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["variables"]["rejection_reason"] == "rejected by reviewer"


def test_cancel_stops_the_instance_and_its_jobs(inline_engine, services):
    deploy_bundled(inline_engine)
    instance_id = inline_engine.start("order_fulfillment", {"amount": 1})
    inline_engine.cancel(instance_id, "customer changed their mind")
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "cancelled"
    assert {j["status"] for j in doc["jobs"]} == {"cancelled"}
    inline_engine.driver.drain()
    assert inline_engine.get_instance(instance_id)["status"] == "cancelled"
    with pytest.raises(InstanceNotActive):
        inline_engine.cancel(instance_id)


LOOP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="long_loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>i = i + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="done"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="count"/>
    <bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="more"/>
    <bpmn:sequenceFlow id="again" sourceRef="more" targetRef="count">
      <bpmn:conditionExpression>i &lt; n</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_5000_iteration_loop_completes(inline_engine):
    inline_engine.deploy([("loop.bpmn", LOOP)])
    instance_id = inline_engine.start("long_loop", {"i": 0, "n": 5000})
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["variables"]["i"] == 5000
    assert events(doc, "count").count("completed") == 5000


def refusal(engine, xml: bytes, name: str = "broken.bpmn") -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([(name, xml)])
    return [str(p) for p in caught.value.problems]


def test_deploy_refuses_what_cannot_run_naming_file_line_and_element(inline_engine):
    juel = LOOP.replace(b"i &lt; n", b"${counter.below(n)}")  # a bean call: outside Baton's JUEL subset
    [problem] = refusal(inline_engine, juel)
    assert problem.startswith("broken.bpmn:11: again: JUEL expression")

    unbound = LOOP.replace(b'<bpmn:scriptTask id="count" scriptFormat="python">', b'<bpmn:serviceTask id="count">')
    unbound = unbound.replace(b"</bpmn:scriptTask>", b"</bpmn:serviceTask>")
    [problem] = refusal(inline_engine, unbound)
    assert ": count: service task has no endpoint binding" in problem

    # (a camunda:type="external" topic bound to nothing waits for an external worker instead:
    # tests/compat; a Zeebe job type has no such worker here)
    unknown_topic = unbound.replace(
        b'<bpmn:serviceTask id="count">',
        b'<bpmn:serviceTask id="count" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"><bpmn:extensionElements>'
        b'<zeebe:taskDefinition type="nowhere" /></bpmn:extensionElements>')
    [problem] = refusal(inline_engine, unknown_topic)
    assert "count: topic 'nowhere' resolves to no endpoint" in problem

    groovy = LOOP.replace(b'scriptFormat="python"', b'scriptFormat="groovy"')
    assert "count: script format 'groovy' cannot run" in refusal(inline_engine, groovy)[0]

    assert "not well-formed XML" in refusal(inline_engine, b"<bpmn:definitions")[0]
    assert "not a BPMN 2.0 document" in refusal(inline_engine, b"<html/>")[0]


def test_a_suspended_instance_runs_nothing_until_resumed(inline_engine, services):
    deploy_bundled(inline_engine)
    instance_id = inline_engine.start("order_fulfillment", {"amount": 3})
    assert inline_engine.suspend(instance_id) == "suspended"
    inline_engine.driver.drain()  # the queued job is not claimed while suspended
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "suspended" and doc["jobs"][0]["status"] == "pending"
    with pytest.raises(InstanceNotActive):
        inline_engine.suspend(instance_id)
    assert inline_engine.resume(instance_id) == "running"
    inline_engine.driver.drain()
    assert inline_engine.get_instance(instance_id)["status"] == "completed"
