"""Which endpoint a service or send task calls, read at deploy from the dialect that names it.

A task names its work in one of four ways: Camunda 7's ``camunda:type="external"`` with a topic,
Zeebe's ``zeebe:taskDefinition`` type (a FEEL type is evaluated when the task is reached:
``feel_targets.py``), SpiffArena's ``spiffworkflow:serviceTaskOperator``, or Camunda 7's
``camunda:connector`` (http-connector: its url, method and fixed headers). :func:`service_binding`
turns that into the binding the outbox calls, or refuses the task naming it; ``checks.py`` runs it
for every service task (and a send task with a binding), before SpiffWorkflow sees the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from ..endpoints import EndpointMap
from . import feel_expressions, feel_targets
from .task_headers import http_header_problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
#: namespaces whose class/delegateExpression/expression attributes name Java (Camunda 7 reads all three)
JAVA_NAMESPACES = {CAMUNDA: "camunda", "http://activiti.org/bpmn": "activiti", "http://flowable.org/bpmn": "flowable"}
JAVA_ATTRS = ("class", "delegateExpression", "expression")
_JUEL = re.compile(r"[$#]\{")
Refuse = Callable[[etree._Element, str], None]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def job_binding(el: etree._Element) -> bool:
    """Whether a task names something a worker or endpoint runs (a Camunda/Zeebe/Spiff job)."""
    if el.get(f"{{{CAMUNDA}}}type") == "external":
        return True
    if any(el.get(f"{{{ns}}}{a}") is not None for ns in JAVA_NAMESPACES for a in JAVA_ATTRS):
        return True
    extensions = el.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        return False
    return any(extensions.find(tag) is not None for tag in (
        f"{{{ZEEBE}}}taskDefinition", f"{{{SPIFF}}}serviceTaskOperator", f"{{{CAMUNDA}}}connector"))


def service_binding(el: etree._Element, endpoints: EndpointMap, refuse: Refuse) -> dict[str, Any] | None:
    topic: str | None = None
    if el.get(f"{{{CAMUNDA}}}type") == "external":
        topic = el.get(f"{{{CAMUNDA}}}topic")
        if not topic:
            refuse(el, "camunda:type=\"external\" needs a camunda:topic: an endpoint in BATON_ENDPOINTS, "
                       "or the topic external workers fetch")
            return None
    zeebe_type = False
    if topic is None:
        found = el.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE}}}taskDefinition")
        if found is not None:
            topic, zeebe_type = found.get("type"), True
    if topic is None:
        found = el.find(f"{{{BPMN}}}extensionElements/{{{SPIFF}}}serviceTaskOperator")
        if found is not None:
            topic = found.get("id")
    connector = el.find(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}connector")
    if topic is None and connector is not None:
        return _connector_binding(connector, refuse)
    if topic is None:
        if any(el.get(f"{{{ns}}}{a}") for ns in JAVA_NAMESPACES for a in JAVA_ATTRS):
            return None  # already refused as a Java delegate
        refuse(el, f"{_local(el).replace('Task', ' task')} has no endpoint binding: give it camunda:type=\"external\" "
                   "camunda:topic, a zeebe:taskDefinition type, or a spiffworkflow:serviceTaskOperator")
        return None
    if zeebe_type and feel_targets.is_expression(topic):  # FEEL: evaluated when the task is reached (feel_targets.py)
        reason = feel_expressions.refusal(topic.strip())
        if reason is not None:
            refuse(el, f"zeebe:taskDefinition type {topic[:80]!r} cannot run: {reason}")
            return None
        return {"topic_expression": topic.strip()}
    binding: dict[str, Any] = {"topic": topic}
    if endpoints.resolve(topic) is None:
        if el.get(f"{{{CAMUNDA}}}type") == "external":
            # Camunda 7's own meaning: the task waits for a worker to fetch it (/engine-rest)
            binding["external"] = True
            priority = (el.get(f"{{{CAMUNDA}}}taskPriority") or "").strip()
            binding["priority"] = int(priority) if priority.lstrip("-").isdigit() else 0
            return binding
        # The file's name only: a refusal is shown to whoever deploys, not the server's layout.
        where = (f"not in {Path(endpoints.source).name}" if endpoints.source
                 else "no BATON_ENDPOINTS file is configured")
        refuse(el, f"topic {topic!r} resolves to no endpoint ({where}); bind it with a [topics.{topic}] table "
                   "(url = \"...\" or python = \"module:function\") in the endpoint map, or mark the task "
                   "camunda:type=\"external\" for workers that fetch it")
        return None
    return binding  # camunda:asyncBefore makes it "async" (commit_points.py)


def _connector_binding(connector: etree._Element, refuse: Refuse) -> dict[str, Any] | None:
    connector_id = (connector.findtext(f"{{{CAMUNDA}}}connectorId") or "").strip()
    if connector_id != "http-connector":
        refuse(connector, f"camunda:connector {connector_id!r} is not supported (only http-connector)")
        return None
    params = {
        p.get("name"): (p.text or "").strip()
        for p in connector.iterfind(f"{{{CAMUNDA}}}inputOutput/{{{CAMUNDA}}}inputParameter")
    }
    if not params.get("url"):
        refuse(connector, "http-connector needs an inputParameter named 'url'")
        return None
    binding: dict[str, Any] = {"endpoint": {"topic": None, "url": params["url"],
                                            "method": (params.get("method") or "POST").upper(),
                                            "timeout": 30.0, "retries": 3, "python": None}}
    headers = _connector_headers(connector, refuse)
    if headers:
        binding["headers"] = headers  # sent with the call, as zeebe:taskHeaders are (outbox.py)
    return binding


def _connector_headers(connector: etree._Element, refuse: Refuse) -> dict[str, str]:
    """The http-connector's ``headers`` parameter: a camunda:map of fixed header values."""
    found: dict[str, str] = {}
    for param in connector.iterfind(f"{{{CAMUNDA}}}inputOutput/{{{CAMUNDA}}}inputParameter[@name='headers']"):
        entries = param.findall(f"{{{CAMUNDA}}}map/{{{CAMUNDA}}}entry")
        if len(param) != 1 or etree.QName(param[0]).localname != "map":
            refuse(connector, "http-connector parameter 'headers' is sent when it is a camunda:map of header names "
                              "to fixed values")
            continue
        for entry in entries:
            key, value = (entry.get("key") or "").strip(), (entry.text or "").strip()
            if len(entry) or _JUEL.search(value):
                continue  # a script or JUEL value: refused where JUEL and scripts are checked
            problem = http_header_problem(key, value)
            if problem:
                refuse(connector, f"http-connector header {problem}")
            else:
                found[key] = value
    return found
