"""User tasks: the task list, claiming, and forms that refuse bad input without losing it."""

from __future__ import annotations

import pytest

from engine import InvalidVariables
from tests.auth_helpers import use_token

FORM_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="expense" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" name="Approve expense" camunda:candidateGroups="finance, managers">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="approved" label="Approved?" type="boolean">
            <camunda:validation><camunda:constraint name="required"/></camunda:validation>
          </camunda:formField>
          <camunda:formField id="amount" label="Amount" type="long">
            <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="max" config="5000"/>
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="category" label="Category" type="enum">
            <camunda:value id="travel" name="Travel"/><camunda:value id="food" name="Food"/>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="file_receipt" name="File the receipt" camunda:assignee="alice"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="file_receipt"/>
    <bpmn:sequenceFlow id="f3" sourceRef="file_receipt" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("expense.bpmn", FORM_PROCESS)])
    return bare_engine


def test_the_task_list_offers_tasks_to_their_groups_and_assignees(engine):
    instance_id = engine.start("expense", business_key="exp-1")
    [task] = engine.list_user_tasks(groups=["finance"])
    assert task["element_id"] == "approve" and task["business_key"] == "exp-1"
    assert [f["id"] for f in task["form"]] == ["approved", "amount", "category"]
    assert engine.list_user_tasks(groups=["sales"]) == []
    assert engine.list_user_tasks(groups=["fin"]) == []  # a group matches whole
    engine.claim_user_task(task["id"], "bob")
    with pytest.raises(InvalidVariables):
        engine.claim_user_task(task["id"], "carol")
    engine.complete_user_task_by_id(task["id"], {"approved": "true", "amount": "120", "category": "travel"}, "bob")
    [next_task] = engine.list_user_tasks(user="alice")
    assert next_task["element_id"] == "file_receipt"
    doc = engine.get_instance(instance_id)
    assert doc["variables"]["approved"] is True and doc["variables"]["amount"] == 120


def test_a_form_refuses_bad_input_field_by_field_and_changes_nothing(engine):
    engine.start("expense")
    [task] = engine.list_user_tasks()
    with pytest.raises(InvalidVariables) as refused:
        engine.complete_user_task_by_id(task["id"], {"amount": "9999", "category": "cars"})
    assert refused.value.errors == {"approved": "is required", "amount": "must be at most 5000",
                                    "category": "must be one of travel, food"}
    assert [t["id"] for t in engine.list_user_tasks()] == [task["id"]]  # still open, nothing lost


def test_the_task_api(engine):
    from web import create_app

    client = create_app(engine.settings, engine=engine).test_client()
    use_token(client, "operator")
    engine.start("expense")
    [task] = client.get("/api/v1/tasks?group=managers").json["items"]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", json={"user": "dana"}).json["claimed_by"] == "dana"
    refused = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"amount": "x"}})
    assert refused.status_code == 422 and refused.json["errors"]["amount"] == "must be a whole number"
    done = client.post(f"/api/v1/tasks/{task['id']}/complete",
                       json={"variables": {"approved": True, "amount": 5}, "user": "dana"})
    assert done.status_code == 200 and done.json["instance_status"] == "waiting"
    assert client.get(f"/api/v1/tasks/{task['id']}").status_code == 404
