"""``/engine-rest`` through Flask's test client: Camunda's typed variables (table-driven), message
correlation, the runtime view of instances, status codes and error bodies, Basic and Bearer.

The clients themselves run in ``test_camunda7_clients.py``; here the shapes are pinned one by one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PROCESSES, ROOT
from web.app import create_app

DIAGRAMS = ROOT / "tests" / "diagrams"
PASSWORD = "correct horse battery staple"

# (what a client sends, what Baton keeps, what Camunda's API answers for it)
TYPED = [
    ({"value": "INV-1", "type": "String"}, "INV-1", {"type": "String", "value": "INV-1", "valueInfo": {}}),
    ({"value": 42, "type": "Integer"}, 42, {"type": "Integer", "value": 42, "valueInfo": {}}),
    ({"value": 2**40, "type": "Long"}, 2**40, {"type": "Long", "value": 2**40, "valueInfo": {}}),
    ({"value": 7, "type": "Short"}, 7, {"type": "Integer", "value": 7, "valueInfo": {}}),
    ({"value": 7.5, "type": "Double"}, 7.5, {"type": "Double", "value": 7.5, "valueInfo": {}}),
    ({"value": True, "type": "Boolean"}, True, {"type": "Boolean", "value": True, "valueInfo": {}}),
    ({"value": "false", "type": "boolean"}, False, {"type": "Boolean", "value": False, "valueInfo": {}}),
    ({"value": None, "type": "Null"}, None, {"type": "Null", "value": None, "valueInfo": {}}),
    ({"value": '{"a":[1,2]}', "type": "json"}, {"a": [1, 2]},  # the JavaScript client: JSON as text
     {"type": "Json", "value": '{"a":[1,2]}', "valueInfo": {}}),
    ({"value": '["x"]', "type": "Object", "valueInfo": {"serializationDataFormat": "application/json",
                                                       "objectTypeName": "java.util.ArrayList"}},
     ["x"], {"type": "Json", "value": '["x"]', "valueInfo": {}}),
    ({"value": "2025-01-31T12:00:00.000+0000", "type": "Date"}, "2025-01-31T12:00:00.000+0000",
     {"type": "String", "value": "2025-01-31T12:00:00.000+0000", "valueInfo": {}}),
    ({"value": {"nested": True}}, {"nested": True},  # the Python client: untyped
     {"type": "Json", "value": '{"nested":true}', "valueInfo": {}}),
    ({"value": 3}, 3, {"type": "Integer", "value": 3, "valueInfo": {}}),
]

REFUSED = [
    ({"value": "many", "type": "Integer"}, "Cannot convert value 'many' of type 'Integer' of variable 'v'"),
    ({"value": 1.5, "type": "Long"}, "of variable 'v': not a whole number"),
    ({"value": "yes", "type": "Boolean"}, "Cannot convert value 'yes' of type 'Boolean' of variable 'v'"),
    ({"value": "{", "type": "Json"}, "of variable 'v': not JSON"),
    ({"value": "rO0AB", "type": "Object",
      "valueInfo": {"serializationDataFormat": "application/x-java-serialized-object"}},
     "Baton takes objects serialized as application/json only"),
    ({"value": "AAEC", "type": "Bytes"}, "Unsupported value type 'Bytes' of variable 'v'"),
    ({"value": "x", "type": "File"}, "Unsupported value type 'File' of variable 'v'"),
    ("plain", "variable 'v' must be an object with a 'value'"),
]


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One embedded Baton for the module (migrating, deploying and a password hash cost seconds
    each on a busy machine); every test starts its own instances."""
    import migrations
    from engine import EndpointMap, Engine, Settings

    settings = Settings(home=tmp_path_factory.mktemp("engine-rest"))
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, endpoints=EndpointMap())
    engine.deploy([("camunda7_invoice.bpmn", (PROCESSES / "camunda7_invoice.bpmn").read_bytes()),
                   ("await_shipment.bpmn", (DIAGRAMS / "await_shipment.bpmn").read_bytes()),
                   # with no endpoint map its steps and compensation handlers are all external tasks
                   ("order_saga.bpmn", (PROCESSES / "order_saga.bpmn").read_bytes())])
    engine.create_user("dana", "viewer", PASSWORD)
    _, token = engine.create_token("operator", "rest")
    client = create_app(settings, engine=engine).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.engine = engine  # type: ignore[attr-defined]
    yield client
    engine.close()


