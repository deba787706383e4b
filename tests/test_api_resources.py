"""Everything the UI can do, through /api/v1: deployments, versions and their XML, the instance list
with the UI's filters and cursor pages, one instance's parts, suspend/resume, bulk retry, users
and tokens."""

from __future__ import annotations

import io

import pytest

from tests.api_world import World, build_world, drain_until
from tests.auth_helpers import PASSWORD, use_token


@pytest.fixture
def world(inline_engine, services) -> World:  # type: ignore[no-untyped-def]
    return build_world(inline_engine, services)


@pytest.fixture
def client(inline_engine):  # type: ignore[no-untyped-def]
    from web import create_app

    client = create_app(inline_engine.settings, engine=inline_engine).test_client()
    use_token(client, "admin")
    return client


def test_deployments_and_definition_versions_with_their_xml(client, world):
    deployed = client.post("/api/v1/deployments", data={"files": (io.BytesIO(
        (world.engine.definition_xml("order_fulfillment")).replace('name="', 'name="Renamed ', 1).encode()),
        "again.bpmn"), "name": "rename"}, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    page = client.get("/api/v1/deployments?limit=1").json
    assert page["total"] == 2 and len(page["items"]) == 1
    newest = page["items"][0]
    assert newest["name"] == "rename" and newest["deployed_by"] == "token:test admin"
    assert newest["definitions"][0]["key"] == "order_fulfillment"
    assert client.get(f"/api/v1/deployments/{newest['id']}").json == newest
    assert client.get("/api/v1/deployments/nope").status_code == 404

    version = client.get("/api/v1/process-definitions/order_fulfillment/versions/2").json
    assert version["version"] == 2 and 'name="Renamed ' in version["xml"]
    v1 = client.get("/api/v1/process-definitions/order_fulfillment/versions/1").json
    assert 'name="Renamed ' not in v1["xml"] and v1["instances"] == 2
    xml = client.get("/api/v1/process-definitions/order_fulfillment/xml?version=1")
    assert xml.mimetype == "application/xml" and xml.get_data(as_text=True) == v1["xml"]
    assert client.get("/api/v1/process-definitions/order_fulfillment/versions/9").status_code == 404


def test_the_instance_list_filters_like_the_ui_and_pages_with_a_cursor(client, world):
    for n in range(5):
        world.engine.start("user_registration", {"email": f"p{n}@example.org", "tier": "gold" if n % 2 else "x"},
                           business_key=f"page-{n}")
    first = client.get("/api/v1/process-instances?definition=user_registration&limit=2&order=asc").json
    assert first["total"] == 6 and len(first["items"]) == 2 and first["next"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next"]
    while cursor:
        page = client.get(f"/api/v1/process-instances?definition=user_registration&limit=2&order=asc"
                          f"&after={cursor}").json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 6
    gold = client.get("/api/v1/process-instances?variable=tier&value=gold").json
    assert {i["business_key"] for i in gold["items"]} == {"page-1", "page-3"}
    assert client.get("/api/v1/process-instances?status=incident").json["items"][0]["id"] == world.incident_instance
    assert client.get("/api/v1/process-instances?business_key=world-done").json["total"] == 1
    assert client.get("/api/v1/process-instances?started_from=2999-01-01T00:00:00Z").json["total"] == 0
    bad = client.get("/api/v1/process-instances?after=garbage")
    assert bad.status_code == 400 and "cursor" in bad.json["detail"]
    typo = client.get("/api/v1/process-instances?stauts=incident")
    assert typo.status_code == 400 and "stauts" in typo.json["detail"]


def test_one_instance_in_parts(client, world):
    base = f"/api/v1/process-instances/{world.incident_instance}"
    history = client.get(f"{base}/history?limit=3").json
    assert len(history["items"]) == 3 and history["older"]
    older = client.get(f"{base}/history?limit=100&before={history['older']}").json
    assert older["items"][0]["seq"] < history["items"][-1]["seq"]
    assert client.get(f"{base}/variables").json["variables"]["amount"] == 4
    jobs = client.get(f"{base}/jobs").json["items"]
    assert any(j["status"] == "failed" for j in jobs)
    assert client.get(f"{base}/incidents").json["items"][0]["id"] == world.incident
    elements = client.get(f"{base}/elements").json
    assert elements["incident_elements"] == ["reserve_inventory"]
    assert elements["elements"]["reserve_inventory"]["state"] == "failed"
    assert client.get("/api/v1/process-instances/nope/history").status_code == 404
    assert client.get("/api/v1/overview").json["open_incidents"] == 1


def test_suspend_resume_and_retry_many(client, world):
    suspended = client.post(f"/api/v1/process-instances/{world.waiting}/suspend")
    assert suspended.status_code == 200 and suspended.json["status"] == "suspended"
    again = client.post(f"/api/v1/process-instances/{world.waiting}/suspend")
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert client.post(f"/api/v1/process-instances/{world.waiting}/resume").json["status"] == "waiting"

    retried = client.post("/api/v1/incidents/retry", json={"ids": [world.incident, "no-such-incident"]}).json
    assert [r["ok"] for r in retried["results"]] == [True, False]
    assert "no-such-incident" in retried["results"][1]["error"]
    drain_until(world.engine, lambda: world.engine.get_instance(world.incident_instance,
                                                                history=False)["status"] == "completed")
    assert client.get("/api/v1/incidents?state=open").json["items"] == []
    assert client.get("/api/v1/incidents?state=resolved").json["items"][0]["id"] == world.incident


def test_tasks_by_group_and_by_element(client, world):
    tasks = client.get(f"/api/v1/tasks?instance_id={world.waiting}").json["items"]
    assert [t["id"] for t in tasks] == [world.task]
    done = client.post(f"/api/v1/process-instances/{world.waiting}/tasks/review_application/complete",
                       json={"variables": {"approved": True}})
    assert done.status_code == 200
    assert client.get(f"/api/v1/tasks/{world.task}").status_code == 404


def test_users_and_tokens_through_the_api(client, world):
    made = client.post("/api/v1/users", json={"name": "erin", "role": "operator", "password": PASSWORD})
    assert made.status_code == 201 and made.json["role"] == "operator" and "password" not in made.json
    assert client.post("/api/v1/users", json={"name": "erin", "role": "viewer", "password": PASSWORD}
                       ).status_code == 400
    assert client.patch("/api/v1/users/erin", json={"role": "viewer"}).json["role"] == "viewer"
    assert client.delete("/api/v1/users/erin").status_code == 204
    assert "erin" not in [u["name"] for u in client.get("/api/v1/users").json["items"]]

    token = client.post("/api/v1/tokens", json={"role": "viewer", "name": "dashboards"}).json
    assert token["token"].startswith("baton_")  # it works at once, and stops at revocation
    other = client.application.test_client()
    assert other.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"}).json["role"] == "viewer"
    assert client.delete(f"/api/v1/tokens/{token['id']}").json["revoked_at"]
    assert other.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 401
    listed = client.get("/api/v1/tokens?include_revoked=true").json["items"]
    assert token["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    assert token["id"] not in [t["id"] for t in client.get("/api/v1/tokens").json["items"]]
