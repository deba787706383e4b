"""Issue 13's "wrong or confusing" list, outside the instance page, each seen in Chromium."""

from __future__ import annotations

import json

import httpx

from tests.auth_helpers import make_token, make_user
from tests.browser.bpmn_builder import linear_bpmn
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_operator_ui import unbound_topic
from tests.browser.test_tasks import EXPENSE
from tests.conftest import PROCESSES, ROOT

ORDER = PROCESSES / "order_fulfillment.bpmn"
REGISTRATION = PROCESSES / "user_registration.bpmn"
# A check a person makes, then a script that fails: completing the task ends on an incident.
CHECK_THEN_FAIL = linear_bpmn("check_then_fail", "Check, then fail", [
    ("startEvent", "start", "", ""),
    ("userTask", "check", 'name="Check the order"', ""),
    ("scriptTask", "divide", 'name="Divide" scriptFormat="python"', "<bpmn:script>ratio = 1 / 0</bpmn:script>"),
    ("endEvent", "done", "", ""),
])


def test_a_task_completed_into_an_incident_says_so_in_amber_with_the_instance_link(page, live):
    live.engine.deploy([("check_then_fail.bpmn", CHECK_THEN_FAIL)])
    instance_id = live.engine.start("check_then_fail", {}, business_key="mend-incident")
    [task] = live.engine.list_user_tasks(instance_id=instance_id)
    page.goto(f"/tasks/{task['id']}")
    page.fill("textarea[name=variables]", "{}")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert page.query_selector(".flash-ok") is None
    warning = page.inner_text(".flash-warn")
    assert "Completed Check the order, but the instance then stopped on an incident" in warning
    page.click(".flash-warn a")
    page.wait_for_url(f"**/instances/{instance_id}")
    assert live.status(instance_id) == "incident"
    screenshot(page, "task-incident.png")


def test_suspended_is_a_status_of_the_dashboard_and_the_list(page, live):
    live.engine.deploy([("user_registration.bpmn", REGISTRATION.read_bytes())])
    held = live.engine.start("user_registration", {"email": "s@example.org"}, business_key="mend-held")
    live.engine.start("user_registration", {"email": "t@example.org"}, business_key="mend-waiting")
    live.engine.suspend(held)
    page.goto("/")
    tile = page.wait_for_selector("a.tile-suspended")
    assert tile.inner_text().split() == ["1", "suspended"]
    tile.click()
    page.wait_for_url("**/instances?status=suspended")
    assert page.input_value("select[name=status]") == "suspended"
    rows = page.query_selector_all("#live-instances tr[data-instance-id]")
    assert [r.get_attribute("data-instance-id") for r in rows] == [held]


def test_a_viewer_is_offered_no_action_it_may_not_take(page, live):
    live.engine.deploy([("order_fulfillment.bpmn", ORDER.read_bytes())])
    live.fail_service("/payment/charge", "http500", count=-1)
    broken = live.engine.start("order_fulfillment", {"amount": 1}, business_key="mend-viewer")
    live.wait_for(lambda: live.status(broken) == "incident", what="an incident to list")
    live.reset_services()
    page.context.clear_cookies()
    sign_in(page, make_user(live.engine, "viewer"))
    page.goto("/definitions")
    assert page.query_selector("#deploy-form") is None
    page.goto("/definitions/order_fulfillment")
    assert page.query_selector("#start-form") is None
    assert "needs the operator role" in page.inner_text("#start-locked")
    page.goto("/incidents")
    assert page.query_selector("#retry-selected") is None and page.query_selector("button.retry-one") is None
    page.goto("/instances")
    assert page.query_selector("#bulk-form") is None
    assert page.query_selector("header nav a:has-text('Admin')") is None


