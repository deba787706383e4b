"""Browser fixtures: Debian's Chromium driven by Playwright against a real Baton web server.

The server is werkzeug on 127.0.0.1 and a free port, in a thread, over the embedded SQLite
engine of ``inline_engine``; a background thread drains its jobs so the browser can watch
instances move. With ``CI=true`` a missing browser, Playwright or bpmn-js build fails the run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_helpers import PASSWORD, make_user
from tests.conftest import IN_CI, ROOT

CHROMIUM = os.environ.get("BATON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VENDOR = ROOT / "web" / "static" / "vendor"
ARTIFACTS = ROOT / "artifacts"


def need_browser() -> None:
    """Skip (developer machine) or fail (CI) when Chromium, Playwright or bpmn-js is missing."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"Chromium is not at {CHROMIUM} (apt-get install -y chromium)"
    elif not (VENDOR / "bpmn-navigated-viewer.production.min.js").exists():
        missing = f"bpmn-js is not in {VENDOR} (make vendor)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright is not installed (pip install -e '.[dev]')"
    if missing:
        if IN_CI:
            pytest.fail(missing + "; CI needs it", pytrace=False)
        pytest.skip(missing)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Drainer:
    """Runs the inline driver's jobs in the background, like a worker would; pausable."""

    def __init__(self, driver: Any):
        self.driver = driver
        self.running = threading.Event()
        self.running.set()
        self.stopped = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            if self.running.is_set():
                # A failing job must not kill the "worker"; the ticket stays queued and a timed-out
                # wait_for says what broke.
                try:
                    self.driver.drain()
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


@dataclass
class Live:
    """The running app: its URL, the engine behind it, the demo services and the job drainer."""

    url: str
    engine: Any
    app: Any
    services: str
    drainer: Drainer
    console_errors: list[str] = field(default_factory=list)
    user: str = "browser-admin"  # the admin every ``page`` is logged in as (tests/auth_helpers.PASSWORD)

    def fail_service(self, path: str, mode: str = "http500", count: int = -1, **extra: Any) -> None:
        httpx.post(f"{self.services}/_control/fail", json={"path": path, "mode": mode, "count": count, **extra})

    def reset_services(self) -> None:
        httpx.post(f"{self.services}/_control/reset")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 45.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        broke = f"; the job drainer failed with: {self.drainer.errors[-3:]}" if self.drainer.errors else ""
        queued = [(t.kind, t.eta_seconds) for t in list(self.drainer.driver.queue)]
        raise AssertionError(f"timed out after {timeout}s waiting for {what}{broke}; tickets queued: {queued}")

    def status(self, instance_id: str) -> str:
        return self.engine.get_instance(instance_id, history=False)["status"]


@pytest.fixture
def live(inline_engine: Any, services: str) -> Iterator[Live]:
    from werkzeug.serving import make_server

    from web.app import create_app

    app = create_app(inline_engine.settings, engine=inline_engine)
    # A small upload limit, so "too big" is cheap to test; the banner fires fast in tests.
    app.config.update(MAX_CONTENT_LENGTH=512 * 1024, BATON_UI_OVERDUE_SECONDS=1.0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    drainer = Drainer(inline_engine.driver)
    make_user(inline_engine, "admin", "browser-admin")
    try:
        yield Live(url=f"http://127.0.0.1:{server.server_port}", engine=inline_engine, app=app,
                   services=services, drainer=drainer)
    finally:
        drainer.stop()
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    """A fresh page; every console error and uncaught exception lands in ``live.console_errors``."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live.url)
    tab = context.new_page()
    # A bound that catches a hang, not a timing of the UI: on a loaded machine (two xdist workers,
    # make test-under-load's burners) a sign-in or a page with a diagram can take many seconds.
    tab.set_default_timeout(45_000)
    tab.on("console", lambda msg: live.console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: live.console_errors.append(str(exc)))
    sign_in(tab, live.user)
    try:
        yield tab
    finally:
        context.close()


def sign_in(page: Any, user: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would; the page lands on the dashboard."""
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_selector("header .whoami")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def markers(page: Any, element_id: str) -> set[str]:
    """The CSS classes bpmn-js put on an element's graphics (its markers)."""
    classes = page.get_attribute(f'.djs-element[data-element-id="{element_id}"]', "class") or ""
    return set(classes.split())
