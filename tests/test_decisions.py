"""What a decision table decided is recorded per evaluation, and a changed table is deployed.

``tests/diagrams/shipping_cost.bpmn`` with SpiffWorkflow's tutorial decision ``shipping_costs``
(../shared/bpmn). Through the engine's public face: each evaluation's history row names the rule
that matched (id and row) and the inputs; ``get_decision`` lists them newest first with the DMN
as deployed; the same diagram deployed with a changed table is a new version that runs the new
table (it was answered "unchanged" and the old table kept running).
"""

from __future__ import annotations

import pytest

from engine import NotFound
from tests.conftest import ROOT

DIAGRAM = ROOT / "tests" / "diagrams" / "shipping_cost.bpmn"
DMN = ROOT.parent / "shared" / "bpmn" / "spiffarena" / "sartography__spiff-example-cli" / "bpmn" / "tutorial" / \
    "shipping_costs.dmn"


def deploy(engine, dmn: bytes):  # type: ignore[no-untyped-def]
    return engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes()), (DMN.name, dmn)])


def test_each_evaluation_records_the_rule_that_matched(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy(bare_engine, DMN.read_bytes())
    standard = bare_engine.start("shipping_cost", {"shipping_method": "standard"})
    overnight = bare_engine.start("shipping_cost", {"shipping_method": "overnight"})
    [row] = [h for h in bare_engine.get_instance(overnight)["history"]
             if h["element_id"] == "price_shipping" and h["event"] == "completed"]
    assert row["details"]["decision"] == {
        "table_id": "DecisionTable_1ywyzrl", "table_name": "", "hit_policy": "UNIQUE",
        "rules": ["DecisionRule_03844nt"], "rows": [2], "inputs": {"shipping_method": "overnight"}}

    decision = bare_engine.get_decision("shipping_costs")
    assert decision["name"] == "Shipping Costs" and decision["xml"] == DMN.read_text()
    assert [(e["instance_id"], e["rules"]) for e in decision["evaluations"]] == [
        (overnight, ["DecisionRule_03844nt"]), (standard, ["DecisionRule_1hgbw82"])]
    assert bare_engine.list_decisions() == [{"decision_id": "shipping_costs", "name": "Shipping Costs",
                                             "file_name": DMN.name, "versions": 1,
                                             "deployed_at": decision["deployed_at"]}]
    with pytest.raises(NotFound, match="no decision 'pricing'"):
        bare_engine.get_decision("pricing")


def test_the_same_diagram_with_a_changed_table_is_a_new_version(bare_engine) -> None:  # type: ignore[no-untyped-def]
    [first] = deploy(bare_engine, DMN.read_bytes())
    [again] = deploy(bare_engine, DMN.read_bytes())
    assert (again.version, again.created) == (1, False)
    [changed] = deploy(bare_engine, DMN.read_bytes().replace(b"<text>25.00</text>", b"<text>30.00</text>"))
    assert (changed.version, changed.created) == (2, True)
    instance = bare_engine.start("shipping_cost", {"shipping_method": "overnight"})
    assert bare_engine.get_instance(instance, history=False)["variables"]["shipping_cost"] == 30
    assert "<text>30.00</text>" in bare_engine.get_decision("shipping_costs")["xml"]
    assert first.version == 1
