"""A call activity starts the called process as its own instance, across deployments."""

from __future__ import annotations

import pytest

from engine import DeploymentError

CALLEE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="c" targetNamespace="t">
  <bpmn:process id="score_customer" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:scriptTask id="score" scriptFormat="python">
      <bpmn:script>score = {factor} * orders</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="score"/>
    <bpmn:sequenceFlow id="f2" sourceRef="score" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="p" targetNamespace="t">
  <bpmn:process id="onboard" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:callActivity id="get_score" calledElement="score_customer" {binding}/>
    <bpmn:scriptTask id="decide" scriptFormat="python"><bpmn:script>vip = score &gt; 50</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="get_score"/>
    <bpmn:sequenceFlow id="f2" sourceRef="get_score" targetRef="decide"/>
    <bpmn:sequenceFlow id="f3" sourceRef="decide" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    return bare_engine


def test_the_called_process_runs_as_a_linked_child_instance(engine):
    engine.deploy([("callee.bpmn", CALLEE.format(factor=10).encode())])
    engine.deploy([("caller.bpmn", CALLER.format(binding="").encode())])  # another deployment
    parent_id = engine.start("onboard", {"orders": 7}, business_key="cust-1")
    assert engine.get_instance(parent_id)["status"] == "running"
    engine.driver.drain()
    parent = engine.get_instance(parent_id)
    assert parent["status"] == "completed" and parent["variables"]["score"] == 70 and parent["variables"]["vip"]
    [child] = parent["children"]
    assert child["definition"] == {"key": "score_customer", "version": 1} and child["status"] == "completed"
    assert child["element_id"] == "get_score"
    child_doc = engine.get_instance(child["id"])
    assert child_doc["parent_instance_id"] == parent_id and child_doc["business_key"] == "cust-1"


def test_latest_version_or_a_pinned_one(engine):
    engine.deploy([("callee.bpmn", CALLEE.format(factor=10).encode())])
    engine.deploy([("callee.bpmn", CALLEE.format(factor=1).encode())])  # v2
    engine.deploy([("caller.bpmn", CALLER.format(binding="").encode())])
    latest = engine.start("onboard", {"orders": 7})
    engine.driver.drain()
    assert engine.get_instance(latest)["variables"]["score"] == 7
    pinned_xml = CALLER.format(binding='camunda:calledElementBinding="version" camunda:calledElementVersion="1"')
    engine.deploy([("caller.bpmn", pinned_xml.encode())])
    pinned = engine.start("onboard", {"orders": 7})
    engine.driver.drain()
    assert engine.get_instance(pinned)["variables"]["score"] == 70


def test_a_caller_deploys_before_its_process_but_not_pinned_to_a_version_of_none(engine):
    # Camunda 7 looks the called process up when the call is reached (tests/test_camunda7_late_binding.py)
    engine.deploy([("caller.bpmn", CALLER.format(binding="").encode())])
    pinned = CALLER.format(binding='camunda:calledElementBinding="version" camunda:calledElementVersion="1"')
    with pytest.raises(DeploymentError) as refused:
        engine.deploy([("caller.bpmn", pinned.encode())])
    assert "get_score" in str(refused.value) and "score_customer" in str(refused.value)
