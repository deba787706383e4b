"""A decision table deployed with the diagram drives a gateway; no matching rule is an incident."""

from __future__ import annotations

import pytest

CREDIT_DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="credit_defs" name="Credit"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="credit_route" name="Credit route">
    <decisionTable id="credit_table" hitPolicy="UNIQUE">
      <input id="in_amount" label="Amount">
        <inputExpression id="ie_amount" typeRef="number"><text>amount</text></inputExpression>
      </input>
      <input id="in_tier" label="Tier">
        <inputExpression id="ie_tier" typeRef="string"><text>tier</text></inputExpression>
      </input>
      <output id="out_route" label="Route" name="route" typeRef="string"/>
      <rule id="small"><inputEntry id="small_a"><text>&lt;= 1000</text></inputEntry>
        <inputEntry id="small_t"><text>? in ("gold", "silver")</text></inputEntry>
        <outputEntry id="small_o"><text>"auto"</text></outputEntry></rule>
      <rule id="gold_big"><inputEntry id="big_a"><text>&gt; 1000</text></inputEntry>
        <inputEntry id="big_t"><text>"gold"</text></inputEntry>
        <outputEntry id="big_o"><text>"auto"</text></outputEntry></rule>
      <rule id="silver_big"><inputEntry id="sb_a"><text>&gt; 1000</text></inputEntry>
        <inputEntry id="sb_t"><text>"silver"</text></inputEntry>
        <outputEntry id="sb_o"><text>"review"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

CREDIT_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="credit" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="route_credit" camunda:decisionRef="credit_route"/>
    <bpmn:exclusiveGateway id="which_route"/>
    <bpmn:scriptTask id="approve" scriptFormat="python"><bpmn:script>approved = True</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review credit"/>
    <bpmn:endEvent id="end_auto"/>
    <bpmn:endEvent id="end_review"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route_credit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route_credit" targetRef="which_route"/>
    <bpmn:sequenceFlow id="to_auto" sourceRef="which_route" targetRef="approve">
      <bpmn:conditionExpression>route == "auto"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_review" sourceRef="which_route" targetRef="review">
      <bpmn:conditionExpression>route == "review"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="approve" targetRef="end_auto"/>
    <bpmn:sequenceFlow id="f6" sourceRef="review" targetRef="end_review"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("credit.bpmn", CREDIT_BPMN), ("credit.dmn", CREDIT_DMN)])
    return bare_engine


@pytest.mark.parametrize(("amount", "tier", "status", "route"), [
    (500, "silver", "completed", "auto"),
    (5000, "gold", "completed", "auto"),
    (5000, "silver", "waiting", "review"),
])
def test_the_decision_drives_the_gateway(engine, amount, tier, status, route):  # type: ignore[no-untyped-def]
    doc = engine.get_instance(engine.start("credit", {"amount": amount, "tier": tier}))
    assert doc["status"] == status and doc["variables"]["route"] == route


def test_no_matching_rule_is_a_clear_incident(engine):
    doc = engine.get_instance(engine.start("credit", {"amount": 5000, "tier": "bronze"}))
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "route_credit"
    assert "decision 'credit_table' matched no rule (hit policy UNIQUE)" in incident["message"]
    assert "Tier='bronze'" in incident["message"] and "5000" in incident["message"]
