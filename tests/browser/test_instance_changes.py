"""An operator changes instances from their pages (Chromium): edit variables and see the instance
decide on them, move a token and see it run from there, migrate a selection from v1 to v2 and
see each go on in v2. (Incidents, the timeline and the page's mends: test_instance_page_mends.py.)"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import markers, screenshot
from tests.conftest import PROCESSES

REGISTRATION = (PROCESSES / "user_registration.bpmn").read_text()
V2 = REGISTRATION.replace("rejected by reviewer", "rejected on v2")


def _open(page: Any, instance_id: str) -> None:
    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")


def _status(page: Any, status: str) -> None:
    page.wait_for_selector(f'#instance-status[data-status="{status}"]')



def test_edited_variables_are_what_the_instance_decides_on(page, live):
    live.engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    instance_id = live.engine.start("user_registration", {"email": "e@example.org", "approved": True})
    _open(page, instance_id)
    page.click("#panel-changes summary:has-text('Edit variables')")
    page.fill("#variables-form textarea[name=set]", '{"approved": false')
    page.click("#variables-form button[type=submit]")
    assert "Variables not changed: The variables are not JSON" in page.inner_text(".flash-error")
    assert page.input_value("#variables-form textarea[name=set]") == '{"approved": false'  # kept to mend
    page.fill("#variables-form textarea[name=set]", '{"approved": false}')
    page.fill("#variables-form input[name=remove]", "email")
    page.fill("#variables-form input[name=reason]", "the reviewer ticked the wrong box")
    page.click("#variables-form button[type=submit]")
    assert "Variables changed: approved, -email." in page.inner_text(".flash-ok")
    assert '"approved"' not in page.inner_text("#panel-variables") or "false" in page.inner_text("#panel-variables")
    assert "email" not in page.inner_text("#panel-variables")
    # The quick completion sends nothing: the gateway reads the edited value.
    page.click("#panel-actions form.complete-task button[type=submit]")
    _status(page, "completed")
    assert "rejected by reviewer" in page.inner_text("#panel-variables")
    assert "baton-completed" in markers(page, "record_rejection")
    row = page.inner_text('#panel-history tr.event-variables')
    assert "the reviewer ticked the wrong box" in row and f"user:{live.user}" in row
    assert live.console_errors == []


def test_a_moved_token_runs_from_its_new_place(page, live):
    live.engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    instance_id = live.engine.start("user_registration", {"email": "m@example.org"})
    _open(page, instance_id)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#panel-changes summary:has-text('Move tokens')")
    page.check('#modify-form input[name=cancel][value="review_application"]')
    page.select_option("#modify-form select[name=start_before]", "record_rejection")
    page.fill("#modify-form input[name=reason]", "rejected on the phone")
    page.click("#modify-form button[type=submit]")
    assert "Tokens moved: cancel review_application; start before record_rejection." in page.inner_text(".flash-ok")
    _status(page, "completed")
    page.wait_for_selector('.djs-element.baton-completed[data-element-id="record_rejection"]')
    assert "baton-cancelled" in markers(page, "review_application")
    assert page.inner_text('.djs-overlays[data-container-id="review_application"] .baton-state-badge') == "cancelled"
    assert "baton-completed" in markers(page, "application_rejected")
    assert "rejected on the phone" in page.inner_text("#panel-history tr.event-modified")
    screenshot(page, "instance-moved-token.png")
    # Ended, it offers a restart with its last variables instead.
    page.select_option("#restart-form select[name=element]", "review_application")
    page.click("#restart-form button[type=submit]")
    assert "Instance restarted before review_application" in page.inner_text(".flash-ok")
    _status(page, "waiting")
    assert "m@example.org" in page.inner_text("#panel-variables")
    # A refusal names what was wrong and changes nothing.
    other = live.engine.start("user_registration", {})
    _open(page, other)
    page.click("#panel-changes summary:has-text('Move tokens')")
    page.select_option("#modify-form select[name=start_after]", "approved_gateway")
    page.click("#modify-form button[type=submit]")
    assert "approved_gateway has 2 outgoing flows" in page.inner_text(".flash-error")
    assert live.status(other) == "waiting"
    assert live.console_errors == []


def test_a_selection_migrated_from_v1_to_v2_goes_on_in_v2(page, live):
    live.engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    chosen = [live.engine.start("user_registration", {}, business_key=f"mig-{n}") for n in range(2)]
    left = live.engine.start("user_registration", {}, business_key="mig-left")
    live.engine.deploy([("user_registration.bpmn", V2.encode())])
    _open(page, chosen[0])
    page.click("#migrate-link")
    page.wait_for_selector("#plan")
    assert page.input_value('select[name="map:review_application"]') == "review_application"
    page.on("dialog", lambda dialog: dialog.accept())
    # The plan is editable: with the review unmapped, an instance waiting there cannot be migrated.
    page.select_option('select[name="map:review_application"]', "")
    page.check(f'#migrate-instances input[value="{left}"]')
    page.click("#migrate-selected")
    page.wait_for_selector("#migration-results")
    assert "which the plan maps to nothing" in page.inner_text(f'#migration-results li[data-instance-id="{left}"]')
    assert page.input_value('select[name="map:review_application"]') == ""  # the edited plan is kept
    page.select_option('select[name="map:review_application"]', "review_application")
    for instance_id in chosen:
        page.check(f'#migrate-instances input[value="{instance_id}"]')
    page.fill("#migration-form input[name=reason]", "the v2 wording")
    page.click("#migrate-selected")
    page.wait_for_selector("#migration-results")
    assert "Migrated 2 instance(s) to v2; 0 refused." in page.inner_text(".flash-ok")
    for instance_id in chosen:
        assert "migrated to v2" in page.inner_text(f'#migration-results li[data-instance-id="{instance_id}"]')
    screenshot(page, "migration-results.png")
    assert page.query_selector(f'#migrate-instances input[value="{left}"]') is not None  # still v1, still offered
    for instance_id in chosen:
        _open(page, instance_id)
        assert "v2" in page.inner_text("#panel-summary h1")
        page.fill("#panel-actions form.complete-task textarea", '{"approved": false}')
        page.click("#panel-actions form.complete-task button[type=submit]")
        _status(page, "completed")
        assert "rejected on v2" in page.inner_text("#panel-variables")
    assert live.engine.get_instance(left, history=False)["definition"]["version"] == 1
    assert live.console_errors == []
