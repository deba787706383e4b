"""User tasks through Chromium: the task list, claiming, a form that refuses bad input without
losing it, the JSON editor of a task without a form, and the instance moving on."""

from __future__ import annotations

import json

from tests.auth_helpers import make_user
from tests.browser.bpmn_builder import linear_bpmn
from tests.browser.conftest import markers, screenshot, sign_in
from tests.conftest import PROCESSES

FORM = """<bpmn:extensionElements><camunda:formData>
  <camunda:formField id="employee" label="Employee" type="string">
    <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="minlength" config="2"/>
    </camunda:validation></camunda:formField>
  <camunda:formField id="amount" label="Amount (EUR)" type="long">
    <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="min" config="1"/>
      <camunda:constraint name="max" config="5000"/></camunda:validation></camunda:formField>
  <camunda:formField id="category" label="Category" type="enum" defaultValue="travel">
    <camunda:value id="travel" name="Travel"/><camunda:value id="food" name="Food"/>
    <camunda:value id="office" name="Office supplies"/></camunda:formField>
  <camunda:formField id="spent_on" label="Spent on" type="date">
    <camunda:validation><camunda:constraint name="required"/></camunda:validation></camunda:formField>
  <camunda:formField id="note" label="Note for accounting" type="string"/>
  <camunda:formField id="approved" label="Approve the claim" type="boolean" defaultValue="true"/>
</camunda:formData></bpmn:extensionElements>"""

EXPENSE = linear_bpmn("expense_claim", "Expense claim", [
    ("startEvent", "claim_submitted", 'name="Claim submitted"', ""),
    ("userTask", "approve", 'name="Approve expense claim" camunda:candidateGroups="finance, managers"', FORM),
    ("scriptTask", "book", 'name="Book the expense" scriptFormat="python"',
     "<bpmn:script>booked = approved and amount &lt;= 5000</bpmn:script>"),
    ("userTask", "file_receipt", 'name="File the receipt" camunda:assignee="alice"', ""),
    ("endEvent", "claim_done", 'name="Claim done"', ""),
])


def js_errors(live) -> list[str]:  # type: ignore[no-untyped-def]
    """Console errors, less Chromium's note on each refused form (answered 422/409 on purpose)."""
    return [e for e in live.console_errors if not e.startswith(("Failed to load resource: the server responded "
                                                                "with a status of 422", "Failed to load resource: "
                                                                "the server responded with a status of 409"))]


def flash(page, kind: str = "ok") -> str:  # type: ignore[no-untyped-def]
    return page.inner_text(f".flash-{kind}")


