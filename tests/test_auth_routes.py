"""The route map walked: every route declares who may call it, and nobody below that role, or
without a token or session, changes anything.

The walk reads Flask's url_map, so a route added tomorrow is in it: without ``@requires(role)``
(or a place in ``web.auth.OPEN``) the first test fails, and the app refuses the route anyway.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import ROLES
from tests.api_world import World, build_world, snapshot
from tests.auth_helpers import csrf, login, make_token

SAFE = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def world(inline_engine, services) -> World:  # type: ignore[no-untyped-def]
    return build_world(inline_engine, services)


@pytest.fixture
def app(inline_engine):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app(inline_engine.settings, engine=inline_engine)


def routes(app: Any, world: World) -> list[tuple[str, str, str, str | None]]:
    """(endpoint, method, url, required role) of every route but the open ones."""
    from web.auth import OPEN, required_role

    urls = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN:
            continue
        values = {name: world.path_values()[name] for name in rule.arguments}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = urls.build(rule.endpoint, values, method=method)
            found.append((rule.endpoint, method, url, required_role(app.view_functions[rule.endpoint])))
    return found


def test_every_route_declares_a_role_or_is_open(app):
    from web.auth import OPEN, required_role

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    undeclared = sorted(e for e in endpoints if e not in OPEN and required_role(app.view_functions[e]) not in ROLES)
    assert not undeclared, f"routes without @requires(role) and not in web.auth.OPEN: {undeclared}"
    stale = OPEN - endpoints - {"static"}
    assert not stale, f"stale names in OPEN: {stale}"
    assert {e for e in endpoints if e.startswith("api.")} & OPEN == {"api.health", "api.openapi"}


def test_a_route_that_declares_no_role_is_refused_even_to_an_admin(app):
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "secret")
    app.add_url_rule("/forgotten", "forgotten_page", lambda: "secret")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + make_token(app.extensions["baton"], "admin")
    refused = client.get("/api/v1/forgotten")
    assert refused.status_code == 403 and "declares no role" in refused.json["detail"]
    login(client, "admin")
    page = client.get("/forgotten")
    assert page.status_code == 403 and b"secret" not in page.data


def test_nobody_below_the_role_of_a_route_gets_through_and_nothing_changes(app, world):
    table = routes(app, world)
    assert len(table) > 40 and any(m != "GET" for _, m, _, _ in table)
    tokens = {role: make_token(world.engine, role) for role in ROLES}
    sessions = {}
    for role in ROLES:
        sessions[role] = app.test_client()
        login(sessions[role], role)
    anonymous = app.test_client()
    anonymous_csrf = csrf(anonymous, "/login")
    before = snapshot(world.engine)
    leaks = []

    def refused(endpoint: str, method: str, url: str, who: str, response: Any, expect: set[int]) -> None:
        if response.status_code not in expect:
            leaks.append(f"{method} {url} ({endpoint}) as {who}: {response.status_code}, expected {sorted(expect)}")

    for endpoint, method, url, need in table:
        api = url.startswith(("/api/", "/engine-rest/"))  # /engine-rest: Camunda 7's REST API, same rules
        send = {"json": {}} if api and method not in SAFE else {}
        if api:
            refused(endpoint, method, url, "nobody", anonymous.open(url, method=method, **send), {401})
            for role in ROLES[:ROLES.index(need)]:
                response = anonymous.open(url, method=method, headers={"Authorization": f"Bearer {tokens[role]}"},
                                          **send)
                refused(endpoint, method, url, f"a {role} token", response, {403})
            if method not in SAFE:  # a session cookie never changes anything through the API
                refused(endpoint, method, url, "an admin session", sessions["admin"].open(url, method=method, **send),
                        {401})
            continue
        if method in SAFE:
            response = anonymous.open(url, method=method)
            refused(endpoint, method, url, "nobody", response, {302})
            assert "/login" in response.headers.get("Location", "/login")
        else:
            refused(endpoint, method, url, "nobody without CSRF", anonymous.open(url, method=method), {400})
            refused(endpoint, method, url, "nobody with CSRF",
                    anonymous.open(url, method=method, data={"csrf_token": anonymous_csrf}), {302})
            refused(endpoint, method, url, "an admin without CSRF", sessions["admin"].open(url, method=method), {400})
        for role in ROLES[:ROLES.index(need)]:
            data = {"csrf_token": csrf(sessions[role])} if method not in SAFE else None
            refused(endpoint, method, url, f"a {role} session", sessions[role].open(url, method=method, data=data),
                    {403})
    assert not leaks, "\n".join(leaks)
    assert snapshot(world.engine) == before

    # The control: with its role, each route is reached (it may still refuse the input, never the caller).
    for _, method, url, need in table:
        if url.startswith(("/api/", "/engine-rest/")):
            response = anonymous.open(url, method=method, headers={"Authorization": f"Bearer {tokens[need]}"},
                                      **({"json": {}} if method not in SAFE else {}))
        else:
            client = sessions[need]
            response = client.open(url, method=method, data={"csrf_token": csrf(client)} if method not in SAFE
                                   else None)
        assert response.status_code not in (401, 403) and response.status_code < 500, (
            f"{method} {url} as {need}: {response.status_code} {response.get_data(as_text=True)[:300]}")


def test_viewers_read_everything_and_change_nothing(app, world):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + make_token(world.engine, "viewer")
    assert client.get(f"/api/v1/process-instances/{world.waiting}").status_code == 200
    assert client.get("/api/v1/incidents").json["items"]
    for url, body in [(f"/api/v1/process-instances/{world.waiting}/cancel", {}),
                      (f"/api/v1/incidents/{world.incident}/retry", {}),
                      ("/api/v1/process-definitions/order_fulfillment/start", {}),
                      ("/api/v1/messages", {"name": "x"}), ("/api/v1/tokens", {"role": "admin"})]:
        response = client.post(url, json=body)
        assert response.status_code == 403 and "needs the" in response.json["detail"], url
    page = app.test_client()
    login(page, "viewer")
    assert page.get(f"/instances/{world.waiting}").status_code == 200
    cancel = page.post(f"/instances/{world.waiting}/cancel", data={"csrf_token": csrf(page)})
    assert cancel.status_code == 403 and b"needs the operator role" in cancel.data
    assert world.engine.get_instance(world.waiting, history=False)["status"] == "waiting"
