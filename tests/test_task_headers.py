"""``zeebe:taskHeaders`` reach the call: a Python handler reads them from ``JobCall.headers``, an
HTTP endpoint receives them as request headers; a header that cannot be one is refused at deploy."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from engine import DeploymentError, Endpoint, EndpointMap

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="notify" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="send" name="Send notice">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="notice"/>
        <zeebe:taskHeaders>
          <zeebe:header key="{key}" value="welcome-v2"/>
          <zeebe:header key="X-Channel" value="email"/>
        </zeebe:taskHeaders>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="send"/>
    <bpmn:sequenceFlow id="f2" sourceRef="send" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def engine_with(settings_factory, endpoint: Endpoint):  # type: ignore[no-untyped-def]
    import migrations
    from adapters.endpoints import call_in_process
    from adapters.runner import InlineDriver
    from engine import Engine

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, endpoints=EndpointMap({"notice": endpoint}, "test"), notifier=driver.notify,
                    in_process=call_in_process)
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    return engine


def test_a_python_handler_gets_the_task_headers(settings_factory):  # type: ignore[no-untyped-def]
    engine = engine_with(settings_factory, Endpoint(topic="notice", url=None, method="POST", timeout=5.0, retries=0,
                                                    python="tests.dialect_handlers:headers_job"))
    try:
        engine.deploy([("notify.bpmn", DIAGRAM.replace("{key}", "template").encode())])
        doc = engine.get_instance(engine.start("notify", {}))
        assert doc["status"] == "completed", doc["incidents"]
        assert doc["variables"]["headers_seen"] == {"template": "welcome-v2", "X-Channel": "email"}
    finally:
        engine.close()


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"template": self.headers.get("template"), "channel": self.headers.get("X-Channel")})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_an_http_endpoint_receives_the_task_headers(settings_factory):  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/notice"
    engine = engine_with(settings_factory, Endpoint(topic="notice", url=url, method="POST", timeout=5.0, retries=0,
                                                    python=None))
    try:
        engine.deploy([("notify.bpmn", DIAGRAM.replace("{key}", "template").encode())])
        instance_id = engine.start("notify", {})
        engine.driver.drain()
        doc = engine.get_instance(instance_id)
        assert doc["status"] == "completed", doc["incidents"]
        assert doc["variables"]["template"] == "welcome-v2" and doc["variables"]["channel"] == "email"
    finally:
        engine.close()
        server.shutdown()
        thread.join(timeout=5)


@pytest.mark.parametrize(("key", "why"), [("Idempotency-Key", "would replace a header Baton sends itself"),
                                          ("my header", "is not a valid HTTP header name")])
def test_a_header_that_cannot_be_sent_is_refused(bare_engine, key, why):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        bare_engine.deploy([("notify.bpmn", DIAGRAM.replace("{key}", key).encode())])
    assert any(p.element_id == "send" and why in p.reason for p in caught.value.problems), caught.value.problems


def test_task_definition_retries_is_how_many_times_the_job_is_tried(settings_factory):  # type: ignore[no-untyped-def]
    engine = engine_with(settings_factory, Endpoint(topic="notice", url=None, method="POST", timeout=5.0, retries=5,
                                                    python="tests.dialect_handlers:failing_job"))
    try:
        xml = DIAGRAM.replace("{key}", "template").replace('<zeebe:taskDefinition type="notice"/>',
                                                          '<zeebe:taskDefinition type="notice" retries="2"/>')
        engine.deploy([("notify.bpmn", xml.encode())])
        instance_id = engine.start("notify", {})
        for _ in range(10):  # bounded: each retry is queued again with a short back-off
            if not engine.driver.queue:
                break
            engine.driver.drain()
        doc = engine.get_instance(instance_id)
        assert doc["status"] == "incident"
        [job] = [j for j in doc["jobs"] if j["element_id"] == "send"]
        assert job["attempts"] == 2  # the diagram's 2, not the endpoint's 5 retries
    finally:
        engine.close()


def test_a_python_handler_may_get_headers_that_are_no_http_names(settings_factory):  # type: ignore[no-untyped-def]
    engine = engine_with(settings_factory, Endpoint(topic="notice", url=None, method="POST", timeout=5.0, retries=0,
                                                    python="tests.dialect_handlers:headers_job"))
    try:
        engine.deploy([("notify.bpmn", DIAGRAM.replace("{key}", "Result Variable").encode())])
        doc = engine.get_instance(engine.start("notify", {}))
        assert doc["variables"]["headers_seen"] == {"Result Variable": "welcome-v2", "X-Channel": "email"}
    finally:
        engine.close()