@pytest.mark.parametrize(("sent", "kept", "answered"), TYPED)
def test_typed_variables_in_and_out(rest, sent, kept, answered) -> None:  # type: ignore[no-untyped-def]
    started = rest.post("/engine-rest/process-definition/key/camunda7_invoice/start",
                        json={"variables": {"v": sent}, "businessKey": "typed"})
    assert started.status_code == 200, started.json
    assert rest.engine.get_instance(started.json["id"], history=False)["variables"]["v"] == kept
    assert rest.get(f"/engine-rest/process-instance/{started.json['id']}/variables").json["v"] == answered


@pytest.mark.parametrize(("sent", "message"), REFUSED)
def test_variables_baton_cannot_keep_are_refused_naming_the_variable(rest, sent, message) -> None:  # type: ignore[no-untyped-def]
    refused = rest.post("/engine-rest/process-definition/key/camunda7_invoice/start", json={"variables": {"v": sent}})
    assert refused.status_code == 400
    assert refused.json["type"] == "InvalidRequestException" and message in refused.json["message"]


def test_message_correlation_starts_and_resumes_as_camundas_message_api(rest) -> None:  # type: ignore[no-untyped-def]
    started = rest.post("/engine-rest/message", json={"messageName": "NewOrder", "businessKey": "o-1",
                                                      "processVariables": {"order_id": {"value": "o-1"}},
                                                      "resultEnabled": True})
    assert started.status_code == 200
    [result] = started.json
    assert result["resultType"] == "ProcessDefinition" and result["processInstance"]["businessKey"] == "o-1"

    waiting = rest.post("/engine-rest/process-definition/key/await_shipment/start",
                        json={"variables": {"order_id": {"value": "o-2", "type": "String"}}}).json["id"]
    assert rest.get(f"/engine-rest/process-instance/{waiting}").json["ended"] is False
    delivered = rest.post("/engine-rest/message", json={
        "messageName": "OrderShipped", "correlationKeys": {"order_id": {"value": "o-2", "type": "String"}},
        "processVariables": {"carrier": {"value": "DHL", "type": "String"}}})
    assert delivered.status_code == 204 and delivered.data == b""
    doc = rest.engine.get_instance(waiting, history=False)
    assert doc["status"] == "completed" and doc["variables"]["carrier"] == "DHL"
    # an ended instance is gone from Camunda's runtime view (Baton's /api/v1 keeps it)
    gone = rest.get(f"/engine-rest/process-instance/{waiting}")
    assert gone.status_code == 404 and gone.json["message"] == f"Process instance with id {waiting} does not exist"

    nothing = rest.post("/engine-rest/message", json={"messageName": "OrderShipped",
                                                      "correlationKeys": {"order_id": {"value": "nope"}}})
    assert nothing.status_code == 400 and nothing.json["type"] == "RestException"
    assert nothing.json["message"].startswith("Cannot correlate message 'OrderShipped'")


