"""What Camunda 7 resolves later than the deploy of the diagram that names it.

- A DMN file deployed alone (Camunda Modeler's Deploy on a DMN tab): its decisions are kept and
  listed, an identical redeploy makes no new version, and a diagram deployed later names one of
  them in camunda:decisionRef and runs it. A decision still missing when the task is reached is
  an incident naming it; deploying it and retrying the incident runs the task.
- A call activity's calledElement is looked up when the call is reached: the caller deploys alone,
  a process still missing then is an incident naming it, and deploying it and retrying the
  incident runs the call.
"""

from __future__ import annotations

import pytest

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



def test_a_decision_missing_when_the_task_is_reached_is_an_incident_naming_it(bare_engine):  # type: ignore[no-untyped-def]
    engine = bare_engine
    engine.deploy([("dinner.bpmn", DIAGRAM % b"dish")])  # Camunda 7 looks decisionRef up when the task runs
    instance_id = engine.start("dinner", {"season": "Winter", "guestCount": 4})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "decide" and "decision 'dish' is not deployed" in incident["message"]
    assert "deploy it, then retry this incident" in incident["message"]

    engine.deploy([(DINNER.name, DINNER.read_bytes())])
    engine.retry_incident(incident["id"])
    doc = engine.get_instance(instance_id, history=False)
    assert doc["status"] == "completed" and doc["variables"]["desiredDish"] == "Roastbeef"


CALLER = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call_child" calledElement="late_child"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_child"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call_child" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

CHILD = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="c" targetNamespace="t">
  <bpmn:process id="late_child" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="g" sourceRef="s" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_called_process_missing_when_the_call_is_reached_is_an_incident_naming_it(bare_engine):  # type: ignore[no-untyped-def]
    engine = bare_engine
    engine.deploy([("caller.bpmn", CALLER)])
    instance_id = engine.start("caller", {})
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "call_child" and "'late_child'" in incident["message"]
    assert "deploy it, then retry this incident" in incident["message"]

    engine.deploy([("child.bpmn", CHILD)])
    engine.retry_incident(incident["id"])
    engine.driver.drain()
    assert engine.get_instance(instance_id)["status"] == "completed"


def test_the_modelers_deploy_of_a_dmn_tab_answers_camundas_decision_definitions(bare_engine):  # type: ignore[no-untyped-def]
    import io

    from web import create_app

    bare_engine.create_user("modeler", "admin", "correct horse battery staple")
    client = create_app(bare_engine.settings, engine=bare_engine).test_client()
    answer = client.post("/engine-rest/deployment/create", headers={
        "Authorization": "Basic bW9kZWxlcjpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"}, data={
        "deployment-name": "dinner", "deployment-source": "Camunda Modeler",
        "data": (io.BytesIO(DINNER.read_bytes()), "dinnerDecisions.dmn")}, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.json
    assert answer.json["deployedProcessDefinitions"] is None and answer.json["id"]
    assert sorted(answer.json["deployedDecisionDefinitions"]) == ["beverages:1", "dish:1"]
    assert answer.json["deployedDecisionDefinitions"]["dish:1"]["deploymentId"] == answer.json["id"]
