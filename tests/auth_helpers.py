"""Signing in from tests: an API token or a logged-in UI session of a given role.

Every route needs a role now (``web/auth.py``), so tests that drive the app through Flask's test
client or a browser sign in first, through the same doors a person uses::

    client = app.test_client()
    use_token(client, "operator")     # every request carries Authorization: Bearer <token>
    login(client, "admin")            # or: the UI's login form, its CSRF token, the session cookie
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _engine(client: Any) -> Any:
    return client.application.extensions["baton"]


def make_token(engine: Any, role: str = "admin") -> str:
    return engine.create_token(role, f"test {role}")[1]


def use_token(client: Any, role: str = "admin") -> str:
    """Send a new token of ``role`` with every request of ``client``; returns the secret."""
    secret = make_token(_engine(client), role)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return secret


def make_user(engine: Any, role: str = "admin", name: str | None = None) -> str:
    name = name or f"{role}-{secrets.token_hex(3)}"
    engine.create_user(name, role, PASSWORD)
    return name


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client: Any, role: str = "admin", name: str | None = None, password: str = PASSWORD) -> str:
    """Log in through /login (creating the user unless ``name`` is given); returns the user name."""
    if name is None:
        name = make_user(_engine(client), role)
    page = client.get("/login")
    response = client.post("/login", data={"username": name, "password": password,
                                           "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return name


def csrf(client: Any, path: str = "/") -> str:
    """The session's CSRF token, as a page of the UI carries it."""
    return csrf_of(client.get(path).get_data(as_text=True))


@contextmanager
def api_client(engine: Any, role: str) -> Iterator[Any]:
    """A Flask test client with a ``role`` token on ``engine``, whose jobs a background thread
    runs as they appear (it plays the Celery worker)."""
    from web import create_app

    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            engine.driver.drain()
            time.sleep(0.02)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    client = create_app(engine.settings, engine=engine).test_client()
    use_token(client, role)
    try:
        yield client
    finally:
        stop.set()
        thread.join(5)