def test_a_form_task_from_the_task_list_refuses_bad_input_keeps_it_and_completes(page, live):
    live.engine.deploy([("expense_claim.bpmn", EXPENSE)])
    first = live.engine.start("expense_claim", {"submitted_by": "ann"}, business_key="exp-100")
    page.context.clear_cookies()  # ann, an operator, works the tasks (not the page's admin)
    sign_in(page, make_user(live.engine, "operator", "ann"))
    page.goto("/")
    page.click("header nav a:has-text('Tasks')")
    page.wait_for_url("**/tasks")
    [task] = live.engine.list_user_tasks(instance_id=first)
    row = f'tr[data-task-id="{task["id"]}"]'
    assert "exp-100" in page.inner_text(row) and "Approve expense claim" in page.inner_text(row)

    # The list follows new tasks without a reload.
    second = live.engine.start("expense_claim", {"submitted_by": "bob"}, business_key="exp-101")
    page.wait_for_selector('#live-tasks tr:has-text("exp-101")')
    [other] = live.engine.list_user_tasks(instance_id=second)

    # Filters: candidate group and user.
    page.fill("#task-filters input[name=group]", "sales")
    page.click("#task-filters button[type=submit]")
    assert "No open task matches" in page.inner_text("#live-tasks")
    page.fill("#task-filters input[name=group]", "finance")
    page.click("#task-filters button[type=submit]")
    assert page.inner_text("#task-total") == "2"

    # ann claims the first, takes the second and gives it back.
    assert page.get_attribute("#me", "data-user") == "ann"
    page.click(f"{row} button.claim")
    assert "You claimed Approve expense claim" in flash(page)
    assert "group=finance" in page.url  # back on the same filtered list
    assert page.inner_text(f"{row} td.claimed-by") == "ann"
    page.click(f'tr[data-task-id="{other["id"]}"] button.claim')
    page.click(f'tr[data-task-id="{other["id"]}"] button.unclaim')
    assert "open to its candidates again" in flash(page)
    assert live.engine.get_user_task(other["id"])["claimed_by"] is None
    screenshot(page, "tasks.png")
    page.click("#my-tasks")
    assert page.inner_text("#task-total") == "1"

    # The form: defaults filled, required fields marked, input types per field type.
    page.click(f"{row} a.open-task")
    page.wait_for_url(f"**/tasks/{task['id']}")
    assert page.input_value("#field-category") == "travel" and page.is_checked("#field-approved")
    for required in ("employee", "amount", "spent_on"):
        assert page.query_selector(f'.form-field[data-field="{required}"] .req'), required
    assert page.query_selector('.form-field[data-field="note"] .req') is None
    assert page.get_attribute("#field-spent_on", "type") == "date"
    assert page.eval_on_selector("#field-category", "el => el.tagName") == "SELECT"

    # Bad input: each field says what is wrong, and everything typed is still there.
    page.fill("#field-employee", "A")
    page.fill("#field-amount", "12000")
    page.select_option("#field-category", "food")
    page.fill("#field-spent_on", "2026-03-14")
    page.fill("#field-note", "taxi to the airport")
    page.click("#complete")
    page.wait_for_selector("#error-amount")
    assert page.inner_text("#error-amount") == "must be at most 5000"
    assert page.inner_text("#error-employee") == "must have at least 2 characters"
    assert page.query_selector("#error-spent_on") is None
    assert page.get_attribute("#field-amount", "aria-invalid") == "true"
    kept = {f: page.input_value(f"#field-{f}") for f in ("employee", "amount", "category", "spent_on", "note")}
    assert kept == {"employee": "A", "amount": "12000", "category": "food", "spent_on": "2026-03-14",
                    "note": "taxi to the airport"}
    assert page.is_checked("#field-approved")
    assert "Nothing was submitted" in flash(page, "error")
    assert live.engine.get_user_task(task["id"])["id"] == task["id"]  # still open
    screenshot(page, "task_form.png")

    # Fixed: completed, back on the list with a flash, the task gone from it.
    page.fill("#field-employee", "Ann Lee")
    page.fill("#field-amount", "120")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert "Completed Approve expense claim" in flash(page)
    assert page.query_selector(row) is None

    # The instance moved on: the form's values are its variables, the next task waits.
    page.goto(f"/instances/{first}")
    page.wait_for_selector("#instance-diagram[data-ready]")
    assert "baton-completed" in markers(page, "approve") and "baton-completed" in markers(page, "book")
    assert "baton-active" in markers(page, "file_receipt")
    variables = live.engine.get_instance(first)["variables"]
    assert {k: variables[k] for k in ("employee", "amount", "category", "spent_on", "approved", "booked")} == {
        "employee": "Ann Lee", "amount": 120, "category": "food", "spent_on": "2026-03-14", "approved": True,
        "booked": True}
    assert js_errors(live) == []


def test_a_task_without_a_form_is_a_json_editor_that_keeps_bad_json(page, live):
    live.engine.deploy([("expense_claim.bpmn", EXPENSE)])
    instance_id = live.engine.start("expense_claim", business_key="exp-200")
    [approve] = live.engine.list_user_tasks(instance_id=instance_id)
    live.engine.complete_user_task_by_id(approve["id"], {"employee": "Bo", "amount": "30", "spent_on": "2026-01-02",
                                                         "approved": True})
    live.wait_for(lambda: [t["element_id"] for t in live.engine.list_user_tasks(instance_id=instance_id)]
                  == ["file_receipt"], what="the receipt task")

    # From the instance page to the task's page.
    page.goto(f"/instances/{instance_id}")
    page.click("#panel-actions a:has-text('File the receipt')")
    page.wait_for_selector("#field-variables")
    assert page.query_selector(".form-fields") is None

    page.fill("#field-variables", '{"receipt": "R-77",')
    page.click("#complete")
    assert "The variables are not JSON" in page.inner_text("#error-variables")
    assert page.input_value("#field-variables") == '{"receipt": "R-77",'
    page.fill("#field-variables", '["R-77"]')
    page.click("#complete")
    assert "must be a JSON object" in page.inner_text("#error-variables")
    page.fill("#field-variables", json.dumps({"receipt": "R-77"}))
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert "Completed File the receipt; the instance is completed" in flash(page)

    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    assert live.engine.get_instance(instance_id)["variables"]["receipt"] == "R-77"
    assert js_errors(live) == []


