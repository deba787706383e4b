"""The instance page explains itself (Chromium): an incident's page shows each attempt's failing
HTTP answer and runs the call again, the timeline follows the runs; and the mends of issue 13: a
caught BPMN error is drawn as a handled path, a cancelled transaction as cancelled, a suspended
instance offers no task completion, a viewer gets no operator action."""

from __future__ import annotations

from typing import Any

from tests.auth_helpers import make_user
from tests.browser.conftest import markers, screenshot, sign_in
from tests.conftest import PROCESSES

REGISTRATION = (PROCESSES / "user_registration.bpmn").read_text()


def _open(page: Any, instance_id: str) -> None:
    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")


def _status(page: Any, status: str) -> None:
    page.wait_for_selector(f'#instance-status[data-status="{status}"]')


def test_an_incident_page_shows_the_failing_http_answer_runs_it_again_and_the_timeline_follows(page, live):
    live.engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    live.fail_service("/inventory/reserve", "http500", count=-1)
    instance_id = live.engine.start("order_fulfillment", {"amount": 8}, business_key="incident-http")
    live.wait_for(lambda: live.status(instance_id) == "incident", what="the incident")
    _open(page, instance_id)
    page.click("#panel-incidents a.incident-link")
    page.wait_for_selector("#attempts")
    last = page.query_selector_all("#attempts details.attempt")[-1]
    text = last.inner_text()
    assert "HTTP 500" in text and "POST " in text and "/inventory/reserve" in text
    assert "idempotency-key: [redacted]" in text
    assert '"amount":8' in text
    assert len(page.query_selector_all("#attempts details.attempt")) == 4  # the first call and three retries
    screenshot(page, "incident-http-answer.png")
    page.fill("#incident-note textarea", "inventory service down, OPS-12")
    page.click("#incident-note button[type=submit]")
    assert "inventory service down, OPS-12" in page.inner_text("#incident-note blockquote")
    live.reset_services()
    page.fill("#incident-retry input[name=retries]", "2")
    page.click("#incident-retry button[type=submit]")
    assert "runs again with 2 attempt(s)" in page.inner_text(".flash-ok")
    live.wait_for(lambda: live.status(instance_id) == "completed", what="the retried call")
    page.reload()
    assert "ok" in page.query_selector_all("#attempts details.attempt")[-1].inner_text()
    # The instance's timeline: each run in order with its duration, the retried call's last.
    _open(page, instance_id)
    rows = page.query_selector_all("#timeline .tl-row")
    elements = [r.get_attribute("data-element-id") for r in rows]
    assert elements.index("charge_payment") < elements.index("reserve_inventory") < elements.index("create_shipment")
    for row in rows:
        assert row.get_attribute("data-end") == "completed"
        assert row.query_selector(".tl-took").inner_text().endswith(("ms", "s"))
    assert page.inner_text("#instance-duration")
    durations = live.engine.instance_durations(instance_id)
    assert {r["element_id"] for r in durations["runs"]} == set(elements)
    assert live.console_errors == []


def test_a_caught_bpmn_error_and_a_cancelled_transaction_are_drawn_as_what_they_are(page, live):
    live.engine.deploy([("trip_booking.bpmn", (PROCESSES / "trip_booking.bpmn").read_bytes())])
    live.fail_service("/payment/charge", "bpmn_error", count=-1, code="PAYMENT_DECLINED")
    instance_id = live.engine.start("trip_booking", {"amount": 900})
    live.wait_for(lambda: live.status(instance_id) == "compensated", what="the declined trip")
    _open(page, instance_id)
    assert "baton-caught" in markers(page, "charge_trip") and "baton-failed" not in markers(page, "charge_trip")
    assert page.inner_text('.djs-overlays[data-container-id="charge_trip"] .baton-state-badge') == "error caught"
    assert page.query_selector("#panel-jobs tr.job-error") is None  # no red "last error"
    assert "PAYMENT_DECLINED" in page.inner_text("#panel-jobs tr.job-handled")
    assert "baton-cancelled" in markers(page, "book_trip") and "baton-completed" not in markers(page, "book_trip")
    assert page.inner_text('.djs-overlays[data-container-id="book_trip"] .baton-state-badge') == "cancelled"
    screenshot(page, "instance-caught-and-cancelled.png")
    assert live.console_errors == []


def test_a_suspended_instance_offers_no_completion_and_a_viewer_no_operator_action(page, live):
    live.engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes()),
                        ("user_registration.bpmn", REGISTRATION.encode())])
    suspended = live.engine.start("user_registration", {})
    live.engine.suspend(suspended)
    _open(page, suspended)
    _status(page, "suspended")
    actions = page.inner_text("#panel-actions")
    assert "Complete review_application" not in actions and "Open the" not in actions
    assert "wait until the instance is resumed" in actions
    page.click("#resume")
    page.wait_for_selector("#panel-actions form.complete-task")
    waiting = suspended
    live.fail_service("/inventory/reserve", "http500", count=-1)
    broken = live.engine.start("order_fulfillment", {"amount": 1})
    live.wait_for(lambda: live.status(broken) == "incident", what="the incident")
    [incident] = live.engine.get_instance(broken, history=False)["incidents"]
    page.context.clear_cookies()
    sign_in(page, make_user(live.engine, "viewer"))
    for instance_id in (waiting, broken):
        _open(page, instance_id)
        assert page.query_selector("main form[method=post]") is None, instance_id
        assert page.inner_text("#panel-changes").strip() == ""
        assert "A viewer may look, not act." in page.inner_text("#panel-actions")
    page.goto(f"/incidents/{incident['id']}")
    page.wait_for_selector("#attempts")
    assert page.query_selector("main form[method=post]") is None
    assert page.query_selector("#incident-retry") is None
