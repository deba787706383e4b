"""A DMN decision table on its page, with the rule each evaluation matched highlighted.

``tests/diagrams/shipping_cost.bpmn`` prices a shipment with SpiffWorkflow's tutorial decision
``shipping_costs`` (a Camunda Modeler DMN with a DRD, from ../shared/bpmn); two instances
evaluate it, one per rule. The decision page draws the table with dmn-js and highlights the rule
of the evaluation picked from the list; the API says the same for a viewer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth_helpers import make_token
from tests.browser.conftest import Live, screenshot
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(90)

DIAGRAM = ROOT / "tests" / "diagrams" / "shipping_cost.bpmn"
DMN = ROOT.parent / "shared" / "bpmn" / "spiffarena" / "sartography__spiff-example-cli" / "bpmn" / "tutorial" / \
    "shipping_costs.dmn"
STANDARD, OVERNIGHT = "DecisionRule_1hgbw82", "DecisionRule_03844nt"  # rows 1 and 2 of the table


def highlighted(page: Any) -> set[str]:
    cells = page.locator("#decision-table td.baton-matched")
    return {cells.nth(i).get_attribute("data-row-id") for i in range(cells.count())}


def test_the_decision_page_highlights_the_rule_each_evaluation_matched(page: Any, live: Live) -> None:
    engine = live.engine
    engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes()), (DMN.name, DMN.read_bytes())])
    standard = engine.start("shipping_cost", {"shipping_method": "standard"})
    overnight = engine.start("shipping_cost", {"shipping_method": "overnight"})
    assert engine.get_instance(overnight, history=False)["variables"]["shipping_cost"] == 25

    page.goto("/decisions")
    page.click('#decision-list a:text-is("shipping_costs")')
    page.wait_for_selector("#decision-table[data-ready]")
    # the newest evaluation is shown first: overnight, row 2
    assert highlighted(page) == {OVERNIGHT}
    assert page.get_attribute("#decision-table", "data-highlighted") == "1"
    assert "rule 2 matched" in page.inner_text("#evaluation-summary")
    screenshot(page, "decision-table.png")

    # the other evaluation, picked from the list: standard, row 1
    page.click(f'#evaluations tr.evaluation[data-instance-id="{standard}"] td a >> nth=0')
    page.wait_for_selector("#decision-table[data-ready]")
    assert highlighted(page) == {STANDARD}
    assert page.locator("#evaluations tr.selected").get_attribute("data-instance-id") == standard
    assert "shipping_method=\"standard\"" in page.inner_text("#evaluation-summary")
    assert live.console_errors == []

    headers = {"Authorization": f"Bearer {make_token(engine, 'viewer')}"}
    doc = httpx.get(f"{live.url}/api/v1/decisions/shipping_costs", headers=headers).json()
    assert {e["instance_id"]: e["rules"] for e in doc["evaluations"]} == {standard: [STANDARD],
                                                                         overnight: [OVERNIGHT]}
    assert "<decision id=\"shipping_costs\"" in doc["xml"]
    missing = httpx.get(f"{live.url}/api/v1/decisions/no_such_decision", headers=headers)
    assert missing.status_code == 404 and "no_such_decision" in missing.json()["detail"]


def test_an_evaluation_is_shown_on_the_table_of_the_version_it_used(page: Any, live: Live) -> None:
    engine = live.engine
    engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes()), (DMN.name, DMN.read_bytes())])
    old = engine.start("shipping_cost", {"shipping_method": "overnight"})  # v1: overnight costs 25
    engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes()),
                   (DMN.name, DMN.read_bytes().replace(b"<text>25.00</text>", b"<text>30.00</text>"))])
    new = engine.start("shipping_cost", {"shipping_method": "standard"})

    page.goto("/decisions/shipping_costs")  # the newest evaluation, on the table it used: v2
    page.wait_for_selector("#decision-table[data-ready]")
    assert page.get_attribute("#decision-versions", "data-version") == "2"
    assert "30.00" in page.inner_text("#decision-table") and highlighted(page) == {STANDARD}
    assert page.locator(f'#evaluations tr[data-instance-id="{new}"] td.decision-version').inner_text() == "v2"

    page.click(f'#evaluations tr.evaluation[data-instance-id="{old}"] td a >> nth=0')
    page.wait_for_selector("#decision-table[data-ready]")
    assert page.get_attribute("#decision-versions", "data-version") == "1"
    table = page.inner_text("#decision-table")
    assert "25.00" in table and "30.00" not in table and highlighted(page) == {OVERNIGHT}
    screenshot(page, "decision-table-old-version.png")

    page.click('#decision-versions a:text-is("v2")')  # the switcher: v2's table, its newest evaluation
    page.wait_for_selector("#decision-table[data-ready]")
    assert page.get_attribute("#decision-versions", "data-version") == "2"
    assert "30.00" in page.inner_text("#decision-table") and highlighted(page) == {STANDARD}
    assert live.console_errors == []
