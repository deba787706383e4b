"""The deploy-time checks Baton adds to SpiffWorkflow's parser, on the lxml tree of each file.

Everything Baton cannot execute is refused here, naming the element: a JUEL ``${...}``
expression outside Baton's subset or where Baton does not evaluate it (``juel_sites.py``), a
Java delegate no endpoint is bound to (``delegates.py``), a Groovy
script, a Java delegate or listener, a service task with no endpoint (``service_bindings.py``), a
call pinned to a version that is not deployed. A problem is reported on the element a user sees in a
modeller (the sequence flow, the event, the task), not on an inner part with an id of its own.
``reading.py`` runs these checks before SpiffWorkflow sees a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .. import dialects
from ..endpoints import EndpointMap
from ..errors import Problem
from . import (
    calls,
    camunda_calls,
    camunda_io,
    decision_binding,
    decision_graph,
    delegates,
    event_subprocesses,
    feel_expressions,
    juel_sites,
    quartz,
    spiff_events,
    task_scope,
)
from .service_bindings import JAVA_ATTRS, JAVA_NAMESPACES, job_binding, service_binding

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/", "http://www.omg.org/spec/DMN/")
NS = {"bpmn": BPMN, "camunda": CAMUNDA, "zeebe": ZEEBE, "spiffworkflow": SPIFF}
# Java engines' extension namespaces, and the prefix a user knows them by

_PYTHON_FORMATS = {"", "python", "python3", "text/x-python", "py"}
_JUEL = re.compile(r"[$#]\{")
# ISO 8601 as Camunda Modeler writes timers: PT5M, P1D, R3/PT1S, 2026-01-01T10:00:00Z, R/PT1H
_ISO_TIMER = re.compile(
    r"^(R\d*/)?("
    r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
    r")(/.*)?$"
)
# Quartz/Unix cron, as Camunda accepts in a timeCycle: 0/5 0/1 * 1/1 * ?
_CRON = re.compile(r"^[\d*?/,LW#A-Z-]+(\s+[\d*?/,LW#A-Z-]+){4,6}$")
_LISTENERS = ("executionListener", "taskListener")
# Parts of an element with ids of their own that a modeller does not show as elements: a
# problem inside one is reported on the element around it (the flow, the event, the task).
_INNER = {
    "conditionExpression", "timeDuration", "timeDate", "timeCycle", "script", "extensionElements", "documentation",
    "multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "loopCardinality", "completionCondition",
    "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet", "dataInputAssociation",
    "dataOutputAssociation", "assignment", "from", "to", "formalExpression", "property",
}
_EXPRESSION_HINT = " (write e.g. amount > 100)"
Refuse = Callable[[etree._Element, str], None]


@dataclass
class Document:
    file_name: str
    root: etree._Element
    text: str
    is_dmn: bool
    by_id: dict[str, etree._Element]
    processes: list[etree._Element] = field(default_factory=list)
    executable: list[etree._Element] = field(default_factory=list)


@dataclass
class Deployment:
    """What every file's checks need to know about the others."""

    processes: dict[str, etree._Element]  # id -> bpmn:process, in every BPMN file
    decisions: dict[str, etree._Element]  # id -> dmn:decision, first decision of every DMN file
    bindings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deployed: dict[str, set[int]] = field(default_factory=dict)  # already deployed key -> versions


def refuser(doc: Document, problems: list[Problem]) -> Refuse:
    def refuse(el: etree._Element, reason: str) -> None:
        element_id, line = _owner_id(el)
        problems.append(Problem(doc.file_name, el.sourceline or line, element_id, reason))

    return refuse


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _owner_id(el: etree._Element) -> tuple[str | None, int | None]:
    """The id of the BPMN element around ``el`` that a modeller shows (where a problem is reported)."""
    node: etree._Element | None = el
    while node is not None:
        if isinstance(node.tag, str) and node.get("id") and etree.QName(node).namespace == BPMN:
            local = etree.QName(node).localname
            if local not in _INNER and not local.endswith("EventDefinition"):
                return node.get("id"), node.sourceline
        node = node.getparent()
    return None, el.sourceline


