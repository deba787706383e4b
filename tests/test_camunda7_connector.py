"""Camunda 7's http-connector: its url, method and headers (a camunda:map, as the rest-service
example writes an Accept header) are sent; a header Baton cannot send is refused naming the task."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import DeploymentError

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="holidays" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="fetch">
      <bpmn:extensionElements>
        <camunda:connector>
          <camunda:inputOutput>
            <camunda:inputParameter name="url">{url}</camunda:inputParameter>
            <camunda:inputParameter name="method">GET</camunda:inputParameter>
            <camunda:inputParameter name="headers">
              <camunda:map><camunda:entry key="{header}">application/json</camunda:entry></camunda:map>
            </camunda:inputParameter>
          </camunda:inputOutput>
          <camunda:connectorId>http-connector</camunda:connectorId>
        </camunda:connector>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fetch"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fetch" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(dict(self.headers))
            body = json.dumps({"holiday": False}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/holidays", seen
    httpd.shutdown()


def test_the_connectors_headers_are_sent(bare_engine, server):  # type: ignore[no-untyped-def]
    url, seen = server
    bare_engine.deploy([("holidays.bpmn", DIAGRAM.format(url=url, header="Accept").encode())])
    instance_id = bare_engine.start("holidays", {})
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id, history=False)
    assert doc["status"] == "completed" and doc["variables"]["holiday"] is False
    assert seen and seen[0]["Accept"] == "application/json"


def test_a_header_baton_cannot_send_is_refused_naming_the_task(bare_engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        bare_engine.deploy([("holidays.bpmn", DIAGRAM.format(url="http://x", header="Idempotency-Key").encode())])
    [problem] = caught.value.problems
    assert problem.element_id == "fetch" and "would replace a header Baton sends itself" in problem.reason
