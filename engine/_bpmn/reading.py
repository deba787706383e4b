"""Read a deployment's files into process specs, or into the reasons they are refused.

Everything Baton cannot execute is refused here, at deploy, naming the element: a JUEL
``${...}`` expression, a Groovy script, a Java delegate, a service task with no endpoint. What
passes is what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser import CamundaParser

from ..endpoints import EndpointMap
from ..errors import Problem
from .xmlsafe import parse_document

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/", "http://www.omg.org/spec/DMN/")
NS = {"bpmn": BPMN, "camunda": CAMUNDA, "zeebe": ZEEBE, "spiffworkflow": SPIFF}

_PYTHON_FORMATS = {"", "python", "python3", "text/x-python", "py"}
_JUEL = re.compile(r"[$#]\{")
# ISO 8601 as Camunda Modeler writes timers: PT5M, P1D, R3/PT1S, 2026-01-01T10:00:00Z, R/PT1H
_ISO_TIMER = re.compile(
    r"^(R\d*/)?("
    r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
    r")(/.*)?$"
)
_JAVA_ATTRS = ("class", "delegateExpression", "expression")


class BatonParser(CamundaParser):
    """SpiffWorkflow's Camunda parser; plain BPMN, Camunda 7/8 and SpiffArena files all go through it."""


@dataclass
class ProcessSource:
    """One executable process found in a deployment, ready to be stored as a definition."""

    key: str
    name: str | None
    file_name: str
    source_xml: str
    spec: Any
    subprocess_specs: dict[str, Any]
    bindings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Document:
    file_name: str
    root: etree._Element
    text: str
    is_dmn: bool
    by_id: dict[str, etree._Element]


def read_deployment(
    files: list[tuple[str, bytes]], endpoints: EndpointMap, max_bytes: int
) -> tuple[list[ProcessSource], list[Problem]]:
    """Parse and check every file; return the executable processes, or every problem found."""
    problems: list[Problem] = []
    documents: list[_Document] = []
    for file_name, data in files:
        root, problem = parse_document(data, file_name, max_bytes)
        if problem:
            problems.append(problem)
            continue
        assert root is not None
        ns = etree.QName(root).namespace or ""
        is_dmn = ns.startswith(DMN_NAMESPACES)
        if not is_dmn and ns != BPMN:
            problems.append(Problem(file_name, root.sourceline, None,
                                    f"not a BPMN 2.0 document (root element {root.tag!r})"))
            continue
        by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        documents.append(_Document(file_name, root, data.decode("utf-8", "replace"), is_dmn, by_id))
    if problems:
        return [], problems

    bindings: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in documents:
        if not doc.is_dmn:
            problems.extend(_check_document(doc, endpoints, bindings))
    if problems:
        return [], problems

    parser = BatonParser()
    owner: dict[str, _Document] = {}
    for doc in documents:
        try:
            if doc.is_dmn:
                parser.add_dmn_xml(doc.root, filename=doc.file_name)
            else:
                parser.add_bpmn_xml(doc.root, filename=doc.file_name)
                for process in doc.root.iterfind(f"{{{BPMN}}}process"):
                    owner[process.get("id")] = doc
        except ValidationException as exc:
            problems.append(_from_validation(exc, doc))
        except Exception as exc:  # a library bug must become a refusal, not a traceback
            problems.append(Problem(doc.file_name, None, None, f"cannot be read: {exc}"))
    if problems:
        return [], problems

    sources: list[ProcessSource] = []
    for key in parser.get_process_ids():
        doc = owner.get(key)
        if doc is None:
            continue
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except ValidationException as exc:
            problems.append(_from_validation(exc, doc))
            continue
        except Exception as exc:
            node = doc.by_id.get(key)
            problems.append(Problem(doc.file_name, node.sourceline if node is not None else None, key,
                                    f"cannot be read: {exc}"))
            continue
        process_node = doc.by_id[key]
        sources.append(ProcessSource(
            key=key,
            name=process_node.get("name"),
            file_name=doc.file_name,
            source_xml=doc.text,
            spec=spec,
            subprocess_specs=subprocess_specs,
            bindings=bindings.get(doc.file_name, {}),
        ))
    bpmn_docs = [d for d in documents if not d.is_dmn]
    if not problems and not sources and bpmn_docs:
        for doc in bpmn_docs:
            processes = list(doc.root.iterfind(f"{{{BPMN}}}process"))
            first = processes[0] if processes else doc.root
            problems.append(Problem(
                doc.file_name, first.sourceline, first.get("id"),
                "no executable process: mark the process isExecutable=\"true\" to deploy it"
                if processes else "the file defines no bpmn:process",
            ))
    return ([] if problems else sources), problems


def _from_validation(exc: ValidationException, doc: _Document) -> Problem:
    element_id = getattr(exc, "id", None) or None
    node = doc.by_id.get(element_id) if element_id else None
    line = node.sourceline if node is not None else (getattr(exc, "line_number", None) or None)
    message = str(exc).split("\n")[0]
    return Problem(getattr(exc, "file_name", None) or doc.file_name,
                   line if isinstance(line, int) else None, element_id, message)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _owner_id(el: etree._Element) -> tuple[str | None, int | None]:
    """The id of the nearest BPMN element around ``el`` (where a problem is reported)."""
    node: etree._Element | None = el
    while node is not None:
        if isinstance(node.tag, str) and node.get("id") and etree.QName(node).namespace == BPMN:
            return node.get("id"), node.sourceline
        node = node.getparent()
    return None, el.sourceline


