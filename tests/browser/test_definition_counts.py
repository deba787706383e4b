"""The definition page draws its instances on the diagram: per element, how many wait there, have
an open incident there, completed it, were cancelled there; each number opens exactly those
instances in the list."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import screenshot
from tests.conftest import PROCESSES


def _counts(page, element_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    box = page.query_selector(f'.element-counts[data-element-id="{element_id}"]')
    if box is None:
        return {}
    return {a.get_attribute("data-state"): a.inner_text() for a in box.query_selector_all("a")}


def _listed_ids(page) -> set[str]:  # type: ignore[no-untyped-def]
    rows = page.query_selector_all("#live-instances tr[data-instance-id]")
    return {r.get_attribute("data-instance-id") for r in rows}


def test_counts_per_element_on_the_diagram_open_the_filtered_list(page, live):
    live.engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])
    start = live.engine.start
    waiting = start("user_registration", {"email": "w@example.org"}, business_key="count-waiting")
    rejected = start("user_registration", {"email": "r@example.org"}, business_key="count-rejected")
    cancelled = start("user_registration", {"email": "c@example.org"}, business_key="count-cancelled")
    failing = start("user_registration", {"email": "f@example.org"}, business_key="count-failing")
    live.engine.complete_user_task(rejected, "review_application", {"approved": False})
    live.engine.cancel(cancelled, "test")
    live.fail_service("/accounts/create", "http500", count=-1)
    live.engine.complete_user_task(failing, "review_application", {"approved": True})
    live.wait_for(lambda: live.status(failing) == "incident", timeout=45, what="create_account's incident")
    live.reset_services()

    page.goto("/definitions/user_registration")
    page.wait_for_selector("#definition-diagram[data-ready]")
    assert _counts(page, "review_application") == {"active": "1", "completed": "2", "cancelled": "1"}
    assert _counts(page, "create_account") == {"incidents": "1"}
    assert _counts(page, "record_rejection") == {"completed": "1"}
    assert _counts(page, "application_received") == {"completed": "4"}
    assert _counts(page, "send_welcome") == {}
    assert page.get_attribute("#definition-diagram", "data-counted") == "4"
    screenshot(page, "definition-counts.png")

    page.click('.element-counts[data-element-id="review_application"] a[data-state="active"]')
    page.wait_for_url("**/instances?*element=review_application*")
    assert _listed_ids(page) == {waiting}
    page.go_back()
    page.wait_for_selector("#definition-diagram[data-ready]")
    page.click('.element-counts[data-element-id="create_account"] a[data-state="incidents"]')
    page.wait_for_url("**/instances?*element_state=incident*")
    assert _listed_ids(page) == {failing}
    page.go_back()
    page.wait_for_selector("#definition-diagram[data-ready]")
    page.click('.element-counts[data-element-id="review_application"] a[data-state="completed"]')
    page.wait_for_url("**/instances?*element_state=completed*")
    assert _listed_ids(page) == {rejected, failing}
    assert live.console_errors == []


def test_the_xml_of_a_definition_downloads_as_deployed(page, live):
    source = (PROCESSES / "user_registration.bpmn").read_bytes()
    live.engine.deploy([("user_registration.bpmn", source)])
    page.goto("/definitions/user_registration")
    with page.expect_download() as info:
        page.click("#download-xml")
    download = info.value
    assert download.suggested_filename == "user_registration_v1.bpmn"
    assert Path(download.path()).read_bytes() == source
