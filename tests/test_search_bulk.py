"""Find and act on many, through the API and the CLI: business-key and variable search by prefix
and contains (SQLite and PostgreSQL, whose indexes serve them), the element and incident
filters, bulk actions with a result per id, a definition's element counts, a deployment's files
and its delete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth_helpers import use_token
from tests.conftest import PROCESSES, baton_cli

REGISTRATION = PROCESSES / "user_registration.bpmn"
KEYS = ("trip-0001", "trip-0002", "Trip-0003", "order-trip", "tri_p-9", "100%-trip")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, settings_factory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import EndpointMap, Engine

    if request.param == "postgresql":
        settings = settings_factory(database_url=request.getfixturevalue("postgres_url"))
    else:
        settings = settings_factory()
    migrations.upgrade(settings.database_url)
    eng = Engine(settings, notifier=lambda tickets: None, endpoints=EndpointMap.load(PROCESSES / "endpoints.toml"))
    eng.deploy([("user_registration.bpmn", REGISTRATION.read_bytes())])
    for n, key in enumerate(KEYS):
        eng.start("user_registration", {"email": f"{key.lower()}@example.org", "note": f"Guest {n} from Lyon_{n}"},
                  business_key=key)
    yield eng
    eng.close()


def _keys(engine: Any, **filters: Any) -> list[str]:
    return sorted(i["business_key"] for i in engine.find_instances(limit=100, **filters)["items"])


def test_business_keys_by_prefix_and_contains_with_wildcards_taken_literally(engine):
    assert _keys(engine, business_key="trip*") == ["trip-0001", "trip-0002"]  # a prefix keeps the case
    assert _keys(engine, business_key="trip", key_match="prefix") == ["trip-0001", "trip-0002"]
    assert _keys(engine, business_key="*TRIP*") == ["100%-trip", "Trip-0003", "order-trip", "trip-0001",
                                                      "trip-0002"]  # contains ignores case
    assert _keys(engine, business_key="trip-0001") == ["trip-0001"]
    assert _keys(engine, business_key="trip") == []  # exact unless told otherwise
    # LIKE's own wildcards are text here: "_" and "%" match only themselves.
    assert _keys(engine, business_key="tri_*") == ["tri_p-9"]
    assert _keys(engine, business_key="*0%*") == ["100%-trip"]


def test_variables_by_prefix_and_contains_and_element_and_incident_filters(engine):
    from engine import InvalidRequest

    assert _keys(engine, variable="email", value="trip-000", value_match="prefix") == ["Trip-0003", "trip-0001",
                                                                                        "trip-0002"]
    assert _keys(engine, variable="note", value="lyon_4", value_match="contains") == ["tri_p-9"]
    assert _keys(engine, variable="note", value="Lyon_4", value_match="prefix") == []
    with pytest.raises(InvalidRequest, match="value match"):
        engine.find_instances(variable="note", value="x", value_match="regex")
    assert len(_keys(engine, element="review_application")) == len(KEYS)
    assert _keys(engine, element="review_application", element_state="completed") == []
    assert len(_keys(engine, incident=False)) == len(KEYS) and _keys(engine, incident=True) == []


def test_bulk_actions_answer_per_id_and_counts_follow(engine):
    ids = [i["id"] for i in engine.find_instances(business_key="trip*")["items"]]
    results = engine.act_on_instances("suspend", [*ids, "no-such-id"], by="test")
    assert [r["ok"] for r in results] == [True, True, False]
    assert "no process instance no-such-id" in results[2]["error"]
    assert _keys(engine, status="suspended") == ["trip-0001", "trip-0002"]
    again = engine.act_on_instances("suspend", ids[:1], by="test")
    assert again[0]["ok"] is False and "suspended" in again[0]["error"]
    assert [r["status"] for r in engine.act_on_instances("cancel", ids, reason="bulk", by="test")] \
        == ["cancelled", "cancelled"]
    retried = engine.act_on_instances("retry", ids[:1], by="test")
    assert retried[0]["ok"] is False
    counts = engine.element_counts("user_registration")
    assert counts["instances"] == len(KEYS)
    assert counts["elements"]["review_application"] == {"active": len(KEYS) - 2, "incidents": 0, "completed": 0,
                                                        "cancelled": 2}


def test_the_api_searches_acts_in_bulk_counts_and_deletes_deployments(inline_engine):
    from web import create_app

    inline_engine.deploy([("user_registration.bpmn", REGISTRATION.read_bytes())], name="signup")
    ids = [inline_engine.start("user_registration", {"email": f"{n}@example.org"}, business_key=f"api-{n}")
           for n in range(3)]
    app = create_app(inline_engine.settings, engine=inline_engine)
    viewer, operator, admin = app.test_client(), app.test_client(), app.test_client()
    use_token(viewer, "viewer")
    use_token(operator, "operator")
    use_token(admin, "admin")

    page = viewer.get("/api/v1/process-instances?business_key=api-*&element=review_application").json
    assert sorted(i["id"] for i in page["items"]) == sorted(ids)
    assert viewer.get("/api/v1/process-instances?business_key=**").status_code == 400  # nothing to match
    assert viewer.post("/api/v1/process-instances/bulk", json={"action": "cancel", "ids": ids}).status_code == 403
    answer = operator.post("/api/v1/process-instances/bulk", json={"action": "cancel", "ids": [ids[0], "nope"]})
    assert answer.status_code == 200
    assert [(r["id"], r["ok"]) for r in answer.json["results"]] == [(ids[0], True), ("nope", False)]
    assert operator.post("/api/v1/process-instances/bulk", json={"action": "explode", "ids": ids}).status_code == 400

    counts = viewer.get("/api/v1/process-definitions/user_registration/versions/1/element-counts").json
    assert counts["elements"]["review_application"]["active"] == 2
    assert counts["elements"]["review_application"]["cancelled"] == 1
    assert viewer.get("/api/v1/process-definitions/user_registration/versions/9/element-counts").status_code == 404

    [deployment] = viewer.get("/api/v1/deployments").json["items"]
    file = viewer.get(f"/api/v1/deployments/{deployment['id']}/files/user_registration.bpmn")
    assert file.status_code == 200 and file.data == REGISTRATION.read_bytes()
    assert "attachment" in file.headers["Content-Disposition"]
    assert viewer.get(f"/api/v1/deployments/{deployment['id']}/files/other.bpmn").status_code == 404
    assert operator.delete(f"/api/v1/deployments/{deployment['id']}").status_code == 403
    refused = admin.delete(f"/api/v1/deployments/{deployment['id']}")
    assert refused.status_code == 409 and "2 instance(s) that have not ended" in refused.json["detail"]
    operator.post("/api/v1/process-instances/bulk", json={"action": "cancel", "ids": ids[1:]})
    gone = admin.delete(f"/api/v1/deployments/{deployment['id']}")
    assert gone.status_code == 200 and gone.json["instances_deleted"] == 3
    assert viewer.get("/api/v1/process-definitions").json["items"] == []


def test_the_cli_searches_and_cancels_in_bulk(settings_factory, inline_engine_factory, services):
    settings = settings_factory()
    engine = inline_engine_factory(settings)
    engine.deploy([("user_registration.bpmn", REGISTRATION.read_bytes())])
    ids = [engine.start("user_registration", {"email": f"c{n}@example.org"}, business_key=f"cli-{n}")
           for n in range(2)]
    env = {"BATON_HOME": str(settings.home), "BATON_ENDPOINTS": str(PROCESSES / "endpoints.toml")}
    found = baton_cli("search", "cli-*", "--element", "review_application", "--ids", env=env)
    assert found.returncode == 0, found.stderr
    assert sorted(found.stdout.split()) == sorted(ids)
    done = baton_cli("bulk", "cancel", *ids, "no-such-id", "--reason", "from the cli", env=env)
    assert done.returncode == 1  # one was refused
    assert f"{ids[0]}  ok  cancelled" in done.stdout and "no-such-id  refused: no process instance" in done.stdout
    assert "cancel: 2 done, 1 refused" in done.stderr
    assert [engine.get_instance(i, history=False)["status"] for i in ids] == ["cancelled", "cancelled"]
    none = baton_cli("search", "*LI-*", "--status", "waiting", env=env)
    assert none.returncode == 0 and none.stdout == "" and "0 match" in none.stderr
