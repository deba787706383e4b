"""schemathesis against ``/api/v1/openapi.json``: generated calls to every operation, answered
by the WSGI app in this process over an embedded engine with the bundled processes deployed and a
worker thread running jobs. Each call carries a token of exactly the role the operation names
(``x-baton-role``), so the least role is proven enough. Zero 5xx, zero answers off the schema.

Three passes: schema-valid input; schema-valid input with URLs naming things that exist (a waiting
instance, an open task, an incident, a token, a user: ``tests/api_world.py``); invalid input,
which must be refused with a 4xx.

Bounded: ``MAX_EXAMPLES`` per operation (about 40 operations; a minute or two here).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, PROCESSES

try:
    import schemathesis
except ImportError:  # the dev extras bring it; CI must run this, a bare checkout may skip it
    if IN_CI:
        raise
    pytest.skip("schemathesis is not installed (pip install -e '.[dev]')", allow_module_level=True)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from tests.api_world import World, build_world  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("BATON_SCHEMATHESIS_EXAMPLES", "25"))
NEGATIVE_EXAMPLES = max(1, MAX_EXAMPLES // 2)


class Api:
    """The app under test, its engine, and one token per role."""

    def __init__(self, app: Any, engine: Any, tokens: dict[str, str], world: World):
        self.app, self.engine, self.tokens, self.world = app, engine, tokens, world
        self.calls = 0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    import migrations
    from adapters.runner import InlineDriver
    from engine import ROLES, Engine, Settings
    from processes.services.server import start_in_thread
    from web import create_app

    server, base_url = start_in_thread("127.0.0.1", 0)
    home = Path(tmp_path_factory.mktemp("schemathesis"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BATON_DEMO_SERVICES_URL", base_url)
        settings = Settings(home=home, endpoints=PROCESSES / "endpoints.toml", retry_base_seconds=0.05)
        migrations.upgrade(settings.database_url)
        driver = InlineDriver()
        engine = Engine(settings, notifier=driver.notify)
        driver.engine = engine
        engine.driver = driver  # type: ignore[attr-defined]
        world = build_world(engine, base_url)  # deploys the bundled processes; an instance of each kind
        stop = threading.Event()

        def worker() -> None:  # plays the Celery worker, so ?wait= sees instances move
            while not stop.is_set():
                with contextlib.suppress(Exception):  # a job's failure is the instance's, not the worker's
                    driver.drain()
                time.sleep(0.02)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        tokens = {role: engine.create_token(role, f"schemathesis {role}")[1] for role in ROLES}
        try:
            yield Api(create_app(settings, engine=engine), engine, tokens, world)
        finally:
            stop.set()
            thread.join(10)
            engine.close()
            server.shutdown()
            server.server_close()


def _describe(exc: BaseException) -> str:
    """schemathesis's own report (with its curl line to reproduce), or each of Hypothesis's failures."""
    if isinstance(exc, BaseExceptionGroup) and "Reproduce with" not in str(exc):
        return "\n".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:4000]


def run_operation(api: Api, operation: Any, mode: Any, examples: int, existing: bool) -> None:
    """Up to ``examples`` generated calls to one operation, each checked by schemathesis."""
    role = operation.definition.raw.get("x-baton-role")
    headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role else {}

    fixed = None
    if existing:  # the URL names things that exist: the calls reach past the 404s into the views
        fixed = {name: api.world.path_values()[name] for name in re.findall(r"{(\w+)}", operation.path)}

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def calls(case: Any) -> None:
        # Schema-valid input may still be refused for what it means (an unknown key, a diagram that is
        # not BPMN): positive_data_acceptance cannot know that. What must never happen is Baton's own
        # validator refusing what its document allows: that 400 carries ``errors``.
        response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        api.calls += 1
        assert response.status_code < 500, response.text[:500]
        if mode is GenerationMode.POSITIVE and response.status_code == 400:
            assert "errors" not in response.json(), f"the validator refused what the document allows: {response.text}"

    try:
        calls()
    except Unsatisfiable:  # nothing to negate: GET /api/v1/health takes no input at all
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("mode, examples, existing", [
    ("positive", MAX_EXAMPLES, False), ("positive", MAX_EXAMPLES, True), ("negative", NEGATIVE_EXAMPLES, False)],
    ids=["positive", "positive-existing-ids", "negative"])
def test_every_operation_answers_within_its_schema(api: Api, mode: str, examples: int, existing: bool) -> None:
    """Every operation, every failure collected (not only the first): zero 5xx, zero answers that
    break the document (status codes, content types, bodies, headers), invalid input refused."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)
    failures, operations, started, calls = [], 0, time.monotonic(), api.calls
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            run_operation(api, operation, GenerationMode(mode), examples, existing)
        except (Exception, BaseExceptionGroup) as exc:  # each operation's failures are reported, then the next runs
            failures.append(f"{operation.method.upper()} {operation.path}: {_describe(exc)}")
    print(f"schemathesis {mode}{' (existing ids)' if existing else ''}: {operations} operations, "
          f"{api.calls - calls} calls, {time.monotonic() - started:.1f} s")
    assert operations > 35
    assert not failures, "\n\n".join(failures)
