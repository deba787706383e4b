"""Finding and acting on many instances in Chromium: part of a business key from the header box
(never a 404 page), the list's prefix/contains/element/incident/suspended filters, and a
selection's bulk cancel with a result per instance."""

from __future__ import annotations

from tests.browser.conftest import sign_in
from tests.conftest import PROCESSES


def _deploy(engine) -> None:  # type: ignore[no-untyped-def]
    engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])


def _listed(page) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(td.inner_text() for td in page.query_selector_all("#live-instances tbody td.key"))


def test_part_of_a_business_key_in_the_header_lists_the_matches_instead_of_a_404(page, live):
    _deploy(live.engine)
    for key in ("trip-0001", "trip-0002", "order-trip-7", "signup-ann"):
        live.engine.start("user_registration", {"email": f"{key}@example.org"}, business_key=key)

    page.goto("/definitions")
    page.fill("header .search input[name=q]", "trip")
    page.press("header .search input[name=q]", "Enter")
    page.wait_for_url("**/instances?*key_match=prefix*")
    assert _listed(page) == ["trip-0001", "trip-0002"]
    assert page.input_value("select[name=key_match]") == "prefix"

    # Nothing starts with "rip": the box falls back to "contains" (case-insensitive).
    response = page.goto("/search?q=RIP")
    assert response.status == 200
    assert _listed(page) == ["order-trip-7", "trip-0001", "trip-0002"]

    # Stars say it explicitly in the list's own box; an unknown key is an empty list, not a 404.
    page.fill("input[name=business_key]", "*trip-7")
    page.select_option("select[name=key_match]", "")
    page.click(".filters button[type=submit]")
    assert _listed(page) == ["order-trip-7"]
    response = page.goto("/search?q=nobody-has-this")
    assert response.status == 200
    assert "No instance matches" in page.inner_text("#live-instances")
    assert live.console_errors == []


def test_variable_prefix_element_incident_and_suspended_filters(page, live):
    _deploy(live.engine)
    ann = live.engine.start("user_registration", {"email": "ann@example.org"}, business_key="f-ann")
    bob = live.engine.start("user_registration", {"email": "bob@example.com"}, business_key="f-bob")
    live.engine.suspend(bob)

    page.goto("/instances?variable=email&value_match=prefix&value=ann%40")
    assert _listed(page) == ["f-ann"]
    page.goto("/instances?variable=email&value_match=contains&value=EXAMPLE.COM")
    assert _listed(page) == ["f-bob"]

    page.goto("/instances")
    assert "suspended" in [o.inner_text() for o in page.query_selector_all("select[name=status] option")]
    page.select_option("select[name=status]", "suspended")
    page.click(".filters button[type=submit]")
    assert _listed(page) == ["f-bob"]

    page.goto("/instances?definition=user_registration&element=review_application")
    assert _listed(page) == ["f-ann", "f-bob"]
    live.engine.complete_user_task(ann, "review_application", {"approved": False})
    live.wait_for(lambda: live.status(ann) == "completed", what="ann's instance to complete")
    page.goto("/instances?definition=user_registration&element=review_application")
    assert _listed(page) == ["f-bob"]
    page.goto("/instances?element=record_rejection&element_state=completed")
    assert _listed(page) == ["f-ann"]
    page.goto("/instances?incident=yes")
    assert _listed(page) == []
    page.goto("/instances?incident=no&definition=user_registration")
    assert _listed(page) == ["f-ann", "f-bob"]
    assert live.console_errors == []


def test_bulk_cancel_a_selection_shows_a_result_for_each_instance(page, live):
    _deploy(live.engine)
    waiting = [live.engine.start("user_registration", {"email": f"b{n}@example.org"}, business_key=f"bulk-{n}")
               for n in range(3)]
    done = live.engine.start("user_registration", {"email": "d@example.org"}, business_key="bulk-done")
    live.engine.complete_user_task(done, "review_application", {"approved": False})
    live.wait_for(lambda: live.status(done) == "completed", what="one instance to complete")

    page.goto("/instances?business_key=bulk-&key_match=prefix")
    for instance_id in (waiting[0], waiting[1], done):
        page.check(f'#live-instances tr[data-instance-id="{instance_id}"] input[name=selected]')
    page.fill("#bulk-form input[name=reason]", "customer withdrew")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click('#bulk-form button[value="cancel"]')
    page.wait_for_selector("#bulk-results")
    assert questions == ["Cancel every selected instance?"]

    rows = {r.get_attribute("data-instance-id"): r for r in page.query_selector_all("tr.bulk-result")}
    assert sorted(rows) == sorted([waiting[0], waiting[1], done])  # in the list's order, one row each
    assert "ok" in (rows[waiting[0]].get_attribute("class") or "")
    assert "cancelled" in rows[waiting[1]].inner_text()
    assert "refused" in rows[done].inner_text() and "completed" in rows[done].inner_text()
    assert "2 of 3" in page.inner_text("h1")
    assert [live.status(i) for i in waiting] == ["cancelled", "cancelled", "waiting"]
    history = live.engine.get_instance(waiting[0])["history"]
    assert any(e["event"] == "cancelled" and (e["details"] or {}).get("reason") == "customer withdrew"
               for e in history)

    page.click("#back-to-list")
    page.wait_for_url("**/instances?*bulk-*")
    assert live.console_errors == []


def test_a_viewer_gets_no_selection_bar_and_a_forged_bulk_post_changes_nothing(page, live):
    from tests.auth_helpers import make_user

    _deploy(live.engine)
    instance_id = live.engine.start("user_registration", {"email": "v@example.org"}, business_key="viewer-1")
    page.context.clear_cookies()
    sign_in(page, make_user(live.engine, "viewer"))
    page.goto("/instances")
    assert page.query_selector("#bulk-form") is None
    assert page.query_selector("#live-instances input[name=selected]") is None
    token = page.get_attribute("meta[name=csrf-token]", "content")
    answer = page.request.post(f"{live.url}/instances/bulk", form={
        "csrf_token": token, "action": "cancel", "selected": instance_id})
    assert answer.status == 403
    assert live.status(instance_id) == "waiting"
