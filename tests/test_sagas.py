"""The bundled sagas through the engine API with the real demo HTTP services (jobs run in-process)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PROCESSES, baton_cli


def deploy(engine, *names: str) -> None:  # type: ignore[no-untyped-def]
    engine.deploy([(n, (PROCESSES / n).read_bytes()) for n in names])


def effects(services: str, path: str) -> list[dict]:
    return [e for e in httpx.get(f"{services}/_control/calls").json()["effects"] if e["path"] == path]


def calls(services: str) -> list[dict]:
    return httpx.get(f"{services}/_control/calls").json()["calls"]


@pytest.fixture
def stepwise_engine(settings_factory, services, inline_engine_factory):  # type: ignore[no-untyped-def]
    """Each ``run_job`` runs one job (no same-worker continuation): the test stops between steps."""
    return inline_engine_factory(settings_factory(continue_steps=0))


def test_a_failed_shipment_refunds_and_releases_once_newest_first(inline_engine, services):
    deploy(inline_engine, "order_saga.bpmn")
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": -1})
    instance_id = inline_engine.start("order_saga", {"amount": 30}, business_key="order-77")
    inline_engine.driver.drain()

    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    paths = [c["path"] for c in calls(services)]
    assert paths == ["/payment/charge", "/inventory/reserve", "/shipping/create",
                     "/inventory/release", "/payment/refund"]
    assert len(effects(services, "/payment/refund")) == 1 and len(effects(services, "/inventory/release")) == 1
    assert not effects(services, "/shipping/cancel")  # the shipment never completed: nothing to undo

    # the refund saw the payment charge_payment made
    charge = next(c for c in calls(services) if c["path"] == "/payment/charge")
    refund = next(c for c in calls(services) if c["path"] == "/payment/refund")
    assert refund["body"]["payment_id"] and refund["body"]["charged"] == 30
    assert refund["idempotency_key"].startswith(instance_id) and refund["idempotency_key"] != charge["idempotency_key"]

    path = inline_engine.get_compensation(instance_id)
    assert [(s["activity"], s["handler"], s["status"]) for s in path["executed"]] == [
        ("reserve_inventory", "release_inventory", "compensated"),
        ("charge_payment", "refund_payment", "compensated"),
    ]
    assert path["pending"] == []
    ended = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
    assert ended[-1] == "order_cancelled"


def test_a_successful_saga_compensates_nothing(inline_engine, services):
    deploy(inline_engine, "order_saga.bpmn")
    instance_id = inline_engine.start("order_saga", {"amount": 12})
    inline_engine.driver.drain()
    assert inline_engine.get_instance(instance_id)["status"] == "completed"
    assert inline_engine.get_compensation(instance_id)["executed"] == []
    assert [c["path"] for c in calls(services)] == ["/payment/charge", "/inventory/reserve", "/shipping/create"]


def test_pending_path_of_a_running_saga(stepwise_engine, services):
    deploy(stepwise_engine, "order_saga.bpmn")
    instance_id = stepwise_engine.start("order_saga", {"amount": 5})
    driver = stepwise_engine.driver
    from adapters.runner import run_job

    for _ in range(2):  # charge, then reserve; the shipment job stays queued
        run_job(stepwise_engine, driver.queue.popleft().id, "test")
    path = stepwise_engine.get_compensation(instance_id)
    assert path["status"] == "running" and path["executed"] == []
    assert path["pending"] == [{"scope": "order_saga", "steps": [
        {"activity": "reserve_inventory", "handler": "release_inventory", "iteration": 1},
        {"activity": "charge_payment", "handler": "refund_payment", "iteration": 1},
    ]}]


def test_a_declined_payment_cancels_the_trip_transaction(inline_engine, services):
    deploy(inline_engine, "trip_booking.bpmn")
    httpx.post(f"{services}/_control/fail", json={"path": "/payment/charge", "mode": "bpmn_error",
                                                   "code": "PAYMENT_DECLINED", "count": -1})
    instance_id = inline_engine.start("trip_booking", {"amount": 900})
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "compensated"
    undo = [c["path"] for c in calls(services) if c["path"].endswith("/cancel")]
    assert undo == ["/car/cancel", "/flight/cancel", "/hotel/cancel"]
    completed = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
    assert "trip_not_booked" in completed and "trip_booked" not in completed


def test_show_json_carries_the_compensation_path(inline_engine, services, settings_factory):
    deploy(inline_engine, "order_saga.bpmn")
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": 1})
    instance_id = inline_engine.start("order_saga", {"amount": 3})
    inline_engine.driver.drain()
    settings = inline_engine.settings
    env = {"BATON_HOME": str(settings.home), "BATON_DATABASE_URL": settings.database_url,
           "BATON_ENDPOINTS": str(settings.endpoints)}
    shown = baton_cli("show", instance_id, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    import json

    doc = json.loads(shown.stdout)
    assert doc["status"] == "compensated"
    assert [s["handler"] for s in doc["compensation"]["executed"]] == ["release_inventory", "refund_payment"]


def test_a_saga_mid_compensation_survives_a_restart_of_the_engine(stepwise_engine, services, settings_factory):
    """The compensation frames are part of the stored state: a fresh engine (another process, a
    restarted worker) restores them without the in-process cache."""
    from adapters.runner import InlineDriver, run_job
    from engine import Engine

    deploy(stepwise_engine, "order_saga.bpmn")
    httpx.post(f"{services}/_control/fail", json={"path": "/shipping/create", "mode": "bpmn_error",
                                                   "code": "SHIPPING_UNAVAILABLE", "count": -1})
    instance_id = stepwise_engine.start("order_saga", {"amount": 9})
    queue = stepwise_engine.driver.queue
    for _ in range(3):  # charge, reserve, the failing shipment: compensation starts, release is queued
        run_job(stepwise_engine, queue.popleft().id, "first")
    assert stepwise_engine.get_compensation(instance_id)["executed"][0]["status"] == "compensating"

    driver = InlineDriver()
    fresh = Engine(stepwise_engine.settings, notifier=driver.notify)
    driver.engine = fresh
    assert fresh.get_compensation(instance_id)["executed"][0]["handler"] == "release_inventory"
    for ticket in list(queue):
        run_job(fresh, ticket.id, "second")
    driver.drain()
    assert fresh.get_instance(instance_id)["status"] == "compensated"
    fresh.close()
