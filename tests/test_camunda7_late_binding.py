"""A DMN file deployed alone, as Camunda 7 (and Camunda Modeler's Deploy on a DMN tab) deploys it:
its decisions are kept and listed, an identical redeploy makes no new version, and a diagram
deployed later names one of them in camunda:decisionRef and runs it.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError
from tests.conftest import SHARED

DINNER = SHARED / "bpmn/camunda/dmn-engine__dmn-engine-drgorg__camunda__bpm__example__drg__dinnerDecisions.dmn"

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="dinner" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="%s"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

if not DINNER.is_file():
    pytest.skip("the reference corpus is missing", allow_module_level=True)


def test_a_dmn_file_alone_deploys_and_a_later_diagram_runs_its_decision(bare_engine):  # type: ignore[no-untyped-def]
    engine = bare_engine
    results = engine.deploy([(DINNER.name, DINNER.read_bytes())])
    assert sorted(r.describe() for r in results) == ["deployed decision beverages v1", "deployed decision dish v1"]
    assert {d["decision_id"] for d in engine.list_decisions()} == {"beverages", "dish"}
    again = engine.deploy([(DINNER.name, DINNER.read_bytes())])
    assert sorted(r.describe() for r in again) == ["unchanged decision beverages v1", "unchanged decision dish v1"]

    engine.deploy([("dinner.bpmn", DIAGRAM % b"dish")])
    instance_id = engine.start("dinner", {"season": "Winter", "guestCount": 4})
    doc = engine.get_instance(instance_id, history=False)
    assert doc["status"] == "completed" and doc["variables"]["desiredDish"] == "Roastbeef"

    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("dinner.bpmn", DIAGRAM % b"nowhere")])
    assert "decision 'nowhere' is not in this deployment" in caught.value.problems[0].reason
