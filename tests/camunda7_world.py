"""What the Camunda 7 tests share: a diagram builder, an engine whose endpoint file binds two
Java delegates to Python callables and one to an HTTP endpoint, and a run-to-the-end helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROCESSES

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def chain(key: str, *elements: str, start: str = '<bpmn:startEvent id="start"/>') -> bytes:
    """A process start -> elements... -> end, each element given as XML with id="eN" (N from 1)."""
    ids = ["start"] + [f"e{i}" for i in range(1, len(elements) + 1)] + ["end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>\n'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    body = start + "\n" + "\n".join(elements) + '\n<bpmn:endEvent id="end"/>\n' + flows
    return (HEAD.replace("{key}", key) + body + TAIL).encode()


DELEGATES = """
[delegates."com.acme.SendInvoice"]
python = "tests.camunda7_handlers:send_invoice"

[delegates."${greeter}"]
python = "tests.camunda7_handlers:greet"

[delegates."com.acme.ChargeCard"]
url = "${BATON_DEMO_SERVICES_URL:-http://127.0.0.1:8010}/payment/charge"
retries = 0
"""


def endpoint_file(folder: Path) -> Path:
    """The demo endpoint map plus three Java delegates: two Python callables, one HTTP endpoint."""
    path = folder / "endpoints.toml"
    path.write_text((PROCESSES / "endpoints.toml").read_text(encoding="utf-8") + DELEGATES, encoding="utf-8")
    return path


def make_engine(home: Path) -> Any:
    """An embedded engine whose jobs run in this process (``engine.driver.drain()``), as ``baton``
    wires it; the endpoint file is read now (so the HTTP delegate's URL is the environment's now)."""
    import migrations
    from adapters.endpoints import call_in_process
    from adapters.runner import InlineDriver
    from engine import Engine, Settings

    settings = Settings(home=home, endpoints=endpoint_file(home), retry_base_seconds=0.05)
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, notifier=driver.notify, in_process=call_in_process)
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    return engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One engine per test module (each test deploys its own keys): a database set up once."""
    made = make_engine(tmp_path_factory.mktemp("camunda7"))
    yield made
    made.close()


def run(engine: Any, key: str, diagram: bytes, variables: dict[str, Any] | None = None,
        business_key: str | None = None) -> dict[str, Any]:
    engine.deploy([(f"{key}.bpmn", diagram)])
    instance_id = engine.start(key, variables or {}, business_key=business_key)
    engine.driver.drain()
    return engine.get_instance(instance_id)


def visited(doc: dict[str, Any]) -> list[str]:
    return [e["element_id"] for e in doc["history"] if e["event"] == "completed"]