def _attr_name(attr: str) -> str:
    """``{namespace}name`` as a user writes it: camunda:assignee."""
    if attr.startswith("{"):
        ns, local = attr[1:].split("}", 1)
        prefix = JAVA_NAMESPACES.get(ns) or {ZEEBE: "zeebe", SPIFF: "spiffworkflow", BPMN: "bpmn"}.get(ns)
        return f"{prefix}:{local}" if prefix else local
    return attr


def check_dmn(doc: Document, deployment: Deployment) -> list[Problem]:
    decisions = list(doc.root.iterfind("{*}decision"))
    # Known even when refused below, so a business rule task using one is not refused twice.
    deployment.decisions.update((d.get("id"), d) for d in decisions if d.get("id"))
    if not decisions:
        return [Problem(doc.file_name, doc.root.sourceline, doc.root.get("id"), "the DMN file defines no decision")]
    problems: list[Problem] = []
    # several decisions are a decision graph (decision_graph.py)
    decision_graph.check(doc.root, lambda el, reason: problems.append(
        Problem(doc.file_name, el.sourceline, el.get("id"), reason)))
    return problems


def check_document(doc: Document, endpoints: EndpointMap, deployment: Deployment) -> list[Problem]:
    problems: list[Problem] = []
    refuse = refuser(doc, problems)
    language = (doc.root.get("expressionLanguage") or "").strip()
    file_bindings = deployment.bindings.setdefault(doc.file_name, {})
    juel_sites.check_names(doc.root, refuse)
    for subscription in doc.root.iter(f"{{{ZEEBE}}}subscription"):
        key = (subscription.get("correlationKey") or "").strip()
        # any FEEL of Baton's subset, evaluated over the waiting task (messages.py); a publisher
        # names it by its text without '=' (=order.id: correlation {"order.id": ...})
        reason = feel_expressions.refusal(key if key.startswith("=") else "=" + key) if key else "it is empty"
        if reason is not None:
            refuse(subscription.getparent() if subscription.getparent() is not None else subscription,
                   f"zeebe:subscription correlationKey {key!r} cannot run: {reason}")
    for process in doc.executable:
        # Listeners and Java field injections are refused (or moot) as a whole: the JUEL inside
        # them is not worth a line of its own.
        quiet: set[etree._Element] = set()
        for ns, prefix in JAVA_NAMESPACES.items():
            for local in _LISTENERS:
                for listener in process.iter(f"{{{ns}}}{local}"):
                    refuse(listener, f"{prefix}:{local} is a Java/JUEL hook Baton cannot run; "
                                     "model the step as a task")
                    quiet.update(listener.iter())
            for injected in process.iter(f"{{{ns}}}field"):
                quiet.update(injected.iter())
        if process.find(f"{{{BPMN}}}startEvent") is None:
            refuse(process, "the process has no start event")
        for mapping in process.iter(f"{{{CAMUNDA}}}inputOutput", f"{{{CAMUNDA}}}in", f"{{{CAMUNDA}}}out"):
            if mapping.getparent() is not None and etree.QName(mapping.getparent()).localname == "connector":
                continue  # the http-connector's url/method parameters are read by Baton
            if etree.QName(mapping).localname == "inputOutput":
                camunda_io.check(mapping, refuse)  # run by camunda_io.py
            else:
                camunda_calls.check(mapping, refuse)  # run by camunda_calls.py
        for el in process.iter():
            if not isinstance(el.tag, str):
                continue
            ns, local = etree.QName(el).namespace, etree.QName(el).localname
            if ns == BPMN and local == "documentation":
                continue
            if el not in quiet:
                _check_juel(el, refuse)
            if ns != BPMN:
                continue
            task_scope.check(el, refuse)  # Zeebe mappings, Spiff pre/post scripts
            juel_sites.collection_variable(el, refuse)
            delegates.check_result_variable(el, refuse)
            delegated = delegates.binding(el, endpoints, refuse)  # camunda:class/delegateExpression/expression
            if delegated is not None:
                if delegated:
                    file_bindings[el.get("id")] = delegated
                continue
            for java_ns, prefix in JAVA_NAMESPACES.items():
                for attr in JAVA_ATTRS:
                    if el.get(f"{{{java_ns}}}{attr}") is not None:
                        refuse(el, f"{prefix}:{attr} needs a Java runtime; use camunda:type=\"external\" "
                                   "with camunda:topic and map the topic in BATON_ENDPOINTS")
            if local == "serviceTask" or (local == "sendTask" and job_binding(el)):
                binding = service_binding(el, endpoints, refuse)
                if binding is not None:
                    file_bindings[el.get("id")] = binding
            elif local == "sendTask":
                if el.get("messageRef") is None and el.find(f"{{{BPMN}}}messageEventDefinition") is None:
                    refuse(el, "send task has neither a message nor an endpoint binding: give it "
                               "camunda:type=\"external\" camunda:topic to run it as a job")
            elif local == "businessRuleTask":
                decision_binding.check(el, set(deployment.decisions), refuse)
            elif local == "callActivity":
                _check_call(el, deployment, refuse)
            elif local in ("subProcess", "transaction") and el.get("triggeredByEvent") != "true":
                starts = len(el.findall(f"{{{BPMN}}}startEvent"))
                if starts != 1:
                    refuse(el, f"an embedded sub-process needs exactly one start event; it has {starts}")
            elif local == "scriptTask":
                _check_script(el, refuse)
            elif local == "conditionExpression":
                _check_expression(el, "condition", refuse, language)
            elif local in ("loopCardinality", "completionCondition"):
                _check_expression(el, "loop cardinality" if local == "loopCardinality" else "completion condition",
                                  refuse, language)
            elif local == "timerEventDefinition":
                if not any(el.find(f"{{{BPMN}}}{t}") is not None for t in ("timeDuration", "timeDate", "timeCycle")):
                    refuse(el, "timer event has no time: give it a duration, a date or a cycle")
            elif local in ("timeDuration", "timeDate", "timeCycle"):
                _check_timer(el, refuse, language)
            elif local in ("dataInputAssociation", "dataOutputAssociation"):
                _check_data_association(el, doc, refuse)
    spiff_events.check(doc.root, refuse)  # SpiffArena message and event payload expressions
    event_subprocesses.check(doc.root, refuse)  # conditional starts, event-based gateways with two timers
    dialects.check(doc.root, doc.executable, refuse)  # no extension is silently dropped
    return problems


