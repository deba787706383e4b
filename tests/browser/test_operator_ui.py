"""The operator's browser, through Chromium: deploy, start, watch, retry, search, refusals."""

from __future__ import annotations

import json

from tests.browser.conftest import markers, screenshot
from tests.conftest import PROCESSES

ORDER = PROCESSES / "order_fulfillment.bpmn"


def unbound_topic(order: bytes) -> bytes:
    """order_fulfillment with create_shipment bound to a topic no endpoint serves. As a Zeebe task
    type: an unbound camunda:type="external" topic deploys (it waits for a worker, Camunda 7's way)."""
    return order.replace(
        b'camunda:type="external" camunda:topic="shipping-create">',
        b'><bpmn:extensionElements><zeebe:taskDefinition type="nowhere"/></bpmn:extensionElements>', 1).replace(
        b"xmlns:camunda=", b'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:camunda=', 1)


def deploy_bundled(engine) -> None:  # type: ignore[no-untyped-def]
    engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])


def test_upload_deploy_start_and_watch_the_instance_complete_without_reloading(page, live):
    page.goto("/definitions")
    page.set_input_files("input[name=files]", str(ORDER))
    page.click("#deploy-form button[type=submit]")
    page.wait_for_url("**/definitions/order_fulfillment?version=1")
    page.wait_for_selector("#definition-diagram[data-ready]")
    assert "deployed order_fulfillment v1" in page.inner_text(".flash-ok")

    # The charge answers after 2 s, so the instance is still running when its page opens.
    live.fail_service("/payment/charge", "slow", count=1, seconds=2)
    page.fill("input[name=business_key]", "order-ui-1")
    page.fill("textarea[name=variables]", json.dumps({"amount": 42}))
    page.click("#start-form button[type=submit]")
    page.wait_for_url("**/instances/*")
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert page.get_attribute("#instance-status", "data-status") == "running"
    assert "baton-active" in markers(page, "charge_payment")
    page.evaluate("window.__sameDocument = true")

    live.wait_for(lambda: page.get_attribute("#instance-status", "data-status") == "completed", timeout=45,
                  what="the instance page to show the instance completed")
    page.wait_for_selector('.djs-element[data-element-id="order_fulfilled"].baton-completed')
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    for element in ("order_received", "charge_payment", "reserve_inventory", "create_shipment", "order_fulfilled"):
        assert "baton-completed" in markers(page, element), element
    assert "baton-taken" in markers(page, "Flow_to_fulfilled")
    assert "baton-taken" not in markers(page, "Flow_to_notify")
    assert '"charged"' in page.inner_text("#panel-variables") or "charged" in page.inner_text("#panel-variables")

    # Clicking an element shows its own history rows.
    page.click('.djs-element[data-element-id="create_shipment"]')
    page.wait_for_selector("#panel-element:not([hidden]) #element-rows tr.event-completed")
    shown = {row.get_attribute("data-element-id") for row in page.query_selector_all("#element-rows tr.event")}
    assert shown == {"create_shipment"}
    screenshot(page, "instance.png")
    assert live.console_errors == []


def test_refused_uploads_show_the_refusals_never_an_error_page(page, live, tmp_path):
    not_xml = tmp_path / "notes.bpmn"
    not_xml.write_text("this is not a diagram")
    page.goto("/definitions")
    page.set_input_files("input[name=files]", str(not_xml))
    page.click("#deploy-form button[type=submit]")
    refusal = page.inner_text("#refusals")
    assert "notes.bpmn" in refusal and "XML" in refusal

    unbound = tmp_path / "unbound.bpmn"
    unbound.write_bytes(unbound_topic(ORDER.read_bytes()))
    page.set_input_files("input[name=files]", str(unbound))
    page.click("#deploy-form button[type=submit]")
    row = page.wait_for_selector('#refusals tr.refusal[data-element-id="create_shipment"]')
    assert "nowhere" in row.inner_text()
    page.wait_for_selector(".refusal-diagram[data-ready]")
    assert "baton-failed" in markers(page, "create_shipment")
    assert page.query_selector(".baton-refusal") is not None
    screenshot(page, "refusals.png")

    too_big = tmp_path / "big.bpmn"
    too_big.write_bytes(b"<x>" + b" " * (600 * 1024) + b"</x>")
    page.set_input_files("input[name=files]", str(too_big))
    page.click("#deploy-form button[type=submit]")
    assert "larger than" in page.inner_text("#refusals")
    assert live.engine.list_definitions() == []


def test_retry_incidents_from_the_incidents_page_and_watch_the_instances_complete(page, live):
    deploy_bundled(live.engine)
    live.fail_service("/payment/charge", "http500", count=-1)
    first = live.engine.start("order_fulfillment", {"amount": 1}, business_key="retry-1")
    second = live.engine.start("order_fulfillment", {"amount": 2}, business_key="retry-2")
    live.wait_for(lambda: live.status(first) == live.status(second) == "incident", what="two incidents")
    live.reset_services()

    page.goto("/incidents")
    assert len(page.query_selector_all("tr[data-incident-id]")) == 2
    first_incident = live.engine.get_instance(first)["incidents"][0]["id"]
    page.click(f'tr[data-incident-id="{first_incident}"] button.retry-one')
    assert "Retried 1 incident" in page.inner_text(".flash-ok")
    live.wait_for(lambda: live.status(first) == "completed", what="the first instance to complete")

    page.goto("/incidents")
    page.check("input[data-select-all]")
    page.click("#retry-selected")
    assert "Retried 1 incident" in page.inner_text(".flash-ok")
    # the engine's view first: a timeout here names what the job driver hit (seen once in CI)
    live.wait_for(lambda: live.status(second) == "completed", what="the second instance to complete")
    page.goto(f"/instances/{second}")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.wait_for_selector('.djs-element[data-element-id="order_fulfilled"].baton-completed')
    assert live.console_errors == []


def test_search_by_business_key_from_any_page_and_unknown_ids_get_a_404_with_the_search_box(page, live):
    deploy_bundled(live.engine)
    instance_id = live.engine.start("user_registration", {"email": "ann@example.org"}, business_key="signup-ann")
    page.goto("/definitions")
    page.fill("header .search input[name=q]", "signup-ann")
    page.press("header .search input[name=q]", "Enter")
    page.wait_for_url(f"**/instances/{instance_id}")
    assert page.inner_text("#instance-business-key") == "signup-ann"
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert "baton-active" in markers(page, "review_application")

    # The waiting user task is completed from the page, and the page follows.
    page.fill(".complete-task textarea[name=variables]", '{"approved": false}')
    page.click(".complete-task button[type=submit]")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.wait_for_selector('.djs-element[data-element-id="record_rejection"].baton-completed')

    assert live.console_errors == []

    response = page.goto("/instances/00000000-0000-0000-0000-000000000000")
    assert response.status == 404
    assert page.query_selector("main form.search input[name=q]") is not None
    page.fill("main form.search input[name=q]", instance_id[:8])
    page.press("main form.search input[name=q]", "Enter")
    page.wait_for_url(f"**/instances/{instance_id}")