def _check_document(doc: _Document, endpoints: EndpointMap,
                    bindings: dict[str, dict[str, dict[str, Any]]]) -> list[Problem]:
    problems: list[Problem] = []

    def refuse(el: etree._Element, reason: str) -> None:
        element_id, line = _owner_id(el)
        problems.append(Problem(doc.file_name, el.sourceline or line, element_id, reason))

    executable = [p for p in doc.root.iterfind(f"{{{BPMN}}}process") if p.get("isExecutable") == "true"]
    file_bindings = bindings.setdefault(doc.file_name, {})
    for process in executable:
        for el in process.iter():
            if not isinstance(el.tag, str):
                continue
            ns, local = etree.QName(el).namespace, etree.QName(el).localname
            if ns == BPMN and local == "documentation":
                continue
            _check_juel(el, refuse)
            if ns == CAMUNDA and local in ("executionListener", "taskListener"):
                refuse(el, f"camunda:{local} is a Java/JUEL hook Baton cannot run; model the step as a task")
            if ns != BPMN:
                continue
            for attr in _JAVA_ATTRS:
                if el.get(f"{{{CAMUNDA}}}{attr}") is not None:
                    refuse(el, f"camunda:{attr} needs a Java runtime; use camunda:type=\"external\" "
                               "with camunda:topic and map the topic in BATON_ENDPOINTS")
            if local == "compensateEventDefinition":
                refuse(el, "compensation events are not supported yet")
            elif local == "serviceTask":
                binding = _service_binding(el, endpoints, refuse)
                if binding is not None:
                    file_bindings[el.get("id")] = binding
            elif local == "scriptTask":
                _check_script(el, refuse)
            elif local == "conditionExpression":
                _check_expression(el, "condition", refuse)
            elif local in ("timeDuration", "timeDate", "timeCycle"):
                _check_timer(el, refuse)
    return problems


def _check_juel(el: etree._Element, refuse) -> None:  # type: ignore[no-untyped-def]
    texts = [el.text or ""] + [v for v in el.attrib.values()]
    for text in texts:
        if _JUEL.search(text):
            refuse(el, f"JUEL expression {text.strip()[:80]!r} cannot run: Baton evaluates Python "
                       "expressions over the process variables (write e.g. amount > 100)")
            return


def _service_binding(el: etree._Element, endpoints: EndpointMap, refuse) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    topic: str | None = None
    if el.get(f"{{{CAMUNDA}}}type") == "external":
        topic = el.get(f"{{{CAMUNDA}}}topic")
    if topic is None:
        found = el.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE}}}taskDefinition")
        if found is not None:
            topic = found.get("type")
    if topic is None:
        found = el.find(f"{{{BPMN}}}extensionElements/{{{SPIFF}}}serviceTaskOperator")
        if found is not None:
            topic = found.get("id")
    connector = el.find(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}connector")
    if topic is None and connector is not None:
        return _connector_binding(connector, refuse)
    if topic is None:
        if any(el.get(f"{{{CAMUNDA}}}{a}") for a in _JAVA_ATTRS):
            return None  # already refused as a Java delegate
        refuse(el, "service task has no endpoint binding: give it camunda:type=\"external\" camunda:topic, "
                   "a zeebe:taskDefinition type, or a spiffworkflow:serviceTaskOperator")
        return None
    if endpoints.resolve(topic) is None:
        where = endpoints.source or "no BATON_ENDPOINTS file is configured"
        refuse(el, f"topic {topic!r} resolves to no endpoint ({where})")
        return None
    return {"topic": topic}


def _connector_binding(connector: etree._Element, refuse) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
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
    return {"endpoint": {"topic": None, "url": params["url"], "method": (params.get("method") or "POST").upper(),
                         "timeout": 30.0, "retries": 3, "python": None}}


def _check_script(el: etree._Element, refuse) -> None:  # type: ignore[no-untyped-def]
    fmt = (el.get("scriptFormat") or "").strip().lower()
    if fmt not in _PYTHON_FORMATS:
        refuse(el, f"script format {fmt!r} cannot run: Baton runs Python scripts only")
        return
    if el.get(f"{{{CAMUNDA}}}resource"):
        refuse(el, "external script resources are not supported; put the script in the diagram")
        return
    script = el.findtext(f"{{{BPMN}}}script") or ""
    try:
        compile(script, f"<script {el.get('id')}>", "exec")
    except SyntaxError as exc:
        refuse(el, f"script does not compile: {exc.msg} (script line {exc.lineno})")


def _check_expression(el: etree._Element, what: str, refuse) -> None:  # type: ignore[no-untyped-def]
    language = (el.get("language") or "").strip().lower()
    if language and language not in _PYTHON_FORMATS:
        refuse(el, f"{what} language {language!r} is not supported: Baton evaluates Python")
        return
    text = (el.text or "").strip()
    if not text or _JUEL.search(text):
        if not text:
            refuse(el, f"empty {what} expression")
        return
    try:
        compile(text, f"<{what}>", "eval")
    except SyntaxError as exc:
        refuse(el, f"{what} {text[:80]!r} is not a Python expression: {exc.msg}")


def _check_timer(el: etree._Element, refuse) -> None:  # type: ignore[no-untyped-def]
    text = (el.text or "").strip()
    if _ISO_TIMER.match(text):
        # Camodeler writes the bare ISO 8601 value; SpiffWorkflow evaluates Python, so quote it.
        el.text = repr(text)
        return
    _check_expression(el, "timer", refuse)