def _check_juel(el: etree._Element, refuse: Refuse) -> None:
    texts: list[tuple[str | None, str]] = [(None, el.text or "")] + [
        (attr, value) for attr, value in el.attrib.items()
        if not any(attr == f"{{{ns}}}{a}" for ns in JAVA_NAMESPACES for a in JAVA_ATTRS)  # refused as Java
    ]
    for attr, text in texts:
        if _JUEL.search(text):
            if attr == f"{{{CAMUNDA}}}collection":
                continue  # juel_sites.collection_variable
            if juel_sites.runs_text(el) if attr is None else juel_sites.runs_attribute(el, attr):
                juel_sites.check_text(el, text, refuse, f" in {_attr_name(attr)}" if attr else "")
                continue
            if attr:
                where = f" in {_attr_name(attr)}"
            elif etree.QName(el).namespace != BPMN:  # e.g. the text of a camunda:inputParameter
                name = el.get("name")
                where = f" in {_attr_name(el.tag)}" + (f" {name!r}" if name else "")
            else:
                where = ""
            hint = _EXPRESSION_HINT if _local(el) == "conditionExpression" else ""
            refuse(el, f"JUEL expression {text.strip()[:80]!r}{where} cannot run: {juel_sites.elsewhere(text)}{hint}")
            return


