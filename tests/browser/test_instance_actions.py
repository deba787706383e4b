"""The instance page through Chromium: a call activity's child instance linked both ways, sending
a message, suspend and resume; refusals are flash messages on the same page, input kept."""

from __future__ import annotations

from tests.browser.bpmn_builder import linear_bpmn
from tests.browser.conftest import markers, screenshot

CALLEE = linear_bpmn("score_customer", "Score customer", [
    ("startEvent", "score_start", "", ""),
    ("userTask", "check_score", 'name="Check the score"',
     '<bpmn:extensionElements><camunda:formData><camunda:formField id="score" label="Score" type="long">'
     '<camunda:validation><camunda:constraint name="required"/></camunda:validation></camunda:formField>'
     '</camunda:formData></bpmn:extensionElements>'),
    ("endEvent", "score_end", "", ""),
])

CALLER = linear_bpmn("onboard", "Onboard customer", [
    ("startEvent", "onboard_start", "", ""),
    ("callActivity", "get_score", 'name="Get the score" calledElement="score_customer"', ""),
    ("scriptTask", "decide", 'name="Decide" scriptFormat="python"', "<bpmn:script>vip = score &gt; 50</bpmn:script>"),
    ("endEvent", "onboard_end", "", ""),
])

AWAIT_PAYMENT = linear_bpmn("await_payment", "Await payment", [
    ("startEvent", "pay_start", "", ""),
    ("intermediateCatchEvent", "wait_paid", 'name="Payment received"',
     '<bpmn:messageEventDefinition messageRef="msg_paid"/>'),
    ("endEvent", "pay_end", "", ""),
], before='<bpmn:message id="msg_paid" name="PaymentReceived"/>')


def test_a_call_activity_links_to_its_child_instance_and_the_child_back_to_the_parent(page, live):
    live.engine.deploy([("score_customer.bpmn", CALLEE)])
    live.engine.deploy([("onboard.bpmn", CALLER)])  # another deployment
    parent_id = live.engine.start("onboard", business_key="cust-7")
    live.wait_for(lambda: bool(live.engine.get_instance(parent_id, history=False)["children"]), what="the child")
    [child] = live.engine.get_instance(parent_id, history=False)["children"]

    page.goto(f"/instances/{parent_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert "baton-active" in markers(page, "get_score")
    link = page.wait_for_selector(f'.djs-overlays[data-container-id="get_score"] a.baton-child-link'
                                  f'[data-child-id="{child["id"]}"]')
    assert "score_customer" in link.inner_text()
    row = page.wait_for_selector(f'#panel-children tr.child[data-child-id="{child["id"]}"]')
    assert "get_score" in row.inner_text() and "score_customer" in row.inner_text()
    screenshot(page, "instance_child_link.png")

    # On the diagram's call activity to the child; the child links back to its parent.
    link.click()
    page.wait_for_url(f"**/instances/{child['id']}")
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert page.get_attribute("#parent-link a", "href").endswith(f"/instances/{parent_id}")
    assert page.query_selector("#panel-children tr.child") is None

    # The child's user task, from its page; then the parent moves on.
    page.click("#panel-actions a:has-text('Check the score')")
    page.fill("#field-score", "70")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    page.goto(f"/instances/{child['id']}")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.click("#parent-link a")
    page.wait_for_url(f"**/instances/{parent_id}")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.wait_for_selector(f'#panel-children tr.child[data-child-id="{child["id"]}"] .status-completed')
    assert "baton-completed" in markers(page, "decide")
    assert live.engine.get_instance(parent_id)["variables"]["vip"] is True
    assert live.console_errors == []


def test_send_a_message_suspend_and_resume_from_the_instance_page(page, live):
    live.engine.deploy([("await_payment.bpmn", AWAIT_PAYMENT)])
    instance_id = live.engine.start("await_payment", business_key="pay-1")
    live.wait_for(lambda: live.status(instance_id) == "waiting", what="the wait for the payment")
    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-ready]")

    # A message nobody waits for: refused on the same page, the input still in the form.
    page.click("details.send-message summary")
    page.fill("#message-form input[name=name]", "PaymentRecieved")
    page.fill("#message-form textarea[name=variables]", '{"paid": 12}')
    page.click("#message-form button[type=submit]")
    assert "matches no waiting instance" in page.inner_text(".flash-error")
    assert page.query_selector("#instance-page") is not None
    assert page.input_value("#message-form input[name=name]") == "PaymentRecieved"
    assert page.input_value("#message-form textarea[name=variables]") == '{"paid": 12}'
    page.fill("#message-form textarea[name=correlation]", "{not json")
    page.click("#message-form button[type=submit]")
    assert "correlation keys are not JSON" in page.inner_text(".flash-error")
    assert page.input_value("#message-form textarea[name=correlation]") == "{not json"

    # Suspended: the message does not reach it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#suspend")
    assert "Instance suspended" in page.inner_text(".flash-ok")
    page.wait_for_selector('#instance-status[data-status="suspended"]')
    page.click("details.send-message summary")
    page.fill("#message-form input[name=name]", "PaymentReceived")
    page.fill("#message-form textarea[name=correlation]", "")
    page.click("#message-form button[type=submit]")
    assert "Message not sent" in page.inner_text(".flash-error")
    screenshot(page, "instance_actions.png")
    assert live.status(instance_id) == "suspended"

    assert page.input_value("#message-form input[name=name]") == "PaymentReceived"  # kept

    # Resumed: the message is delivered, the instance completes.
    page.click("#resume")
    assert "Instance resumed" in page.inner_text(".flash-ok")
    page.click("details.send-message summary")
    page.fill("#message-form input[name=name]", "PaymentReceived")
    page.fill("#message-form textarea[name=variables]", '{"paid": 12}')
    page.click("#message-form button[type=submit]")
    assert "Message PaymentReceived delivered to this instance" in page.inner_text(".flash-ok")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.wait_for_selector('.djs-element[data-element-id="pay_end"].baton-completed')
    assert live.engine.get_instance(instance_id)["variables"]["paid"] == 12
    assert page.query_selector("#suspend") is None and page.query_selector("#message-form") is None
    assert live.console_errors == []
