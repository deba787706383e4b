"""A SpiffArena JSON Schema form drawn in the browser by json-editor (web/static/schema_form.js)
from the schema and UI schema deployed with the diagram (tests/diagrams/spiff_expense), and the
server judging what it posts against the same schema."""

from __future__ import annotations

from tests.browser.conftest import screenshot
from tests.conftest import ROOT

EXPENSE = ROOT / "tests" / "diagrams" / "spiff_expense"


def field(name: str, inner: str = "input") -> str:
    """A json-editor control of a top-level property."""
    return f'#schema-form [data-schemapath="root.{name}"] {inner}'


def test_a_json_schema_form_in_the_browser_is_judged_by_the_server_and_keeps_the_input(page, live):
    live.engine.deploy([(p.name, p.read_bytes()) for p in sorted(EXPENSE.iterdir())])
    instance_id = live.engine.start("spiff_expense_claim", {"employee": "Ada", "amount": 40})
    [task] = live.engine.list_user_tasks(instance_id=instance_id)
    page.goto(f"/tasks/{task['id']}")
    page.wait_for_selector("#schema-form[data-ready]")

    # Drawn from the deployed files: the UI schema's order ("*" for the rest), title, help,
    # placeholder, radio and textarea widgets, read-only; prefilled from the task's data.
    paths = page.eval_on_selector_all('#schema-form [data-schemapath^="root."]',
                                      "els => els.map(e => e.dataset.schemapath)")
    assert paths == ["root.employee", "root.amount", "root.cost_centre", "root.category", "root.urgent",
                     "root.note"]  # "*": the rest in the file's order
    assert page.input_value(field("employee")) == "Ada" and page.is_disabled(field("employee"))
    assert page.input_value(field("amount")) == "40"
    assert page.get_attribute(field("cost_centre"), "placeholder") == "CC-0000"
    assert "as on the budget sheet" in page.inner_text(field("cost_centre", ".hint"))
    assert "Anything accounting should know" in page.inner_text(field("note", "label"))
    assert page.eval_on_selector(field("note", "textarea"), "el => el.tagName") == "TEXTAREA"
    assert not any(r.is_checked() for r in page.query_selector_all(field("category", "input[type=radio]")))
    assert page.query_selector('.form-field[data-field="amount"]') is None  # the server-rendered fallback
    assert "Claim for" in page.inner_text(".form-text")  # the instructions stay

    # The browser hints as one types, but posts anyway: the server is the judge.
    page.fill(field("amount"), "0")
    page.fill(field("cost_centre"), "CC-12")
    page.check(field("category", 'input[value="food"]'))
    page.check(field("urgent"))
    page.fill(field("note", "textarea"), "Taxi from the airport")
    page.wait_for_selector(field("amount", ".errmsg"))
    page.click("#complete")
    page.wait_for_selector("#schema-form[data-ready] #error-amount")
    assert page.inner_text("#error-amount") == "0 is less than the minimum of 1"
    assert page.inner_text("#error-cost_centre") == "'CC-12' does not match '^CC-[0-9]{4}$'"
    assert page.query_selector("#error-note") is None
    assert page.input_value(field("amount")) == "0" and page.input_value(field("cost_centre")) == "CC-12"
    assert page.is_checked(field("category", 'input[value="food"]')) and page.is_checked(field("urgent"))
    assert page.input_value(field("note", "textarea")) == "Taxi from the airport"
    assert "Nothing was submitted" in page.inner_text(".flash-error")
    assert live.engine.get_user_task(task["id"])["id"] == task["id"]  # still open
    screenshot(page, "schema_form_refused.png")

    page.fill(field("amount"), "250")
    page.wait_for_selector("#error-amount", state="hidden")  # a fixed field drops the server's word
    page.fill(field("cost_centre"), "CC-1234")
    page.click("#complete")
    page.wait_for_url("**/tasks")
    assert "Completed Enter the expense claim" in page.inner_text(".flash-ok")
    doc = live.engine.get_instance(instance_id, history=False)
    assert doc["status"] == "waiting"
    assert doc["variables"] == {"employee": "Ada", "amount": 250, "cost_centre": "CC-1234", "category": "food",
                                "urgent": True, "note": "Taxi from the airport", "booked": 250}
    assert [t["element_id"] for t in live.engine.list_user_tasks(instance_id=instance_id)] == ["file_receipt"]
    refused = "Failed to load resource: the server responded with a status of 422"
    assert [e for e in live.console_errors if not e.startswith(refused)] == []  # no CSP refusal either
