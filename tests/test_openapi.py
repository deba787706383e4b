"""The OpenAPI document and the code agree: every route is described, every description routed,
the roles it states are the roles the routes check, and Flask's own errors are problem+json."""

from __future__ import annotations

import pytest


@pytest.fixture
def app(settings_factory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Engine
    from web import create_app

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=lambda tickets: None)
    yield create_app(settings, engine=engine)
    engine.close()


@pytest.fixture
def doc(app):  # type: ignore[no-untyped-def]
    response = app.test_client().get("/api/v1/openapi.json")  # open: no token needed to read it
    assert response.status_code == 200
    return response.json


def test_every_api_route_is_in_the_document_and_every_operation_is_routed(app, doc):
    from web.api_schemas import OPERATIONS
    from web.openapi import api_rules, openapi_path

    routed = {(openapi_path(rule), method.lower()) for rule, method in api_rules(app)}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routed - documented == set(), "routes missing from the document"
    assert documented - routed == set(), "operations with no route"
    endpoints = {rule.endpoint for rule, _ in api_rules(app)}
    assert set(OPERATIONS) == endpoints, f"described, not routed: {set(OPERATIONS) - endpoints}"


def test_path_parameters_match_the_routes(app, doc):
    from web.openapi import api_rules, openapi_path

    for rule, method in api_rules(app):
        operation = doc["paths"][openapi_path(rule)][method.lower()]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(rule.arguments), f"{method} {rule.rule}: {declared} vs {set(rule.arguments)}"


def test_the_document_states_the_role_each_route_checks(app, doc):
    from web.auth import OPEN, required_role
    from web.openapi import api_rules, openapi_path

    for rule, method in api_rules(app):
        operation = doc["paths"][openapi_path(rule)][method.lower()]
        if rule.endpoint in OPEN:
            assert operation["security"] == [] and "x-baton-role" not in operation
        else:
            assert operation["x-baton-role"] == required_role(app.view_functions[rule.endpoint])
            assert operation["security"] == [{"bearer": []}] and {"401", "403"} <= set(operation["responses"])
    assert doc["openapi"] == "3.1.0"


def test_an_undescribed_route_breaks_the_document(app):
    from web.auth import requires
    from web.openapi import document

    app.add_url_rule("/api/v1/undescribed", "api.undescribed", requires("viewer")(lambda: "x"))
    with pytest.raises(LookupError, match="undescribed"):
        document(app)


def test_the_document_loads_as_openapi_3_1(doc):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(doc)
    assert len(list(schema.get_all_operations())) == sum(len(item) for item in doc["paths"].values())


def test_flask_s_own_errors_under_api_are_problem_json(app):
    client = app.test_client()
    missing = client.get("/api/v1/no/such/route")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert "openapi.json" in missing.json["detail"]
    wrong = client.put("/api/v1/health")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "GET" in wrong.json["detail"] and "GET" in wrong.headers["Allow"]
    assert client.get("/no/such/page").mimetype == "text/html"


def test_input_is_checked_against_the_description(app):
    from tests.auth_helpers import use_token

    client = app.test_client()
    use_token(client, "admin")
    bad_query = client.get("/api/v1/process-instances?limit=abc&status=nope")
    assert bad_query.status_code == 400 and bad_query.mimetype == "application/problem+json"
    assert any("limit" in e for e in bad_query.json["errors"])
    bad_body = client.post("/api/v1/messages", json={"name": "", "ttl": -1, "variables": [1]})
    assert bad_body.status_code == 400
    assert sorted(bad_body.json["errors"]) == ["body.name must have at least 1 character(s)",
                                               "body.ttl must be greater than 0",
                                               "body.variables must be object or null"]
    not_json = client.post("/api/v1/signals", data="{", content_type="application/json")
    assert not_json.status_code == 400 and "not JSON" in not_json.json["detail"]
