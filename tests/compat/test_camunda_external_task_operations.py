"""``/engine-rest`` calls around external tasks an operator makes (Flask's test client, Camunda
7.22's shapes): ``GET /external-task`` with its filters, ``GET /external-task/count``,
``PUT /external-task/{id}/retries``, and ``localVariables`` on complete read by an output mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from web.app import create_app

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="scoring" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="score" camunda:type="external" camunda:topic="scoring">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:outputParameter name="grade">${raw_score &gt; 50 ? 'A' : 'B'}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="score"/>
    <bpmn:sequenceFlow id="f2" sourceRef="score" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import migrations
    from engine import EndpointMap, Engine, Settings

    settings = Settings(home=tmp_path_factory.mktemp("engine-rest-ops"))
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, endpoints=EndpointMap())
    engine.deploy([("scoring.bpmn", DIAGRAM)])
    _, token = engine.create_token("operator", "rest")
    client = create_app(settings, engine=engine).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.engine = engine  # type: ignore[attr-defined]
    yield client
    engine.close()


def _start(rest: Any, key: str) -> str:
    return str(rest.post("/engine-rest/process-definition/key/scoring/start", json={"businessKey": key}).json["id"])


def _fetch(rest: Any, worker: str, key: str) -> dict[str, Any]:
    [task] = rest.post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": worker, "maxTasks": 1,
        "topics": [{"topicName": "scoring", "lockDuration": 60000, "businessKey": key}]}).json
    return dict(task)


def test_the_list_filters_by_topic_worker_and_lock_as_camundas_query(rest) -> None:  # type: ignore[no-untyped-def]
    first, second = _start(rest, "list-1"), _start(rest, "list-2")
    locked = _fetch(rest, "lister", "list-1")
    mine = rest.get("/engine-rest/external-task?topicName=scoring&workerId=lister").json
    assert [t["id"] for t in mine] == [locked["id"]]
    assert mine[0]["processInstanceId"] == first and mine[0]["activityId"] == "score"
    assert mine[0]["retries"] is None and mine[0]["businessKey"] == "list-1" and "variables" not in mine[0]
    open_ones = rest.get(f"/engine-rest/external-task?notLocked=true&processInstanceId={second}").json
    assert len(open_ones) == 1 and open_ones[0]["workerId"] is None
    assert rest.get(f"/engine-rest/external-task?locked=true&processInstanceId={second}").json == []
    assert rest.get("/engine-rest/external-task/count?workerId=lister").json == {"count": 1}
    assert len(rest.get("/engine-rest/external-task?topicName=scoring&maxResults=1").json) == 1
    one = rest.get(f"/engine-rest/external-task/{locked['id']}").json
    assert one["workerId"] == "lister" and one["topicName"] == "scoring"
    refused = rest.get("/engine-rest/external-task?tenantIdIn=a")
    assert refused.status_code == 400 and "tenantIdIn" in refused.json["message"]


def test_setting_retries_ends_an_incident_and_zero_opens_one(rest) -> None:  # type: ignore[no-untyped-def]
    instance = _start(rest, "retries-1")
    task = _fetch(rest, "w1", "retries-1")
    assert rest.post(f"/engine-rest/external-task/{task['id']}/failure",
                     json={"workerId": "w1", "errorMessage": "down", "retries": 0}).status_code == 204
    assert rest.engine.get_instance(instance, history=False)["status"] == "incident"
    assert rest.get(f"/engine-rest/external-task?noRetriesLeft=true&processInstanceId={instance}").json[0][
        "retries"] == 0
    assert rest.put(f"/engine-rest/external-task/{task['id']}/retries", json={"retries": 2}).status_code == 204
    doc = rest.engine.get_instance(instance, history=False)
    assert doc["status"] != "incident" and all(i["resolved_at"] for i in doc["incidents"])
    again = _fetch(rest, "w2", "retries-1")
    assert again["id"] == task["id"] and again["retries"] == 2
    assert rest.put(f"/engine-rest/external-task/{task['id']}/retries", json={"retries": 0}).status_code == 204
    doc = rest.engine.get_instance(instance, history=False)
    assert doc["status"] == "incident" and "retries set to 0" in doc["incidents"][-1]["message"]
    bad = rest.put(f"/engine-rest/external-task/{task['id']}/retries", json={"retries": -1})
    assert bad.status_code == 400 and bad.json["type"] == "InvalidRequestException"
    assert rest.put("/engine-rest/external-task/nope/retries", json={"retries": 1}).status_code == 404


def test_local_variables_on_complete_are_the_tasks_locals_read_by_its_output_mapping(rest) -> None:  # type: ignore[no-untyped-def]
    instance = _start(rest, "locals-1")
    task = _fetch(rest, "w3", "locals-1")
    done = rest.post(f"/engine-rest/external-task/{task['id']}/complete", json={
        "workerId": "w3", "variables": {"checked": {"value": True}},
        "localVariables": {"raw_score": {"value": 80, "type": "Integer"}}})
    assert done.status_code == 204
    variables = rest.engine.get_instance(instance, history=False)["variables"]
    assert variables["grade"] == "A"  # the output parameter read the local
    assert "raw_score" not in variables  # and the local ended with the task
