"""What a decision table decided is recorded per evaluation, and a changed table is deployed.

``tests/diagrams/shipping_cost.bpmn`` with SpiffWorkflow's tutorial decision ``shipping_costs``
(../shared/bpmn). Through the engine's public face: each evaluation's history row names the rule
that matched (id and row) and the inputs; ``get_decision`` lists them newest first with the DMN
as deployed; the same diagram deployed with a changed table is a new version (it was answered
"unchanged"), and the new table is the latest, which every diagram's task then runs.
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
    [definition] = bare_engine.list_definitions()[0]["versions"]
    assert row["details"]["decision"] == {
        "table_id": "DecisionTable_1ywyzrl", "table_name": "", "hit_policy": "UNIQUE",
        "rules": ["DecisionRule_03844nt"], "rows": [2], "inputs": {"shipping_method": "overnight"},
        "decision_id": "shipping_costs", "version": 1,  # the version that decided, found when the task ran
        "deployment_id": bare_engine.list_deployments()["items"][0]["id"], "definition_id": definition["id"]}

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
    newest = bare_engine.get_decision("shipping_costs")
    assert "<text>30.00</text>" in newest["xml"] and newest["version"] == 2
    assert [v["version"] for v in newest["versions"]] == [1, 2]
    assert "<text>25.00</text>" in bare_engine.get_decision("shipping_costs", 1)["xml"]
    with pytest.raises(NotFound, match="no version 3"):
        bare_engine.get_decision("shipping_costs", 3)
    # the diagram's version 1 binds the latest decision when its task runs (Camunda 7's default)
    old = bare_engine.start("shipping_cost", {"shipping_method": "overnight"}, version=1)
    assert bare_engine.get_instance(old, history=False)["variables"]["shipping_cost"] == 30
    assert [(e["instance_id"], e["decision_version"]) for e in newest["evaluations"]] == [(instance, 2)]
    assert [(e["instance_id"], e["decision_version"]) for e in bare_engine.get_decision("shipping_costs")
            ["evaluations"]] == [(old, 2), (instance, 2)]  # each on the table it ran
    assert first.version == 1


# A decision graph as Camunda Modeler writes it: the evaluated table and its rules carry no ids.
# (The real ../shared/bpmn dinnerDecisions.dmn uses FEEL `true` in a unary test, which Baton's
# DMN evaluation does not read yet; the shape is the same.)
DINNER_DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dinner" name="Dinner"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="beverages" name="Beverages">
    <informationRequirement id="req1"><requiredDecision href="#dish"/></informationRequirement>
    <decisionTable hitPolicy="UNIQUE">
      <input label="Dish"><inputExpression typeRef="string"><text>desiredDish</text></inputExpression></input>
      <output label="Beverage" name="beverage" typeRef="string"/>
      <rule><inputEntry><text>"Roastbeef"</text></inputEntry><outputEntry><text>"Bordeaux"</text></outputEntry></rule>
      <rule><inputEntry><text>"Salad"</text></inputEntry><outputEntry><text>"Water"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="dish" name="Dish">
    <decisionTable id="dishTable" hitPolicy="UNIQUE">
      <input id="in1" label="Season">
        <inputExpression id="ie1" typeRef="string"><text>season</text></inputExpression></input>
      <output id="out1" label="Dish" name="desiredDish" typeRef="string"/>
      <rule id="winter"><inputEntry id="e1"><text>"Winter"</text></inputEntry>
        <outputEntry id="o1"><text>"Roastbeef"</text></outputEntry></rule>
      <rule id="summer"><inputEntry id="e2"><text>"Summer"</text></inputEntry>
        <outputEntry id="o2"><text>"Salad"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""
DINNER_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="dinner" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="choose_beverage" camunda:decisionRef="beverages"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose_beverage"/>
    <bpmn:sequenceFlow id="f2" sourceRef="choose_beverage" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_decision_graph_shows_each_decision_and_the_evaluated_ones_rows(bare_engine) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("dinner.bpmn", DINNER_BPMN), ("dinner.dmn", DINNER_DMN)])
    summer = bare_engine.start("dinner", {"season": "Summer"})
    assert bare_engine.get_instance(summer, history=False)["variables"]["beverage"] == "Water"
    assert [d["decision_id"] for d in bare_engine.list_decisions()] == ["beverages", "dish"]
    beverages = bare_engine.get_decision("beverages")
    assert beverages["table_id"] == "beverages_decisionTable_0"  # as the run names a table without id
    [evaluation] = beverages["evaluations"]
    assert (evaluation["instance_id"], evaluation["rows"]) == (summer, [2])  # the page finds rules by row
    assert bare_engine.get_decision("dish")["evaluations"] == []  # required first, not the task's own


def test_a_deployments_dmn_file_is_linked_and_downloads_as_deployed(bare_engine) -> None:  # type: ignore[no-untyped-def]
    from tests.auth_helpers import login
    from web import create_app

    deploy(bare_engine, DMN.read_bytes())
    client = create_app(bare_engine.settings, engine=bare_engine).test_client()
    login(client, "admin")
    [deployment] = bare_engine.list_deployments()["items"]
    assert deployment["decisions"] == [{"decision_id": "shipping_costs", "name": "Shipping Costs", "file": DMN.name}]
    assert bare_engine.get_deployment(deployment["id"])["decisions"] == deployment["decisions"]

    page = client.get("/admin/deployments").get_data(as_text=True)
    link = f"/deployments/{deployment['id']}/files/{DMN.name}"
    assert f'href="{link}"' in page and f'href="/deployments/{deployment["id"]}/files/{DIAGRAM.name}"' in page
    assert 'href="/decisions/shipping_costs"' in page
    downloaded = client.get(link)
    assert downloaded.status_code == 200 and downloaded.data == DMN.read_bytes()
    assert f"filename*=UTF-8''{DMN.name}" in downloaded.headers["Content-Disposition"]
    assert client.get(f"/deployments/{deployment['id']}/files/other.dmn").status_code == 404

    bare_engine.delete_deployment(deployment["id"])  # no instance: its decisions go with it
    assert bare_engine.list_decisions() == []
