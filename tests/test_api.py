"""The REST API through Flask's test client on an embedded engine (jobs run by a thread)."""

from __future__ import annotations

import io

import pytest

from tests.auth_helpers import api_client
from tests.conftest import PROCESSES


@pytest.fixture
def client(inline_engine):  # type: ignore[no-untyped-def]
    inline_engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))])
    with api_client(inline_engine, "admin") as client:
        yield client


def test_start_with_wait_answers_with_the_variables_of_a_short_process(client):
    response = client.post("/api/v1/process-definitions/order_fulfillment/start?wait=10",
                           json={"variables": {"amount": 7}, "business_key": "sync-1"})
    assert response.status_code == 201, response.json
    assert response.json["status"] == "completed" and response.json["variables"]["charged"] == 7
    assert response.headers["Location"].endswith(response.json["id"])


def test_start_with_wait_answers_at_the_first_user_task(client):
    response = client.post("/api/v1/process-definitions/user_registration/start?wait=10", json={})
    assert response.status_code == 201 and response.json["status"] == "waiting"


def test_start_with_a_short_wait_answers_202_with_the_url(client, services):
    import httpx

    httpx.post(f"{services}/_control/fail", json={"path": "/payment/charge", "mode": "slow", "seconds": 2,
                                                   "count": 1})
    response = client.post("/api/v1/process-definitions/order_fulfillment/start?wait=0.3", json={})
    assert response.status_code == 202
    assert response.json["status"] == "running"
    assert client.get(response.json["url"]).status_code == 200


def test_errors_are_problem_json(client):
    missing = client.post("/api/v1/process-definitions/nope/start", json={})
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert "nope" in missing.json["detail"]
    bad = client.post("/api/v1/process-definitions/order_fulfillment/start", json={"variables": [1]})
    assert bad.status_code == 400
    refused = client.post("/api/v1/deployments", data={"files": (io.BytesIO(b"<x"), "b.bpmn")})
    assert refused.status_code == 422 and refused.json["problems"][0]["file"] == "b.bpmn"


def test_message_api(client):
    diagram = (PROCESSES.parent / "tests" / "diagrams" / "await_shipment.bpmn").read_bytes()
    client.post("/api/v1/deployments", data={"files": (io.BytesIO(diagram), "a.bpmn")})
    started = client.post("/api/v1/process-definitions/await_shipment/start", json={"variables": {"order_id": "z"}})
    assert started.status_code == 201
    unknown = client.post("/api/v1/messages", json={"name": "OrderShipped", "correlation_keys": {"order_id": "?"}})
    assert unknown.status_code == 404 and "OrderShipped" in unknown.json["detail"]
    delivered = client.post("/api/v1/messages", json={"name": "OrderShipped", "correlation_keys": {"order_id": "z"}})
    assert delivered.status_code == 200 and delivered.json["instance_id"] == started.json["id"]
    buffered = client.post("/api/v1/messages", json={"name": "OrderShipped", "ttl": 30,
                                                     "correlation_keys": {"order_id": "later"}})
    assert buffered.status_code == 202