def test_status_codes_and_error_bodies(rest) -> None:  # type: ignore[no-untyped-def]
    missing = rest.post("/engine-rest/process-definition/no-such-id/start", json={})
    assert missing.status_code == 404 and missing.json == {"type": "RestException",
                                                           "message": "No matching definition with id no-such-id"}
    by_key = rest.post("/engine-rest/process-definition/key/nope/start", json={})
    assert by_key.status_code == 404 and "No matching process definition with key: nope" in by_key.json["message"]
    assert rest.post("/engine-rest/external-task/fetchAndLock", json={"workerId": "w"}).json == []
    no_lock = rest.post("/engine-rest/external-task/fetchAndLock",
                        json={"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "invoice-check"}]})
    assert no_lock.status_code == 400 and no_lock.json["message"] == "lockDuration is required"
    no_worker = rest.post("/engine-rest/external-task/fetchAndLock", json={"maxTasks": 1, "topics": []})
    assert no_worker.status_code == 400 and no_worker.json["type"] == "InvalidRequestException"
    not_json = rest.post("/engine-rest/external-task/fetchAndLock", data="{", content_type="application/json")
    assert not_json.status_code == 400 and not_json.json["message"] == "the request body is not JSON"
    assert rest.get("/engine-rest/external-task/nope").status_code == 404
    unknown = rest.get("/engine-rest/task?assignee=demo")  # Camunda's task API is not served
    assert unknown.status_code == 404 and unknown.json["type"] == "NotFoundException"


def test_basic_and_bearer_with_baton_roles(rest) -> None:  # type: ignore[no-untyped-def]
    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    assert rest.get("/engine-rest/version", headers=basic("dana", PASSWORD)).json == {"version": "7.22.0"}
    wrong = rest.get("/engine-rest/version", headers=basic("dana", "not her password"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.json["type"] == "AuthenticationException"
    viewer = rest.post("/engine-rest/external-task/fetchAndLock", headers=basic("dana", PASSWORD),
                       json={"workerId": "w", "maxTasks": 1, "topics": []})
    assert viewer.status_code == 403 and viewer.json["type"] == "AuthorizationException"
    assert "needs the operator role" in viewer.json["message"]
    operator_deploys = rest.post("/engine-rest/deployment/create", data={}, content_type="multipart/form-data")
    assert operator_deploys.status_code == 403


def test_a_saga_whose_steps_and_compensation_handlers_are_external_tasks(rest) -> None:  # type: ignore[no-untyped-def]
    """Compensation holds for external tasks: the BPMN error a worker throws at create_shipment
    runs the handlers of the completed steps, newest first, each fetched by a worker."""
    instance = rest.post("/engine-rest/process-definition/key/order_saga/start",
                         json={"businessKey": "saga-1", "variables": {"amount": {"value": 30, "type": "Integer"}}}
                         ).json["id"]
    order = []

    def take(topic: str) -> str:
        [task] = rest.post("/engine-rest/external-task/fetchAndLock", json={
            "workerId": "saga-worker", "maxTasks": 1,
            "topics": [{"topicName": topic, "lockDuration": 30000, "businessKey": "saga-1"}]}).json
        order.append(task["activityId"])
        return str(task["id"])

    for topic in ("payment-charge", "inventory-reserve"):
        assert rest.post(f"/engine-rest/external-task/{take(topic)}/complete",
                         json={"workerId": "saga-worker", "variables": {topic.replace("-", "_"): {"value": "ok"}}}
                         ).status_code == 204
    thrown = rest.post(f"/engine-rest/external-task/{take('shipping-create')}/bpmnError",
                       json={"workerId": "saga-worker", "errorCode": "SHIPPING_UNAVAILABLE",
                             "errorMessage": "no trucks"})
    assert thrown.status_code == 204
    for topic in ("inventory-release", "payment-refund"):  # newest first
        assert rest.post(f"/engine-rest/external-task/{take(topic)}/complete",
                         json={"workerId": "saga-worker"}).status_code == 204
    assert order == ["charge_payment", "reserve_inventory", "create_shipment", "release_inventory", "refund_payment"]
    doc = rest.engine.get_instance(instance)
    assert doc["status"] == "compensated"
    assert [h["element_id"] for h in doc["history"] if h["event"] == "compensated"][:2] == [
        "reserve_inventory", "charge_payment"]
    assert rest.post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": "saga-worker", "maxTasks": 5,
        "topics": [{"topicName": "shipping-cancel", "lockDuration": 1000}]}).json == []  # never shipped
    # they are Baton's jobs in the metrics too: each fetch counted as a claim of kind "external"
    scraped = rest.get("/metrics", headers={"Authorization": ""}).get_data(as_text=True)
    assert 'baton_job_latency_seconds_count{kind="external"}' in scraped


def test_a_suspended_instance_hands_out_no_task_and_takes_no_result_until_resumed(rest) -> None:  # type: ignore[no-untyped-def]
    instance = rest.post("/engine-rest/process-definition/key/camunda7_invoice/start",
                         json={"businessKey": "held", "variables": {"amount": {"value": 1}}}).json["id"]
    topics = [{"topicName": "invoice-check", "lockDuration": 30000, "businessKey": "held"}]
    [task] = rest.post("/engine-rest/external-task/fetchAndLock",
                       json={"workerId": "w", "maxTasks": 1, "topics": topics}).json
    rest.engine.suspend(instance)
    refused = rest.post(f"/engine-rest/external-task/{task['id']}/complete", json={"workerId": "w"})
    assert refused.status_code == 400 and "is suspended" in refused.json["message"]
    assert rest.post(f"/engine-rest/external-task/{task['id']}/unlock").status_code == 204
    assert rest.post("/engine-rest/external-task/fetchAndLock",
                     json={"workerId": "w", "maxTasks": 1, "topics": topics}).json == []
    rest.engine.resume(instance)
    [again] = rest.post("/engine-rest/external-task/fetchAndLock",
                        json={"workerId": "w", "maxTasks": 1, "topics": topics}).json
    assert again["id"] == task["id"]
    assert rest.post(f"/engine-rest/external-task/{task['id']}/complete", json={
        "workerId": "w", "variables": {"approved": {"value": False, "type": "Boolean"}}}).status_code == 204
    assert rest.engine.get_instance(instance, history=False)["status"] == "waiting"  # the PT1S timer now


def test_use_priority_fetches_the_highest_camunda_task_priority_first(rest) -> None:  # type: ignore[no-untyped-def]
    urgent = (PROCESSES / "camunda7_invoice.bpmn").read_bytes().replace(
        b'id="camunda7_invoice"', b'id="urgent_invoice"').replace(
        b'bpmnElement="camunda7_invoice"', b'bpmnElement="urgent_invoice"').replace(
        b'camunda:topic="invoice-check"', b'camunda:topic="invoice-check" camunda:taskPriority="50"')
    rest.engine.deploy([("urgent_invoice.bpmn", urgent)])
    for key in ("camunda7_invoice", "urgent_invoice"):  # the ordinary one first: it is the older task
        started = rest.post(f"/engine-rest/process-definition/key/{key}/start",
                            json={"businessKey": "priority", "variables": {"amount": {"value": 1}}})
        assert started.status_code == 200
    topics = [{"topicName": "invoice-check", "lockDuration": 1000, "businessKey": "priority"}]

    def first(use_priority: bool) -> dict[str, Any]:
        [task] = rest.post("/engine-rest/external-task/fetchAndLock", json={
            "workerId": "w", "maxTasks": 1, "usePriority": use_priority, "topics": topics}).json
        assert rest.post(f"/engine-rest/external-task/{task['id']}/unlock").status_code == 204
        return task  # type: ignore[no-any-return]

    assert first(False)["processDefinitionKey"] == "camunda7_invoice"
    urgent_task = first(True)
    assert urgent_task["processDefinitionKey"] == "urgent_invoice" and urgent_task["priority"] == 50


def test_a_start_retried_with_its_idempotency_key_returns_the_first_instance(rest) -> None:  # type: ignore[no-untyped-def]
    sent = {"variables": {"order_id": {"value": "o-idem", "type": "String"}}, "businessKey": "idem-1"}
    path = "/engine-rest/process-definition/key/await_shipment/start"
    first = rest.post(path, json=sent, headers={"Idempotency-Key": "start-o-idem"})
    again = rest.post(path, json=sent, headers={"Idempotency-Key": "start-o-idem"})
    assert first.status_code == again.status_code == 200
    assert again.json["id"] == first.json["id"]
    found = rest.engine.list_instances(business_key="idem-1")
    assert [i["id"] for i in found["items"]] == [first.json["id"]]
    other = rest.post(path, json={**sent, "businessKey": "idem-2"}, headers={"Idempotency-Key": "start-o-idem"})
    assert other.status_code == 400 and other.json["type"] == "InvalidRequestException"
    assert "different request" in other.json["message"] or "Idempotency-Key" in other.json["message"]
    fresh = rest.post(path, json=sent)  # no key: a second start is a second instance
    assert fresh.json["id"] != first.json["id"]
