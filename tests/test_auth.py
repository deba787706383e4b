"""Logins, tokens, CSRF, the login throttle and the security headers, through the public doors."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from tests.auth_helpers import PASSWORD, csrf, csrf_of, login, make_token, make_user
from tests.conftest import baton_cli


@pytest.fixture
def engine(settings_factory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Engine

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    eng = Engine(settings, notifier=lambda tickets: None)
    yield eng
    eng.close()


@pytest.fixture
def app(engine):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app(engine.settings, engine=engine)


def every_stored_text(engine) -> str:  # type: ignore[no-untyped-def]
    """Every value of every table, as one string: what a stolen database file would show."""
    found = []
    with engine.db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            found += [repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    return "\n".join(found)


def test_tokens_and_passwords_are_not_stored_in_clear(app, engine):
    client = app.test_client()
    created = client.post("/api/v1/tokens", json={"role": "operator", "name": "ci"},
                          headers={"Authorization": f"Bearer {make_token(engine, 'admin')}"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = created.json["token"]
    assert secret.startswith("baton_") and len(secret) > 40
    make_user(engine, "viewer", "dana")
    stored = every_stored_text(engine)
    assert secret not in stored and secret[12:] not in stored and PASSWORD not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert "scrypt$32768$8$1$" in stored
    listed = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"})
    assert listed.status_code == 403  # an operator token does not manage tokens
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json["role"] == "operator"


def test_a_revoked_or_unknown_token_is_refused(app, engine):
    client = app.test_client()
    record, secret = engine.create_token("admin", "soon gone")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    engine.revoke_token(record["id"])
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    for header in (f"Bearer {secret[:-1]}x", "Bearer ", "Basic YWRtaW46YWRtaW4=", "baton_x"):
        assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401, header


def test_the_bootstrap_token_is_an_admin_only_when_configured(engine):
    from web import create_app

    client = create_app(engine.settings.replace(api_token="boot-" + "s" * 40), engine=engine).test_client()
    me = client.get("/api/v1/me", headers={"Authorization": "Bearer boot-" + "s" * 40})
    assert me.status_code == 200 and me.json == {"kind": "bootstrap", "id": "bootstrap", "name": "BATON_API_TOKEN",
                                                 "role": "admin"}
    plain = create_app(engine.settings, engine=engine).test_client()
    assert plain.get("/api/v1/me", headers={"Authorization": "Bearer boot-" + "s" * 40}).status_code == 401


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(app, engine):
    client = app.test_client()
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?next=")
    login(client, "viewer")
    cookie = client.get_cookie("baton_session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    page = client.get("/")
    assert page.status_code == 200 and b"Log out" in page.data
    assert page.headers["Cache-Control"] == "no-store"
    client.post("/logout", data={"csrf_token": csrf(client)})
    assert client.get("/").status_code == 302

    https = app.test_client()
    name = make_user(engine, "viewer")
    form = https.get("/login", base_url="https://baton.example")
    https.post("/login", base_url="https://baton.example", data={
        "username": name, "password": PASSWORD, "csrf_token": csrf_of(form.get_data(as_text=True))})
    assert https.get_cookie("baton_session", domain="baton.example").secure


def test_login_goes_back_only_to_a_page_of_this_site(app, engine):
    name = make_user(engine, "viewer")
    for target, lands in [("/instances?status=incident", "/instances?status=incident"), ("//evil.example/", "/"),
                          ("https://evil.example/", "/"), ("/\\evil.example", "/")]:
        client = app.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token,
                                               "next": target})
        assert response.headers["Location"] == lands, target


def test_a_new_password_or_role_applies_to_open_sessions_at_once(app, engine):
    client = app.test_client()
    name = login(client, "operator")
    assert b"needs the" not in client.get("/").data
    engine.update_user(name, role="viewer")
    refused = client.post("/incidents/retry", data={"incident": "x", "csrf_token": csrf(client)})
    assert refused.status_code == 403
    engine.update_user(name, password="another long password")
    assert client.get("/").status_code == 302  # logged out: the session was made with the old password


def test_csrf_is_enforced_on_every_form_and_fetch(app, engine):
    client = app.test_client()
    login(client, "admin")
    token = csrf(client)
    for data in ({"incident": "x"}, {"incident": "x", "csrf_token": "forged"}):
        refused = client.post("/incidents/retry", data=data)
        assert refused.status_code == 400 and b"did not come from this Baton page" in refused.data
    assert client.post("/incidents/retry", data={"incident": "x", "csrf_token": token}).status_code == 302
    # The modeler's fetch sends the <meta name="csrf-token"> value as a header (Baton.csrfHeaders).
    assert f'<meta name="csrf-token" content="{token}">' in client.get("/modeler").get_data(as_text=True)
    body = {"xml": "<x/>", "file_name": "m.bpmn"}
    assert client.post("/modeler/deploy", json=body).status_code == 400
    assert client.post("/modeler/deploy", json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    answered = client.post("/modeler/deploy", json=body, headers={"X-CSRFToken": token})
    assert answered.status_code == 422 and answered.json["problems"]
    # Another browser's token is not this session's.
    other = app.test_client()
    login(other, "admin")
    assert client.post("/incidents/retry", data={"incident": "x", "csrf_token": csrf(other)}).status_code == 400
    # Logging in itself needs the login page's token (no login CSRF).
    name = make_user(engine, "viewer")
    assert app.test_client().post("/login", data={"username": name, "password": PASSWORD}).status_code == 400


def test_failed_logins_are_throttled_per_user_name_and_per_address(app, engine):
    from web.login_throttle import LoginThrottle

    now = [1000.0]  # the throttle's clock: a slow machine (scrypt per attempt) must not slide its window
    app.extensions["baton_login_throttle"] = LoginThrottle(per_user=3, per_address=6, window=1.5,
                                                           clock=lambda: now[0])
    victim = make_user(engine, "admin", "victim")

    def attempt(name: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
        client = app.test_client()  # a browser of its own each time: a success starts a new session
        token = csrf_of(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"username": name, "password": password, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        assert attempt(victim, "wrong password!").status_code == 401
    limited = attempt(victim, PASSWORD)  # even the right password waits now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert b"Too many failed logins" in limited.data
    assert attempt(victim, PASSWORD, address="10.0.0.2").status_code == 429  # per user name, from anywhere
    other = make_user(engine, "viewer", "bystander")
    assert attempt(other, PASSWORD, address="10.0.0.1").status_code == 302  # another user from there is fine
    for n in range(3):  # the address's budget: 6 failures, whatever the names
        assert attempt(f"nobody{n}", "wrong password!", address="10.0.0.9").status_code == 401
    for n in range(3):
        attempt(f"else{n}", "wrong password!", address="10.0.0.9")
    assert attempt(other, PASSWORD, address="10.0.0.9").status_code == 429
    now[0] += 1.6  # the window slides
    assert attempt(victim, PASSWORD).status_code == 302


def test_every_response_carries_the_security_headers(app, engine):
    client = app.test_client()
    login(client, "viewer")
    for url in ("/", "/login", "/static/baton.css", "/api/v1/health", "/api/v1/nothing-here", "/no-such-page"):
        headers = client.get(url).headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["X-Frame-Options"] == "DENY", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-eval" not in csp and "object-src 'none'" in csp
    assert client.get("/api/v1/health").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_make_run_creates_the_first_admin_once(engine):
    password = engine.ensure_admin()
    assert password and len(password) >= 16
    assert engine.authenticate("admin", password)["role"] == "admin"
    assert engine.ensure_admin() is None and engine.ensure_admin("whatever-password") is None
    assert [u["name"] for u in engine.list_users()] == ["admin"]


def test_the_last_admin_stays(engine):
    from engine import InvalidRequest

    engine.ensure_admin("a-long-admin-password")
    with pytest.raises(InvalidRequest, match="last admin"):
        engine.delete_user("admin")
    with pytest.raises(InvalidRequest, match="last admin"):
        engine.update_user("admin", role="operator")
    make_user(engine, "admin", "second")
    engine.update_user("admin", role="operator")
    assert {u["name"]: u["role"] for u in engine.list_users()} == {"admin": "operator", "second": "admin"}


def test_users_and_tokens_from_the_cli(tmp_path):
    env = {"BATON_HOME": str(tmp_path / "home"), "BATON_DATABASE_URL": "", "BATON_BROKER_URL": ""}
    assert baton_cli("db", "upgrade", env=env).returncode == 0
    import subprocess
    import sys

    from tests.conftest import ROOT

    made = subprocess.run([sys.executable, "-m", "web.cli", "user", "create", "alice", "--role", "operator",
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT,
                          env={**__import__("os").environ, **env}, timeout=60)
    assert made.returncode == 0, made.stderr
    created = baton_cli("token", "create", "--role", "viewer", "--name", "grafana", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("baton_") and "\n" not in secret and secret not in created.stderr
    token_id = created.stderr.split()[1]
    listed = baton_cli("token", "list", env=env).stdout
    assert token_id in listed and "grafana" in listed and secret not in listed
    assert baton_cli("token", "revoke", token_id, env=env).returncode == 0
    assert token_id not in baton_cli("token", "list", env=env).stdout
    refused = baton_cli("token", "create", "--role", "root", env=env)
    assert refused.returncode != 0 and "root" in refused.stderr

    from engine import Engine, Settings

    eng = Engine(Settings(home=tmp_path / "home"))
    assert eng.authenticate("alice", PASSWORD)["role"] == "operator"
    assert eng.token_identity(secret) is None
    eng.close()
