"""Incidents explain themselves: every attempt of the failing call with its time, the request
(secrets redacted) and the answer; an operator's note; set retries; durations to the millisecond.

``order_fulfillment`` calls the demo services over HTTP; ``/inventory/reserve`` is made to answer
500 until the test lets it through.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.auth_helpers import api_client, use_token
from tests.conftest import PROCESSES


@pytest.fixture
def client(inline_engine):  # type: ignore[no-untyped-def]
    inline_engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    with api_client(inline_engine, "operator") as client:
        yield client


def _wait(client: Any, instance_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        doc = client.get(f"/api/v1/process-instances/{instance_id}").json
        if doc["status"] == status:
            return doc
        time.sleep(0.05)
    raise AssertionError(f"instance {instance_id} never became {status}: {doc['status']}")


def _failing_instance(client: Any, services: str) -> tuple[str, str]:
    httpx.post(f"{services}/_control/fail", json={"path": "/inventory/reserve", "mode": "http500", "count": -1})
    started = client.post("/api/v1/process-definitions/order_fulfillment/start", json={"variables": {"amount": 5}})
    instance_id = started.json["id"]
    doc = _wait(client, instance_id, "incident")
    [incident] = doc["incidents"]
    return instance_id, incident["id"]


def test_an_incident_shows_each_attempt_with_its_request_and_failing_answer(client, services):
    instance_id, incident_id = _failing_instance(client, services)
    detail = client.get(f"/api/v1/incidents/{incident_id}")
    assert detail.status_code == 200, detail.json
    body = detail.json
    assert body["instance"]["id"] == instance_id and body["element_id"] == "reserve_inventory"
    attempts = body["attempts"]
    assert [a["attempt"] for a in attempts] == list(range(1, body["job"]["max_attempts"] + 1))
    for attempt in attempts:
        assert attempt["outcome"] == "retryable"
        assert attempt["request"]["method"] == "POST" and attempt["request"]["url"].endswith("/inventory/reserve")
        assert '"amount":5' in attempt["request"]["body"]
        assert attempt["request"]["headers"]["idempotency-key"] == "[redacted]"  # a name with "key" in it
        assert attempt["request"]["headers"]["x-baton-attempt"] == str(attempt["attempt"])
        assert attempt["response"]["status"] == 500 and attempt["response"]["body"]
        assert "answered 500" in attempt["error"]
        assert len(attempt["started_at"].split(".")[1]) == len("123+00:00")  # to the millisecond, in UTC
        assert attempt["duration_ms"] >= 0
    assert client.get("/api/v1/incidents/nope").status_code == 404


def test_secrets_never_reach_the_attempt_record():
    from engine import http_request, http_response

    request = http_request("POST", "https://user:pw@example.org/x?api_key=abc&page=2",
                           {"Authorization": "Bearer s3cret", "Cookie": "sid=1", "X-Auth-Token": "t",
                            "X-Client-Secret": "s", "Content-Type": "application/json"}, "x" * 10_000)
    assert request["url"] == "https://example.org/x?api_key=%5Bredacted%5D&page=2"
    assert request["headers"] == {"Authorization": "[redacted]", "Cookie": "[redacted]", "X-Auth-Token": "[redacted]",
                                  "X-Client-Secret": "[redacted]", "Content-Type": "application/json"}
    assert request["body"].startswith("x" * 4000) and request["body"].endswith("[6000 more characters]")
    response = http_response(502, {"Set-Cookie": "sid=2", "Server": "demo"}, b"bad gateway")
    assert response == {"status": 502, "headers": {"Set-Cookie": "[redacted]", "Server": "demo"},
                        "body": "bad gateway"}


def test_a_note_and_set_retries_resolve_the_incident_and_the_job_runs_again(client, services):
    instance_id, incident_id = _failing_instance(client, services)
    noted = client.post(f"/api/v1/incidents/{incident_id}/note", json={"note": "inventory was down, ticket OPS-7"})
    assert noted.status_code == 200 and noted.json["note"] == "inventory was down, ticket OPS-7"
    assert noted.json["note_by"].startswith("token:")
    refused = client.post(f"/api/v1/incidents/{incident_id}/retries", json={"retries": 0})
    assert refused.status_code == 400
    httpx.post(f"{services}/_control/reset")
    retried = client.post(f"/api/v1/incidents/{incident_id}/retries", json={"retries": 2})
    assert retried.status_code == 200, retried.json
    doc = _wait(client, instance_id, "completed")
    assert doc["incidents"][0]["resolved_at"] is not None
    row = [h for h in client.get(f"/api/v1/process-instances/{instance_id}/history").json["items"]
           if h["event"] == "retried"][0]
    assert row["details"]["retries"] == 2 and row["details"]["by"].startswith("token:")
    detail = client.get(f"/api/v1/incidents/{incident_id}").json
    assert detail["job"]["max_attempts"] == 2 and detail["attempts"][-1]["outcome"] == "ok"
    assert detail["attempts"][-1]["response"]["status"] == 200
    again = client.post(f"/api/v1/incidents/{incident_id}/retries", json={"retries": 2})
    assert again.status_code == 400 and "resolved already" in again.json["detail"]
    durations = client.get(f"/api/v1/process-instances/{instance_id}/durations").json
    assert durations["instance"]["running"] is False and durations["instance"]["duration_ms"] > 0
    reserve = [r for r in durations["runs"] if r["element_id"] == "reserve_inventory"]
    assert reserve and reserve[-1]["end"] == "completed" and reserve[-1]["duration_ms"] >= 0
    assert {e["element_id"] for e in durations["elements"]} >= {"reserve_inventory", "charge_payment"}
    use_token(client, "viewer")
    assert client.get(f"/api/v1/incidents/{incident_id}").status_code == 200
    assert client.post(f"/api/v1/incidents/{incident_id}/note", json={"note": "x"}).status_code == 403
    assert client.post(f"/api/v1/incidents/{incident_id}/retries", json={"retries": 1}).status_code == 403


def test_the_cli_shows_notes_and_sets_retries_on_an_incident(client, services, inline_engine):
    from tests.conftest import baton_cli

    _, incident_id = _failing_instance(client, services)
    env = {"BATON_HOME": str(inline_engine.settings.home), "BATON_DATABASE_URL": inline_engine.settings.database_url,
           "BATON_ENDPOINTS": str(PROCESSES / "endpoints.toml")}
    shown = baton_cli("incident", "show", incident_id, env=env)
    assert shown.returncode == 0, shown.stderr
    import json

    detail = json.loads(shown.stdout)
    assert detail["attempts"][-1]["response"]["status"] == 500
    noted = baton_cli("incident", "note", incident_id, "paged the inventory team", env=env)
    assert noted.returncode == 0, noted.stderr
    retried = baton_cli("incident", "retries", incident_id, "5", env=env)
    assert retried.returncode == 0, retried.stderr
    after = client.get(f"/api/v1/incidents/{incident_id}").json
    assert after["note"] == "paged the inventory team" and after["note_by"].startswith("cli:")
    assert after["resolved_at"] is not None and after["job"]["max_attempts"] == 5