def _check_call(el: etree._Element, deployment: Deployment, refuse: Refuse) -> None:
    called = (el.get("calledElement") or "").strip()
    target = calls.call_targets_of(el)
    if not called:
        refuse(el, "call activity names no process: set calledElement to the id of a deployed process")
    elif _JUEL.search(called) or called.startswith("="):
        return  # JUEL is refused; FEEL (Zeebe's processId, checked in dialect_translation) runs when reached
    elif called in deployment.processes:
        if deployment.processes[called].get("isExecutable") != "true":
            refuse(el, f"calls process {called!r}, which is not marked isExecutable=\"true\"")
        elif target["version"] is not None and called not in deployment.deployed:
            refuse(el, f"pins version {target['version']} of {called!r}, which is not deployed yet")
    elif called not in deployment.deployed:
        # Camunda 7 resolves calledElement when the call is reached: a process deployed later is
        # called then; one still missing is an incident naming it (outcomes.start_child)
        if target["version"] is not None:
            refuse(el, f"pins version {target['version']} of {called!r}, which is not deployed yet")
    elif target["version"] is not None and target["version"] not in deployment.deployed[called]:
        refuse(el, f"pins version {target['version']} of {called!r}; deployed versions are "
                   f"{sorted(deployment.deployed[called])}")


def _check_data_association(el: etree._Element, doc: Document, refuse: Refuse) -> None:
    ref_tag = "sourceRef" if _local(el) == "dataInputAssociation" else "targetRef"
    for ref in el.iterfind(f"{{{BPMN}}}{ref_tag}"):
        target = doc.by_id.get((ref.text or "").strip())
        if target is not None and _local(target) in ("dataStoreReference", "dataStore"):
            store = target.get("name") or target.get("id")
            verb = "reads" if ref_tag == "sourceRef" else "writes"
            refuse(el, f"{verb} data store {store!r}: data stores are not supported, the process keeps its data "
                       "in variables; remove the association, or call a service that holds the data")


def _check_script(el: etree._Element, refuse: Refuse) -> None:
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


def _check_expression(el: etree._Element, what: str, refuse: Refuse, document_language: str = "") -> None:
    language = (el.get("language") or "").strip().lower()
    if language and language not in _PYTHON_FORMATS:
        refuse(el, f"{what} language {language!r} is not supported: Baton evaluates Python")
        return
    text = (el.text or "").strip()
    if not text or _JUEL.search(text):
        if not text:
            refuse(el, f"empty {what} expression")
        return
    hint = _EXPRESSION_HINT if what == "condition" else ""
    if text.startswith("="):
        parent = el.getparent()
        flow = what == "condition" and parent is not None and etree.QName(parent).localname == "sequenceFlow"
        if flow or what == "timer":  # a timer's FEEL answers an ISO 8601 date, duration or cycle, as Zeebe
            reason = feel_expressions.refusal(text)  # Baton's FEEL subset runs flow conditions and timers
            if reason is not None:
                refuse(el, f"FEEL expression {text[:80]!r} cannot run: {reason}")
            return
        refuse(el, f"FEEL expression {text[:80]!r} cannot run: Baton evaluates FEEL in sequence-flow conditions, "
                   f"timers and zeebe:ioMapping only; write a Python expression over the process variables{hint}")
        return
    try:
        compile(text, f"<{what}>", "eval")
    except SyntaxError as exc:
        declared = ""
        if document_language and document_language.lower() not in _PYTHON_FORMATS:
            declared = f" (the diagram declares expressionLanguage {document_language!r})"
        refuse(el, f"{what} {text[:80]!r} is not a Python expression{declared}: {exc.msg}")


def _check_timer(el: etree._Element, refuse: Refuse, document_language: str = "") -> None:
    text = (el.text or "").strip()
    if _ISO_TIMER.match(text):
        # Camunda Modeler writes the bare ISO 8601 value; SpiffWorkflow evaluates Python, so quote it.
        el.text = repr(text)
        return
    if _CRON.match(text):
        reason = quartz.refusal(text, _local(el))  # Camunda 7's Quartz cron cycles run (quartz.py)
        if reason is not None:
            refuse(el, f"timer {text!r} is a cron expression Baton cannot run: {reason}")
        else:
            el.text = repr(text)
        return
    _check_expression(el, "timer", refuse, document_language)
