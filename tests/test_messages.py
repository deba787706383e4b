"""Messages reach exactly one waiting instance by correlation, start processes, wait with a ttl."""

from __future__ import annotations

import pytest

from engine import DeploymentError, MessageNotCorrelated
from tests.conftest import ROOT

DIAGRAM = ROOT / "tests" / "diagrams" / "await_shipment.bpmn"


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes())])
    return bare_engine


def test_a_message_resumes_the_instance_whose_correlation_matches(engine):
    instances = {f"o-{n}": engine.start("await_shipment", {"order_id": f"o-{n}"}) for n in range(5)}
    assert {engine.get_instance(i)["status"] for i in instances.values()} == {"waiting"}
    result = engine.correlate("OrderShipped", correlation={"order_id": "o-3"}, variables={"carrier": "DHL"})
    assert result == {"result": "delivered", "name": "OrderShipped", "instance_id": instances["o-3"],
                      "element_id": "wait_shipped"}
    doc = engine.get_instance(instances["o-3"])
    assert doc["status"] == "completed" and doc["variables"]["carrier"] == "DHL"
    others = [engine.get_instance(i)["status"] for k, i in instances.items() if k != "o-3"]
    assert others == ["waiting"] * 4


def test_a_message_by_business_key(engine):
    first = engine.start("await_shipment", {"order_id": "x"}, business_key="bk-1")
    second = engine.start("await_shipment", {"order_id": "x"}, business_key="bk-2")
    engine.correlate("OrderShipped", business_key="bk-2")
    assert engine.get_instance(second)["status"] == "completed"
    assert engine.get_instance(first)["status"] == "waiting"


def test_a_message_that_matches_nothing_is_refused_clearly(engine):
    engine.start("await_shipment", {"order_id": "o-1"})
    with pytest.raises(MessageNotCorrelated) as refused:
        engine.correlate("OrderShipped", correlation={"order_id": "nope"})
    assert "OrderShipped" in str(refused.value) and "order_id='nope'" in str(refused.value)


def test_a_message_start_event_starts_exactly_one_instance(engine):
    result = engine.correlate("NewOrder", variables={"sku": "A-1"}, message_id="m-1")
    assert result["result"] == "started" and result["definition"] == "order_intake"
    doc = engine.get_instance(result["instance_id"])
    assert doc["status"] == "completed" and doc["variables"]["sku"] == "A-1" and doc["variables"]["accepted"]
    again = engine.correlate("NewOrder", variables={"sku": "A-1"}, message_id="m-1")
    assert again["duplicate"] is True and again["instance_id"] == result["instance_id"]
    assert engine.list_instances(definition="order_intake")["total"] == 1


def test_a_buffered_message_is_delivered_when_the_instance_starts_waiting(engine):
    buffered = engine.correlate("OrderShipped", correlation={"order_id": "later"}, ttl_seconds=60)
    assert buffered["result"] == "buffered"
    instance_id = engine.start("await_shipment", {"order_id": "later"})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert any(h["event"] == "message" for h in doc["history"])
    with pytest.raises(MessageNotCorrelated):  # consumed: not delivered twice
        engine.correlate("OrderShipped", correlation={"order_id": "later"})


def test_a_thrown_message_resumes_the_instance_waiting_for_it(bare_engine):  # type: ignore[no-untyped-def]
    engine = bare_engine
    events = ROOT / "tests" / "diagrams" / "order_events.bpmn"
    engine.deploy([(events.name, events.read_bytes())])
    waiting = {n: engine.start("ship_order", {"order_id": n}) for n in ("a", "b", "c")}
    thrower = engine.start("place_order", {"order_id": "b", "qty": 2})
    engine.driver.drain()
    assert engine.get_instance(thrower)["status"] == "completed"
    [publish] = [j for j in engine.get_instance(thrower)["jobs"] if j["kind"] == "publish"]
    assert publish["status"] == "done"
    resumed = engine.get_instance(waiting["b"])
    assert resumed["status"] == "completed" and resumed["variables"]["total"] == 6
    assert [engine.get_instance(waiting[n])["status"] for n in ("a", "c")] == ["waiting", "waiting"]


def test_camunda_8_subscription_correlation_key(bare_engine):  # type: ignore[no-untyped-def]
    diagram = ROOT / "tests" / "diagrams" / "zeebe_shipment.bpmn"
    bare_engine.deploy([(diagram.name, diagram.read_bytes())])
    waiting = {n: bare_engine.start("await_payment", {"orderId": n}) for n in ("o-1", "o-2")}
    result = bare_engine.correlate("PaymentReceived", correlation={"orderId": "o-2"}, variables={"paid": True})
    assert result["instance_id"] == waiting["o-2"]
    assert bare_engine.get_instance(waiting["o-2"])["status"] == "completed"
    assert bare_engine.get_instance(waiting["o-1"])["status"] == "waiting"

    # any FEEL of Baton's subset is a key (issue 11), named by its text; outside the subset, refused
    feel = diagram.read_bytes().replace(b'correlationKey="=orderId"', b'correlationKey="=order.id + 1"')
    bare_engine.deploy([("feel.bpmn", feel)])
    third = bare_engine.start("await_payment", {"order": {"id": 41}})
    bare_engine.correlate("PaymentReceived", correlation={"order.id + 1": 42})
    assert bare_engine.get_instance(third)["status"] == "completed"
    regex = diagram.read_bytes().replace(b'correlationKey="=orderId"',
                                         b'correlationKey="=matches(orderId, &quot;o&quot;)"')
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("feel.bpmn", regex)])
    assert "msg_paid" in str(refused.value) and "matches() is not in Baton's FEEL subset" in str(refused.value)
