"""SpiffArena's message correlation: which conversation a message belongs to, and how a catch waits for it.

A message thrown or caught with correlation properties records their values, computed over its
body, on the (sub-)process that sent or received it, per ``bpmn:correlationKey``
(SpiffWorkflow's ``workflow.correlations``: key name -> {property: value}; a property in no key
belongs to :data:`MAIN_KEY`, as SpiffWorkflow's Spiff parser says). A later catch of a message of
that conversation waits for those values: ``messages.py`` matches a message when every property
of one of the catch's keys matches (:func:`correlation_keys`, :func:`recorded_key`), or property
by property for a message whose properties are in no key (:func:`recorded_correlation`).

``spiffworkflow:processVariableCorrelation`` (SpiffArena's "matching condition", ``propertyId``
and ``expression``) on a receive task or a catching message event: when the catch starts waiting,
the expression is evaluated over its data and recorded as the property's value in the keys that
use it (:func:`matching` reads it at deploy, :func:`check_matching` refuses what cannot match).
The event definitions themselves are ``spiff_events.py``'s.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty, MessageEventDefinition

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MATCHING = "processVariableCorrelation"
MAIN_KEY = "MainCorrelationKey"  # SpiffWorkflow's key of a property that no bpmn:correlationKey names
CATCHES = ("receiveTask", "intermediateCatchEvent", "boundaryEvent", "startEvent")


def record_correlations(task: Any, definition: Any, payload: Any) -> None:
    """What SpiffWorkflow's catch does and Baton's routed delivery skips: note the conversation's
    correlation values, computed over the received body, on the receiving (sub-)process."""
    if isinstance(definition, MessageEventDefinition) and definition.correlation_properties \
            and isinstance(payload, dict):
        try:
            task.workflow.correlations.update(definition.get_correlations(task, payload))
        except Exception:  # a property the body does not hold: nothing to record for it
            return


def correlation_keys(definition: Any) -> dict[str, list[Any]]:
    """The message's correlation properties by the ``bpmn:correlationKey`` that uses them (a
    property in several keys is in each). Empty when no property of the message is in a key:
    such a message correlates property by property (``messages.py``)."""
    keys: dict[str, list[Any]] = {}
    for prop in getattr(definition, "correlation_properties", None) or []:
        for key in prop.correlation_keys or []:
            keys.setdefault(key, []).append(prop)
    return keys


def recorded_key(task: Any, key: str) -> dict[str, Any] | None:
    """The values correlation key ``key`` has in the conversation of ``task``'s (sub-)process or
    the processes around it, nearest first (None: no conversation of that key yet)."""
    workflow = task.workflow
    while workflow is not None:
        values = (getattr(workflow, "correlations", None) or {}).get(key)
        if isinstance(values, dict):
            return values
        parent = getattr(workflow, "parent_workflow", None)
        workflow = parent if parent is not workflow else None
    return None


def recorded_correlation(task: Any, name: str) -> tuple[bool, Any]:
    """The value correlation property ``name`` has in any conversation of ``task``'s (sub-)process
    or the processes around it, nearest first: (found, value). For a message whose properties
    are in no ``bpmn:correlationKey``."""
    workflow = task.workflow
    while workflow is not None:
        for values in (getattr(workflow, "correlations", None) or {}).values():
            if isinstance(values, dict) and name in values:
                return True, values[name]
        parent = getattr(workflow, "parent_workflow", None)
        workflow = parent if parent is not workflow else None
    return False, None


def check_matching(root: etree._Element, refuse: Any) -> None:
    """A matching condition runs on a catch, names a property the caught message has, and compiles."""
    retrieved = {(prop.get("id"), expr.get("messageRef"))
                 for prop in root.iter(f"{{{BPMN}}}correlationProperty")
                 for expr in prop.iter(f"{{{BPMN}}}correlationPropertyRetrievalExpression")}
    for el in root.iter(f"{{{SPIFF}}}{MATCHING}"):
        holder = el.getparent().getparent() if el.getparent() is not None else None
        owner = holder
        if holder is not None and etree.QName(holder).localname == "messageEventDefinition":
            owner = holder.getparent()
        if owner is None or etree.QName(owner).localname not in CATCHES:
            refuse(owner if owner is not None else el, "spiffworkflow:processVariableCorrelation is a matching "
                   "condition of a message catch (receive task or catching message event); here nothing waits")
            continue
        if len([d for d in owner if isinstance(d.tag, str) and d.tag.endswith("EventDefinition")]) > 1:
            refuse(owner, "spiffworkflow:processVariableCorrelation on an event with several event definitions "
                          "is not supported: give the message catch an event of its own")
            continue
        message_ref = (holder.get("messageRef") if holder is not None else None) or ""
        prop = (el.findtext(f"{{{SPIFF}}}propertyId") or "").strip()
        expression = (el.findtext(f"{{{SPIFF}}}expression") or "").strip()
        if (prop, message_ref) not in retrieved:
            refuse(owner, f"spiffworkflow:processVariableCorrelation names property {prop!r}, which message "
                          f"{message_ref!r} has no bpmn:correlationPropertyRetrievalExpression for: there is "
                          "nothing in the message to compare it with")
            continue
        try:
            compile(expression, "<processVariableCorrelation>", "eval")
        except SyntaxError as exc:
            refuse(owner, f"spiffworkflow:processVariableCorrelation {expression[:80]!r} of property {prop!r} is "
                          f"not a Python expression: {exc.msg}")


def matching(node: etree._Element, root: etree._Element) -> list[CorrelationProperty]:
    """The catch's ``spiffworkflow:processVariableCorrelation``: a property each, its expression
    evaluated over the catch's data, in the keys that use the property."""
    keys: dict[str, list[str]] = {}
    for key in root.iter(f"{{{BPMN}}}correlationKey"):
        for ref in key.iter(f"{{{BPMN}}}correlationPropertyRef"):
            keys.setdefault((ref.text or "").strip(), []).append(key.get("name") or key.get("id") or MAIN_KEY)
    found = []
    for el in node.iter(f"{{{SPIFF}}}{MATCHING}"):
        prop = (el.findtext(f"{{{SPIFF}}}propertyId") or "").strip()
        found.append(CorrelationProperty(prop, (el.findtext(f"{{{SPIFF}}}expression") or "").strip(),
                                         list(keys.get(prop) or [MAIN_KEY])))
    return found