def test_refused_start_input_stays_a_long_business_key_is_refused_and_one_wording_for_bad_json(page, live):
    live.engine.deploy([("user_registration.bpmn", REGISTRATION.read_bytes())])
    page.goto("/definitions/user_registration")
    assert page.get_attribute("#start-form input[name=business_key]", "maxlength") == "200"
    page.fill("#start-form input[name=business_key]", "mend-json")
    page.fill("#start-form textarea[name=variables]", '{"email": ')
    page.click("#start-form button[type=submit]")
    assert page.inner_text(".flash-error").startswith("The variables are not JSON: ")
    assert page.input_value("#start-form input[name=business_key]") == "mend-json"
    assert page.input_value("#start-form textarea[name=variables]") == '{"email": '

    # Past the field's maxlength (a script, another client): the engine refuses it, clearly.
    page.evaluate("document.querySelector('#start-form input[name=business_key]').removeAttribute('maxlength')")
    page.fill("#start-form input[name=business_key]", "k" * 5000)
    page.fill("#start-form textarea[name=variables]", json.dumps({"email": "x@example.org"}))
    page.click("#start-form button[type=submit]")
    assert page.inner_text(".flash-error") == "business key: at most 200 characters; this one has 5000"
    assert len(page.input_value("#start-form input[name=business_key]")) == 5000
    assert live.engine.find_instances()["total"] == 0
    api = httpx.post(f"{live.url}/api/v1/process-definitions/user_registration/start",
                     headers={"Authorization": f"Bearer {make_token(live.engine, 'operator')}"},
                     json={"business_key": "k" * 5000})
    assert api.status_code == 400 and "200" in api.text

    # The longest key allowed wraps in the list instead of widening the page.
    live.engine.start("user_registration", {"email": "y@example.org"}, business_key="k" * 200)
    page.goto("/instances")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_unknown_task_is_a_404_and_the_required_legend_only_with_a_required_field(page, live):
    response = page.goto("/tasks/00000000-0000-0000-0000-000000000000")
    assert response.status == 404
    assert "There is no open task with this id" in page.inner_text("main")
    page.click("main a.button:has-text('Open tasks')")
    page.wait_for_url("**/tasks")

    live.engine.deploy([("user_registration.bpmn", REGISTRATION.read_bytes()), ("expense_claim.bpmn", EXPENSE)])
    signup = live.engine.start("user_registration", {"email": "z@example.org"})
    [review] = live.engine.list_user_tasks(instance_id=signup)
    page.goto(f"/tasks/{review['id']}")
    page.wait_for_selector("#task-form")
    assert page.query_selector("#required-legend") is None  # its one field, a checkbox, is optional
    claim = live.engine.start("expense_claim", {"submitted_by": "ann"})
    [expense] = live.engine.list_user_tasks(instance_id=claim)
    page.goto(f"/tasks/{expense['id']}")
    assert page.inner_text("#required-legend").strip() == "* required"


def test_a_deploy_refusal_names_no_server_path_says_how_to_bind_and_draws_each_file(page, live, tmp_path):
    unbound = tmp_path / "unbound_order.bpmn"
    unbound.write_bytes(unbound_topic(ORDER.read_bytes()))
    page.goto("/definitions")
    page.fill("#deploy-form input[name=name]", "release 7")
    page.set_input_files("#deploy-form input[name=files]", [str(unbound), str(REGISTRATION)])
    page.click("#deploy-form button[type=submit]")
    row = page.wait_for_selector('#refusals tr.refusal[data-element-id="create_shipment"]')
    reason = row.inner_text()
    assert "[topics.nowhere]" in reason and "camunda:type=\"external\"" in reason
    assert str(ROOT) not in page.content() and "/processes/" not in page.content()
    assert "[topics.<topic>]" in page.inner_text("#deploy-form + .hint")
    assert page.input_value("#deploy-form input[name=name]") == "release 7"

    # One diagram per uploaded file, each drawing its own refusals.
    page.wait_for_selector('.refusal-preview[data-file="unbound_order.bpmn"] .refusal-diagram[data-ready]')
    page.wait_for_selector('.refusal-preview[data-file="user_registration.bpmn"] .refusal-diagram[data-ready]')
    assert len(page.query_selector_all(".refusal-preview")) == 2
    first = '.refusal-preview[data-file="unbound_order.bpmn"]'
    note = page.query_selector(f"{first} .baton-refusal").bounding_box()
    shape = page.query_selector(f'{first} .djs-element[data-element-id="create_shipment"] .djs-visual').bounding_box()
    assert note["y"] + note["height"] <= shape["y"] + 1, "the refusal covers its element and label"
    assert page.query_selector('.refusal-preview[data-file="user_registration.bpmn"] .baton-refusal') is None
    screenshot(page, "refusals-two-files.png")
    assert live.engine.list_definitions() == []
