"""An operator changes instances through the REST API and the CLI: variables, tokens, restart,
migration to another version; each change in the history with who and why, refusals named.

The diagrams are the bundled ``user_registration`` (a review, a gateway on ``approved``, a
rejection script) and a second version of it whose rejection script writes another reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth_helpers import api_client, use_token
from tests.conftest import PROCESSES, baton_cli

REGISTRATION = (PROCESSES / "user_registration.bpmn").read_text()
V2 = REGISTRATION.replace("rejected by reviewer", "rejected on v2")


@pytest.fixture
def client(inline_engine):  # type: ignore[no-untyped-def]
    inline_engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    with api_client(inline_engine, "operator") as client:
        yield client


def _start(client: Any, variables: dict[str, Any] | None = None) -> str:
    response = client.post("/api/v1/process-definitions/user_registration/start",
                           json={"variables": variables or {}})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _history(client: Any, instance_id: str) -> list[dict[str, Any]]:
    return list(reversed(client.get(f"/api/v1/process-instances/{instance_id}/history").json["items"]))


def _complete(client: Any, instance_id: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(f"/api/v1/process-instances/{instance_id}/tasks/review_application/complete",
                           json={"variables": variables or {}})
    assert response.status_code == 200, response.json
    return response.json


def test_an_edited_variable_is_what_the_instance_decides_on_and_the_history_says_who(client):
    instance_id = _start(client, {"approved": True, "email": "a@example.org"})
    response = client.post(f"/api/v1/process-instances/{instance_id}/variables",
                           json={"set": {"approved": False}, "remove": ["email"], "reason": "reviewer typo"})
    assert response.status_code == 200, response.json
    assert response.json["variables"] == {"approved": False}
    done = _complete(client, instance_id)
    assert done["status"] == "completed"
    assert done["variables"]["rejection_reason"] == "rejected by reviewer"  # the gateway read approved=False
    [row] = [h for h in _history(client, instance_id) if h["event"] == "variables"]
    assert row["details"]["by"].startswith("token:") and row["details"]["reason"] == "reviewer typo"
    assert row["details"]["set"] == {"approved": False} and row["details"]["removed"] == ["email"]
    assert row["details"]["before"] == {"approved": True, "email": "a@example.org"}


def test_a_variable_edit_is_refused_on_an_ended_instance_and_for_bad_input(client):
    instance_id = _start(client)
    refused = client.post(f"/api/v1/process-instances/{instance_id}/variables", json={"set": "approved"})
    assert refused.status_code == 400 and "set" in refused.json["detail"]
    nothing = client.post(f"/api/v1/process-instances/{instance_id}/variables", json={"set": {}})
    assert nothing.status_code == 400 and "neither sets nor removes" in nothing.json["detail"]
    missing = client.post(f"/api/v1/process-instances/{instance_id}/variables", json={"remove": ["nope"]})
    assert missing.status_code == 400 and "no variable nope" in missing.json["detail"]
    _complete(client, instance_id, {"approved": False})
    ended = client.post(f"/api/v1/process-instances/{instance_id}/variables", json={"set": {"a": 1}})
    assert ended.status_code == 409 and "completed" in ended.json["detail"]


def test_a_token_moved_by_modification_runs_from_its_new_place(client):
    instance_id = _start(client, {"email": "b@example.org"})
    response = client.post(f"/api/v1/process-instances/{instance_id}/modification", json={
        "instructions": [{"type": "cancel", "element": "review_application"},
                         {"type": "start_before", "element": "record_rejection", "variables": {"moved": True}}],
        "reason": "rejected by phone"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "completed"
    assert response.json["variables"]["rejection_reason"] == "rejected by reviewer"
    assert response.json["variables"]["moved"] is True
    events = [(h["element_id"], h["event"]) for h in _history(client, instance_id)]
    at = events.index(("process", "modified"))
    assert events[at + 1:at + 4] == [("review_application", "cancelled"), ("record_rejection", "entered"),
                                     ("record_rejection", "completed")]
    [row] = [h for h in _history(client, instance_id) if h["event"] == "modified"]
    assert row["details"]["reason"] == "rejected by phone" and len(row["details"]["instructions"]) == 2


def test_start_after_takes_the_single_outgoing_flow(client):
    instance_id = _start(client)
    response = client.post(f"/api/v1/process-instances/{instance_id}/modification", json={
        "instructions": [{"type": "cancel", "element": "review_application"},
                         {"type": "start_after", "element": "review_application",
                          "variables": {"approved": False}}]})
    assert response.status_code == 200, response.json
    elements = [h["element_id"] for h in _history(client, instance_id) if h["event"] == "entered"]
    assert elements[-3:] == ["approved_gateway", "record_rejection", "application_rejected"]


@pytest.mark.parametrize(("instructions", "reason"), [
    ([{"type": "cancel", "element": "create_account"}], "no token is at create_account; tokens are at "
                                                         "review_application"),
    ([{"type": "start_before", "element": "nowhere"}], "has no element nowhere"),
    ([{"type": "cancel", "element": "review_application"}], "without a token"),
    ([{"type": "start_after", "element": "approved_gateway"}], "approved_gateway has 2 outgoing flows"),
    ([{"type": "start_before", "element": "application_received"}], "is a start event"),
])
def test_a_modification_that_cannot_be_is_refused_whole_naming_the_instruction(client, instructions, reason):
    instance_id = _start(client)
    before = client.get(f"/api/v1/process-instances/{instance_id}").json
    response = client.post(f"/api/v1/process-instances/{instance_id}/modification",
                           json={"instructions": instructions})
    assert response.status_code == 400, response.json
    assert reason in response.json["detail"]
    after = client.get(f"/api/v1/process-instances/{instance_id}").json
    assert (after["revision"], after["status"]) == (before["revision"], "waiting")


def test_a_finished_instance_restarts_from_an_activity_with_its_last_variables(client):
    instance_id = _start(client, {"email": "c@example.org"})
    _complete(client, instance_id, {"approved": False})
    refused = client.post(f"/api/v1/process-instances/{instance_id}/modification",
                          json={"instructions": [{"type": "start_before", "element": "review_application"}]})
    assert refused.status_code == 409 and "restart" in refused.json["detail"]
    response = client.post(f"/api/v1/process-instances/{instance_id}/restart",
                           json={"elements": ["review_application"], "reason": "reviewed too fast"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "waiting" and response.json["ended_at"] is None
    assert response.json["variables"]["email"] == "c@example.org"
    done = _complete(client, instance_id, {"approved": False})
    assert done["status"] == "completed"
    assert [h["event"] for h in _history(client, instance_id) if h["element_id"] == "process"] == [
        "started", "completed", "restarted", "completed"]
    running = _start(client)
    again = client.post(f"/api/v1/process-instances/{running}/restart", json={"elements": ["review_application"]})
    assert again.status_code == 409 and "only an ended instance" in again.json["detail"]


def test_a_selection_migrates_to_v2_and_continues_there_and_what_cannot_be_mapped_is_refused(client, inline_engine):
    first, second, finished = _start(client), _start(client), _start(client)
    _complete(client, finished, {"approved": False})
    inline_engine.deploy([("user_registration.bpmn", V2.encode())])
    plan = client.post("/api/v1/process-definitions/user_registration/migration-plan", json={"source_version": 1})
    assert plan.status_code == 200, plan.json
    assert plan.json["target_version"] == 2 and plan.json["mapping"]["review_application"] == "review_application"
    bad = client.post("/api/v1/process-definitions/user_registration/migration-plan",
                      json={"source_version": 1, "mapping": {"review_application": "record_rejection"}})
    assert bad.status_code == 400 and "a UserTask cannot become a ScriptTask" in bad.json["detail"]
    unmapped = client.post("/api/v1/process-definitions/user_registration/migration", json={
        "source_version": 1, "instance_ids": [first], "mapping": {"review_application": None}})
    assert unmapped.json["results"][0]["ok"] is False
    assert "token at review_application, which the plan maps to nothing" in unmapped.json["results"][0]["error"]
    response = client.post("/api/v1/process-definitions/user_registration/migration", json={
        "source_version": 1, "target_version": 2, "instance_ids": [first, second, finished], "reason": "fix text",
        "batch_size": 2})
    assert response.status_code == 200, response.json
    results = {r["id"]: r for r in response.json["results"]}
    assert results[first]["ok"] and results[second]["ok"]
    assert not results[finished]["ok"] and "completed" in results[finished]["error"]
    for instance_id in (first, second):
        assert client.get(f"/api/v1/process-instances/{instance_id}").json["definition"]["version"] == 2
        done = _complete(client, instance_id, {"approved": False})
        assert done["status"] == "completed" and done["variables"]["rejection_reason"] == "rejected on v2"
        [row] = [h for h in _history(client, instance_id) if h["event"] == "migrated"]
        assert row["details"]["from_version"] == 1 and row["details"]["to_version"] == 2


def test_viewers_may_not_change_instances(client):
    instance_id = _start(client)
    use_token(client, "viewer")
    calls = [
        (f"/api/v1/process-instances/{instance_id}/variables", {"set": {"a": 1}}),
        (f"/api/v1/process-instances/{instance_id}/modification",
         {"instructions": [{"type": "cancel", "element": "review_application"}]}),
        (f"/api/v1/process-instances/{instance_id}/restart", {"elements": ["review_application"]}),
        ("/api/v1/process-definitions/user_registration/migration-plan", {"source_version": 1}),
        ("/api/v1/process-definitions/user_registration/migration", {"source_version": 1}),
    ]
    for url, payload in calls:
        assert client.post(url, json=payload).status_code == 403, url
    assert client.get(f"/api/v1/process-instances/{instance_id}").json["revision"] == 1


def test_the_cli_changes_variables_moves_a_token_and_migrates(settings_factory, inline_engine_factory, services):
    settings = settings_factory()
    engine = inline_engine_factory(settings)
    engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    instance_id = engine.start("user_registration", {})
    env = {"BATON_HOME": str(settings.home), "BATON_ENDPOINTS": str(PROCESSES / "endpoints.toml")}
    edited = baton_cli("change", "variables", instance_id, "--set", '{"approved": false}', "--reason", "cli", env=env)
    assert edited.returncode == 0, edited.stderr
    assert engine.get_instance(instance_id, history=False)["variables"] == {"approved": False}
    engine.deploy([("user_registration.bpmn", V2.encode())])
    migrated = baton_cli("change", "migrate", "user_registration", "--from", "1", "--instance", instance_id, env=env)
    assert migrated.returncode == 0, migrated.stderr
    moved = baton_cli("change", "modify", instance_id, "--cancel", "review_application",
                      "--start-after", "review_application", env=env)
    assert moved.returncode == 0, moved.stderr
    doc = engine.get_instance(instance_id, history=False)
    assert doc["definition"]["version"] == 2 and doc["variables"]["rejection_reason"] == "rejected on v2"
    authors = {h["details"]["by"] for h in engine.get_instance(instance_id)["history"]
               if h["event"] in ("variables", "migrated", "modified")}
    assert len(authors) == 1 and authors.pop().startswith("cli:")


def test_cancelling_a_sub_process_ends_its_inner_tokens_and_an_emptied_one_ends_too(client, inline_engine):
    from tests.conftest import ROOT

    inline_engine.deploy([("nested_review.bpmn", (ROOT / "tests" / "diagrams" / "nested_review.bpmn").read_bytes())])
    instance_id = client.post("/api/v1/process-definitions/nested_review/start", json={}).json["id"]
    inside = client.post(f"/api/v1/process-instances/{instance_id}/modification",
                         json={"instructions": [{"type": "cancel", "element": "inner"}]})
    # the sub-process's only token cancelled: the sub-process ends too, and nothing would be left
    assert inside.status_code == 400 and "without a token" in inside.json["detail"]
    again = client.post(f"/api/v1/process-instances/{instance_id}/modification", json={
        "instructions": [{"type": "cancel", "element": "inner"}, {"type": "start_before", "element": "inner"}]})
    assert again.status_code == 200, again.json  # the inner task anew, inside the same sub-process
    events = [(h["element_id"], h["event"]) for h in _history(client, instance_id)]
    assert events.count(("inner", "entered")) == 2 and ("sub", "cancelled") not in events
    moved = client.post(f"/api/v1/process-instances/{instance_id}/modification", json={
        "instructions": [{"type": "cancel", "element": "sub"}, {"type": "start_before", "element": "after"}]})
    assert moved.status_code == 200, moved.json
    events = [(h["element_id"], h["event"]) for h in _history(client, instance_id)]
    assert ("sub", "cancelled") in events and ("inner", "cancelled") in events
    assert [t["element_id"] for t in client.get(f"/api/v1/tasks?instance_id={instance_id}").json["items"]] == ["after"]


def test_a_parallel_instance_migrated_midway_joins_on_v2(settings_factory, inline_engine_factory, services):
    """Three of ten branches done, the join waiting: the branches that came in still count on v2."""
    from adapters.runner import run_job
    from engine import JobTicket
    from tests.conftest import ROOT

    engine = inline_engine_factory(settings_factory(endpoints=ROOT / "tests" / "endpoints_e2e.toml"))
    diagram = (ROOT / "tests" / "diagrams" / "parallel_ten.bpmn").read_bytes()
    engine.deploy([("parallel_ten.bpmn", diagram)])
    instance_id = engine.start("parallel_ten", {})
    for _ in range(3):
        run_job(engine, engine.driver.queue.popleft().id, "test-worker")
    engine.driver.queue.clear()  # the other seven calls are "in flight" across the migration
    engine.deploy([("parallel_ten.bpmn", diagram.replace(b'name="Branch 1"', b'name="Branch one"'))])
    result = engine.migrate_instances(engine.migration_plan("parallel_ten", 1, 2), [instance_id], by="test")
    assert result["migrated"] == 1, result
    pending = [j for j in engine.get_instance(instance_id, history=False)["jobs"] if j["status"] == "pending"]
    assert len(pending) == 7
    engine.driver.notify([JobTicket(j["id"], instance_id, j["kind"]) for j in pending])
    engine.driver.drain()
    doc = engine.get_instance(instance_id, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)


def test_on_postgresql_edits_moves_and_migrations_hold(settings_factory, inline_engine_factory, services,
                                                       postgres_url):
    """The same changes on PostgreSQL (row locks FOR UPDATE, JSONB variables), and a call's
    attempts kept in job_attempt there."""
    import httpx

    engine = inline_engine_factory(settings_factory(database_url=postgres_url))
    engine.deploy([("user_registration.bpmn", REGISTRATION.encode())])
    first, second = engine.start("user_registration", {"n": 1}), engine.start("user_registration", {"n": 2})
    engine.edit_variables(first, {"approved": False}, ["n"], by="test", reason="pg")
    engine.deploy([("user_registration.bpmn", V2.encode())])
    result = engine.migrate_instances(engine.migration_plan("user_registration", 1), [first, second], by="test")
    assert result["migrated"] == 2, result
    engine.modify_instance(first, [{"type": "cancel", "element": "review_application"},
                                   {"type": "start_after", "element": "review_application"}], by="test")
    doc = engine.get_instance(first, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)
    assert doc["variables"] == {"approved": False, "rejection_reason": "rejected on v2"}
    httpx.post(f"{services}/_control/fail", json={"path": "/accounts/create", "mode": "http500", "count": -1})
    engine.complete_user_task(second, "review_application", {"approved": True})
    for _ in range(400):
        engine.driver.drain()
        if engine.get_instance(second, history=False)["status"] == "incident":
            break
    [incident] = engine.get_instance(second, history=False)["incidents"]
    attempts = engine.incident_detail(incident["id"])["attempts"]
    assert [(a["outcome"], a["response"]["status"]) for a in attempts] == [("retryable", 500)] * 4
    httpx.post(f"{services}/_control/reset")
    engine.set_incident_retries(incident["id"], 1, by="test")
    engine.driver.drain()
    assert engine.incident_detail(incident["id"])["attempts"][-1]["outcome"] == "ok"