def test_user_registration_review_through_the_ui_and_the_instance_moves_on(page, live):
    live.engine.deploy([("user_registration.bpmn", (PROCESSES / "user_registration.bpmn").read_bytes())])
    instance_id = live.engine.start("user_registration", {"email": "cy@example.org"}, business_key="signup-cy")
    page.goto("/tasks")
    page.click('#live-tasks tr:has-text("signup-cy") a.open-task')
    assert page.get_attribute("#field-approved", "type") == "checkbox"
    assert not page.is_checked("#field-approved")
    page.check("#field-approved")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert "Completed Review application" in flash(page)

    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector('#instance-status[data-status="completed"]')
    page.wait_for_selector('.djs-element[data-element-id="user_registered"].baton-completed')
    assert "baton-completed" in markers(page, "create_account")
    assert js_errors(live) == []


def test_the_instance_pages_quick_completion_is_checked_against_the_form_too(page, live):
    live.engine.deploy([("expense_claim.bpmn", EXPENSE)])
    instance_id = live.engine.start("expense_claim", business_key="exp-300")
    page.goto(f"/instances/{instance_id}")
    page.fill(".complete-task textarea[name=variables]", '{"amount": "lots"}')
    page.click(".complete-task button[type=submit]")
    refusal = page.inner_text(".flash-error")
    assert "employee is required" in refusal and "amount must be a whole number" in refusal
    assert page.input_value(".complete-task textarea[name=variables]") == '{"amount": "lots"}'
    assert [t["element_id"] for t in live.engine.list_user_tasks(instance_id=instance_id)] == ["approve"]

    page.fill(".complete-task textarea[name=variables]",
              json.dumps({"employee": "Di", "amount": "75", "spent_on": "2026-02-01", "approved": True}))
    page.click(".complete-task button[type=submit]")
    assert "Completed approve" in page.inner_text(".flash-ok")
    assert live.engine.get_instance(instance_id)["variables"]["amount"] == 75  # converted by the form
    page.wait_for_selector('.djs-element[data-element-id="file_receipt"].baton-active')
    assert js_errors(live) == []


def test_a_task_claimed_by_someone_else_is_not_completed_and_the_input_stays(page, live):
    live.engine.deploy([("expense_claim.bpmn", EXPENSE)])
    instance_id = live.engine.start("expense_claim", business_key="exp-400")
    [task] = live.engine.list_user_tasks(instance_id=instance_id)
    live.engine.claim_user_task(task["id"], "bob")
    page.goto(f"/tasks/{task['id']}")
    assert page.inner_text("#task-claimed") == "claimed by bob"
    page.fill("#field-employee", "Eve")
    page.fill("#field-amount", "10")
    page.fill("#field-spent_on", "2026-04-01")
    page.click("#complete")
    assert "claimed by bob" in page.inner_text(".flash-error")
    assert page.input_value("#field-employee") == "Eve" and page.input_value("#field-amount") == "10"
    assert live.engine.get_user_task(task["id"])["claimed_by"] == "bob"

    # An admin may give it back; then it completes.
    page.goto("/tasks")
    page.click(f'tr[data-task-id="{task["id"]}"] button.unclaim')
    assert "open to its candidates again" in page.inner_text(".flash-ok")
    page.click(f'tr[data-task-id="{task["id"]}"] a.open-task')
    page.fill("#field-employee", "Eve")
    page.fill("#field-amount", "10")
    page.fill("#field-spent_on", "2026-04-01")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert "Completed Approve expense claim" in page.inner_text(".flash-ok")
    assert js_errors(live) == []
