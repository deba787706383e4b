"""BPMN compensation, read at deploy: Baton's own (SpiffWorkflow 3.2 has none).

SpiffWorkflow refuses a compensation boundary event, reads a compensation throw or end event as
a none event, and never parses a handler (``isForCompensation``: it has no incoming flow). So
Baton reads compensation itself, from the same lxml tree, and hands SpiffWorkflow a stripped copy:

- compensation boundary events, handlers and compensation event sub-processes are removed from
  the process SpiffWorkflow parses; each handler and each compensation event sub-process becomes
  a small synthetic process (a *unit*) that Baton runs on its own when compensation is thrown;
- compensation throw and end events (and cancel end events, whose transaction must be
  compensated first) are parsed into :class:`CompensationThrowMixin` specs, which wait
  (STARTED) until Baton has run the handlers, then behave as their base class.

The :class:`CompensationPlan` (JSON) records which activity has which handler, which scope has
which compensation event sub-process, and each throw's ``activityRef``. ``saga.py`` runs it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent
from SpiffWorkflow.bpmn.specs.event_definitions.simple import CancelEventDefinition
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaEndEventParser,
    CamundaIntermediateThrowEventParser,
)

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
UNIT_PREFIX = "baton-comp--"
SYNTHETIC_PREFIX = "baton-"
CANCELLED_TRANSACTION = "baton_cancelled_transaction"  # internal data of a transaction task a cancel ended
_ACTIVITIES = {"task", "serviceTask", "scriptTask", "userTask", "manualTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
_SCOPES = {"process", "subProcess", "transaction", "adHocSubProcess"}

Refuse = Callable[[etree._Element, str], None]


def _q(local: str) -> str:
    return f"{{{BPMN}}}{local}"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_bpmn(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace == BPMN


def _compensation_definition(el: etree._Element) -> etree._Element | None:
    return el.find(_q("compensateEventDefinition"))


def is_compensation_esp(el: etree._Element) -> bool:
    """An event sub-process whose start event is a compensation start event."""
    if _local(el) != "subProcess" or el.get("triggeredByEvent") != "true":
        return False
    return any(_compensation_definition(start) is not None for start in el.iterfind(_q("startEvent")))


@dataclass
class CompensationPlan:
    """What compensation a document defines, by element id (stored with each definition)."""

    handlers: dict[str, str] = field(default_factory=dict)            # activity -> handler
    event_subprocesses: dict[str, str] = field(default_factory=dict)  # sub-process -> its compensation ESP
    throws: dict[str, dict[str, Any]] = field(default_factory=dict)   # throw -> {activity_ref, kind}
    subprocesses: list[str] = field(default_factory=list)             # embedded sub-processes, transactions
    units: dict[str, str] = field(default_factory=dict)               # handler or ESP id -> synthetic process
    # Event sub-processes (other than compensation ones): a throw inside one also compensates the
    # scope it belongs to. SpiffWorkflow parses a process-level one as a call activity, so the
    # spec class cannot tell.
    event_scopes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.throws)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CompensationPlan:
        return cls(**data) if data else cls()


def check(root: etree._Element, refuse: Refuse) -> CompensationPlan:
    """Validate every compensation construct of the executable processes under ``root``."""
    plan = CompensationPlan()
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    processes = [p for p in root.iterfind(_q("process")) if p.get("isExecutable") == "true"]
    associations: dict[str, list[str]] = {}
    for assoc in root.iter(_q("association")):
        associations.setdefault(assoc.get("sourceRef", ""), []).append(assoc.get("targetRef", ""))
        associations.setdefault(assoc.get("targetRef", ""), []).append(assoc.get("sourceRef", ""))
    flows_touching: set[str] = set()
    for flow in root.iter(_q("sequenceFlow")):
        flows_touching.update((flow.get("sourceRef", ""), flow.get("targetRef", "")))

    for process in processes:
        # Known before any compensation event sub-process is checked, wherever the boundary event
        # stands in the document (usually after the sub-process it is attached to).
        boundary_of: dict[str, str] = {
            el.get("attachedToRef", ""): el.get("id", "") for el in process.iter(_q("boundaryEvent"))
            if _compensation_definition(el) is not None}
        seen_boundary: set[str] = set()
        for el in process.iter():
            if not _is_bpmn(el):
                continue
            local = _local(el)
            if local in ("subProcess", "transaction", "adHocSubProcess") and el.get("triggeredByEvent") != "true":
                plan.subprocesses.append(el.get("id", ""))
            elif local == "subProcess" and not is_compensation_esp(el):
                plan.event_scopes.append(el.get("id", ""))
            if el.get("isForCompensation") == "true":
                if el.get("id") in flows_touching:
                    refuse(el, "a compensation handler (isForCompensation) cannot have incoming or outgoing "
                               "sequence flows: it runs only when compensation is thrown")
                plan.units[el.get("id", "")] = UNIT_PREFIX + el.get("id", "")
            definition = _compensation_definition(el) if local.endswith("Event") else None
            if local == "boundaryEvent" and definition is not None:
                _check_boundary(el, by_id, associations, seen_boundary, plan, refuse)
            elif local in ("intermediateThrowEvent", "endEvent") and definition is not None:
                _check_throw(el, definition, by_id, plan, refuse)
            elif local == "endEvent" and el.find(_q("cancelEventDefinition")) is not None:
                plan.throws[el.get("id", "")] = {"activity_ref": None, "kind": "cancel"}
            elif local == "startEvent" and definition is not None:
                _check_esp_start(el, plan, boundary_of, refuse)
            elif local == "intermediateCatchEvent" and definition is not None:
                refuse(el, "a compensation event cannot be caught by an intermediate catch event; use a "
                           "compensation boundary event with a handler")
    return plan


def _check_boundary(el: etree._Element, by_id: dict[str, etree._Element], associations: dict[str, list[str]],
                    seen: set[str], plan: CompensationPlan, refuse: Refuse) -> None:
    activity = el.get("attachedToRef", "")
    if activity in seen:
        refuse(el, f"activity {activity!r} already has a compensation boundary event; an activity takes at most one")
        return
    seen.add(activity)
    target = by_id.get(activity)
    inner = [child.get("id", "") for child in (target if target is not None else [])
             if _is_bpmn(child) and is_compensation_esp(child)]
    if inner:
        refuse(el, f"sub-process {activity!r} has both this compensation boundary event and compensation event "
                   f"sub-process {inner[0]!r}; a scope is compensated by one or the other (as in Camunda 7)")
        return
    handlers = [t for t in associations.get(el.get("id", ""), [])
                if t in by_id and by_id[t].get("isForCompensation") == "true"]
    if not handlers:
        refuse(el, "compensation boundary event has no handler: associate it with an activity marked "
                   "isForCompensation=\"true\"")
        return
    if len(handlers) > 1:
        refuse(el, f"compensation boundary event is associated with several handlers {handlers}; keep one")
        return
    plan.handlers[activity] = handlers[0]


def _scope_of(el: etree._Element) -> etree._Element | None:
    node = el.getparent()
    while node is not None and _local(node) not in _SCOPES:
        node = node.getparent()
    return node


def _check_throw(el: etree._Element, definition: etree._Element, by_id: dict[str, etree._Element],
                 plan: CompensationPlan, refuse: Refuse) -> None:
    ref = definition.get("activityRef")
    scope = _scope_of(el)
    if ref:
        allowed = [scope]
        if scope is not None and scope.get("triggeredByEvent") == "true":
            allowed.append(_scope_of(scope))  # an event sub-process compensates its parent scope too
        target = by_id.get(ref)
        if target is None or _local(target) not in _ACTIVITIES or _scope_of(target) not in allowed:
            where = "names no activity" if target is None or _local(target) not in _ACTIVITIES else \
                "names an activity outside this scope (in a parent or a nested scope)"
            refuse(el, f"compensation activityRef {ref!r} {where}; it must name an activity of the scope "
                       "the event is thrown in")
            return
    kind = "end" if _local(el) == "endEvent" else "intermediate"
    plan.throws[el.get("id", "")] = {"activity_ref": ref or None, "kind": kind}


def _check_esp_start(el: etree._Element, plan: CompensationPlan, boundary_of: dict[str, str],
                     refuse: Refuse) -> None:
    esp = el.getparent()
    if esp is None or not is_compensation_esp(esp):
        refuse(el, "a compensation start event is allowed only in an event sub-process (triggeredByEvent)")
        return
    scope = esp.getparent()
    if scope is None or _local(scope) == "process":
        refuse(el, "a compensation event sub-process must be inside an embedded sub-process, not at process "
                   "level (a process is compensated by its activities' handlers)")
        return
    scope_id = scope.get("id", "")
    if scope_id in plan.event_subprocesses:
        refuse(el, f"sub-process {scope_id!r} already has compensation event sub-process "
                   f"{plan.event_subprocesses[scope_id]!r}; a scope takes at most one")
        return
    if scope_id in boundary_of or scope_id in plan.handlers:
        return  # refused on the boundary event (_check_boundary), the element Camunda names
    plan.event_subprocesses[scope_id] = esp.get("id", "")
    plan.units[esp.get("id", "")] = UNIT_PREFIX + esp.get("id", "")


def strip(root: etree._Element) -> etree._Element:
    """A copy of ``root`` without what SpiffWorkflow must not see (boundary events, handlers, ESPs)."""
    clean = copy.deepcopy(root)
    _strip_in_place(clean)
    return clean


def _strip_in_place(root: etree._Element) -> None:
    doomed = []
    for el in root.iter():
        if not _is_bpmn(el):
            continue
        if (_local(el) == "boundaryEvent" and _compensation_definition(el) is not None) \
                or el.get("isForCompensation") == "true" or is_compensation_esp(el):
            doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)


def unit_document(root: etree._Element, plan: CompensationPlan) -> etree._Element | None:
    """One synthetic process per handler and per compensation event sub-process, in a new document."""
    if not plan.units:
        return None
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    doc = etree.Element(_q("definitions"), nsmap=root.nsmap)
    doc.set("id", "baton-compensation-units")
    doc.set("targetNamespace", root.get("targetNamespace", "baton"))
    for child in root:  # messages, errors, signals... that handlers may reference
        if _is_bpmn(child) and _local(child) not in ("process", "collaboration", "BPMNDiagram"):
            doc.append(copy.deepcopy(child))
    for unit_id, process_id in plan.units.items():
        element = by_id[unit_id]
        process = etree.SubElement(doc, _q("process"), id=process_id, isExecutable="true")
        if is_compensation_esp(element):
            for child in element:
                if _is_bpmn(child):
                    process.append(copy.deepcopy(child))
            for start in process.iterfind(_q("startEvent")):
                definition = _compensation_definition(start)
                if definition is not None:
                    start.remove(definition)
        else:
            handler = copy.deepcopy(element)
            del handler.attrib["isForCompensation"]
            for flow_ref in handler.findall(_q("incoming")) + handler.findall(_q("outgoing")):
                handler.remove(flow_ref)
            start_id, end_id = f"{SYNTHETIC_PREFIX}start--{unit_id}", f"{SYNTHETIC_PREFIX}end--{unit_id}"
            etree.SubElement(process, _q("startEvent"), id=start_id)
            process.append(handler)
            etree.SubElement(process, _q("endEvent"), id=end_id)
            etree.SubElement(process, _q("sequenceFlow"), id=f"{SYNTHETIC_PREFIX}in--{unit_id}",
                             sourceRef=start_id, targetRef=unit_id)
            etree.SubElement(process, _q("sequenceFlow"), id=f"{SYNTHETIC_PREFIX}out--{unit_id}",
                             sourceRef=unit_id, targetRef=end_id)
        _strip_in_place(process)
    return doc


# -- SpiffWorkflow specs and parsers for throws that wait for Baton -------------------------

class CompensationThrowMixin:
    """Stays STARTED until Baton ran the compensation handlers; then acts as its base class."""

    def _run_hook(self, my_task):  # type: ignore[no-untyped-def]
        if not my_task.internal_data.get("baton_compensated"):
            return None
        return super()._run_hook(my_task)  # type: ignore[misc]


class CompensationIntermediateThrowEvent(CompensationThrowMixin, IntermediateThrowEvent):
    pass


class CompensationEndEvent(CompensationThrowMixin, EndEvent):
    def _on_complete_hook(self, my_task):  # type: ignore[no-untyped-def]
        if isinstance(self.event_definition, CancelEventDefinition):
            _keep_transaction_data(my_task)
        super()._on_complete_hook(my_task)


def _keep_transaction_data(my_task: Any) -> None:
    """A cancelled transaction keeps what it wrote, as Camunda's process variables do.

    SpiffWorkflow hands a sub-process's data to the parent only when it completes; the cancel
    boundary event would go on with the data it took when the transaction started, losing every
    booking id and what the compensation handlers wrote."""
    workflow = my_task.workflow
    if workflow is workflow.top_workflow:
        return
    transaction = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
    transaction.internal_data[CANCELLED_TRANSACTION] = True
    for boundary in transaction.parent.children if transaction.parent is not None else []:
        if isinstance(getattr(boundary.task_spec, "event_definition", None), CancelEventDefinition):
            boundary.data.update(copy.deepcopy(my_task.data))


def _compensating(node: etree._Element) -> bool:
    return node.find(_q("compensateEventDefinition")) is not None


class ThrowEventParser(CamundaIntermediateThrowEventParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        if _compensating(self.node):
            self.spec_class = CompensationIntermediateThrowEvent
        return super().create_task()


class EndEventParser(CamundaEndEventParser):
    """Also reads signal end events, which SpiffWorkflow 3.2 parses as none end events."""

    def create_task(self):  # type: ignore[no-untyped-def]
        if _compensating(self.node) or self.node.find(_q("cancelEventDefinition")) is not None:
            self.spec_class = CompensationEndEvent
        event_definition = self.get_event_definition([
            MESSAGE_EVENT_XPATH, CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
            TERMINATION_EVENT_XPATH, SIGNAL_EVENT_XPATH,
        ])
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task
