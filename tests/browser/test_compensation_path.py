"""The compensation path on the instance page of an ``order_saga`` instance."""

from __future__ import annotations

import pytest

from tests.browser.conftest import markers, screenshot
from tests.conftest import PROCESSES

SAGA = PROCESSES / "order_saga.bpmn"


@pytest.fixture
def saga(live):  # type: ignore[no-untyped-def]
    if not SAGA.exists() or not hasattr(live.engine, "get_compensation"):
        pytest.skip("processes/order_saga.bpmn and engine.get_compensation arrive with the compensation issue")
    live.engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])
    return live


def test_compensated_saga_shows_the_undone_steps_and_numbered_handlers_in_reverse_order(page, saga):
    saga.fail_service("/shipping/create", "bpmn_error", count=-1)
    instance_id = saga.engine.start("order_saga", {"amount": 30}, business_key="saga-1")
    saga.wait_for(lambda: saga.status(instance_id) not in ("running", "waiting"), what="the saga to end")
    doc = saga.engine.get_instance(instance_id)
    executed = saga.engine.get_compensation(instance_id)["executed"]
    compensated = [s["activity"] for s in executed]
    assert compensated == ["reserve_inventory", "charge_payment"]
    # Reverse order of completion, read from the history itself.
    completed = [h["element_id"] for h in doc["history"]
                 if h["event"] == "completed" and h["element_id"] in compensated]
    assert compensated == completed[::-1]

    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")
    page.wait_for_selector(".baton-comp-step")
    for activity in ("charge_payment", "reserve_inventory"):
        assert "baton-compensated" in markers(page, activity), activity
    assert "baton-compensated" not in markers(page, "create_shipment")
    assert "baton-caught" in markers(page, "create_shipment")  # the BPMN error that started it, caught: a handled path
    for position, step in enumerate(executed, start=1):
        handler = step["handler"]
        assert "baton-compensation-handler" in markers(page, handler)
        badges = page.query_selector_all(f'.djs-overlays[data-container-id="{handler}"] .baton-comp-step')
        assert [b.inner_text() for b in badges] == [str(position)], handler
        assert badges[0].get_attribute("data-activity") == step["activity"]
    assert page.query_selector('.djs-overlays[data-container-id="cancel_shipment"] .baton-comp-step') is None
    assert "baton-compensation-handler" not in markers(page, "cancel_shipment")
    assert "Release inventory undid Reserve inventory" in page.inner_text("#comp-summary")
    assert page.is_hidden("#pending-toggle")
    screenshot(page, "instance-compensation.png")
    assert saga.console_errors == []


def test_running_saga_shows_what_would_be_compensated_now_behind_a_toggle(page, saga):
    # The reservation fails until the page has been looked at, however long a busy machine takes
    # (its retries, then an incident); then it is let through.
    saga.fail_service("/inventory/reserve", "http500", count=-1)
    instance_id = saga.engine.start("order_saga", {"amount": 12}, business_key="saga-2")
    saga.wait_for(lambda: bool(saga.engine.get_compensation(instance_id)["pending"]), what="a pending path")

    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert page.query_selector(".baton-comp-pending") is None  # off until asked for
    page.check("#show-pending")
    badge = page.wait_for_selector('.djs-overlays[data-container-id="refund_payment"] .baton-comp-pending')
    assert badge.inner_text() == "1"
    screenshot(page, "instance-pending-compensation.png")
    saga.reset_services()
    saga.wait_for(lambda: saga.status(instance_id) in ("incident", "completed") or not any(
        j["status"] == "failed" for j in saga.engine.get_instance(instance_id)["jobs"]), what="a settled reservation")
    for incident in saga.engine.get_instance(instance_id)["incidents"]:
        if incident["resolved_at"] is None:
            saga.engine.retry_incident(incident["id"])
    page.wait_for_selector('#instance-status[data-status="completed"]', timeout=60_000)
    page.wait_for_selector("#pending-toggle", state="hidden")
    assert page.query_selector(".baton-comp-pending") is None
    assert saga.console_errors == []
