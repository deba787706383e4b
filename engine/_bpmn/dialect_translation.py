"""Zeebe and SpiffArena constructs that mean what a Camunda 7 attribute means, written as that
attribute before Baton's parser (SpiffWorkflow's Camunda parser) and checks read the tree.

- ``zeebe:calledElement processId="p"`` is ``calledElement="p"``; a FEEL ``processId="=..."``
  is kept as ``calledElement="=..."`` and evaluated when the call is reached (``feel_targets.py``);
  ``propagateAllChildVariables`` is read by ``task_scope.py``.
- ``zeebe:calledDecision decisionId="d"`` and ``spiffworkflow:calledDecisionId`` are
  ``camunda:decisionRef="d"``; Zeebe's ``bindingType`` (``latest``, ``deployment``,
  ``versionTag`` with ``versionTag``) is ``camunda:decisionRefBinding``; Zeebe's
  ``resultVariable`` (the decision's result in one variable) is ``task_scope.py``'s.
- ``zeebe:loopCharacteristics inputCollection="=items" inputElement="item"`` is
  ``camunda:collection="items" camunda:elementVariable="item"`` (Camunda 7's loop, ``camunda_loops.py``:
  the element is local to each instance, what an instance sets reaches the process, as in Zeebe);
  a collection that is other FEEL is evaluated into a variable local to the loop when it starts
  (``task_scope.py``); ``outputCollection`` / ``outputElement`` are collected by
  ``zeebe_loops.py``.
- ``zeebe:assignmentDefinition`` ``assignee`` / ``candidateUsers`` / ``candidateGroups`` are
  ``camunda:assignee`` / ``camunda:candidateUsers`` / ``camunda:candidateGroups``; a FEEL value
  (``=assignee``, ``=["a", "b"]``) is kept whole and evaluated when the task is ready
  (``camunda_people.py``).

The diagram a user deployed is stored unchanged; only the parsed tree is translated.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from . import feel_expressions, zeebe_loops

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
Refuse = Callable[[etree._Element, str], None]


def translate(processes: list[etree._Element], refuse: Refuse) -> None:
    """Rewrite the executable ``processes`` in place; refuse what has no Camunda 7 meaning Baton runs."""
    for process in processes:
        for called in process.iter(f"{{{ZEEBE}}}calledElement"):
            _called_element(_owner(called), called, refuse)
        for decision in process.iter(f"{{{ZEEBE}}}calledDecision"):
            _called_decision(_owner(decision), decision, refuse)
        for decision in process.iter(f"{{{SPIFF}}}calledDecisionId"):
            owner = _owner(decision)
            decision_id = (decision.text or "").strip()
            if owner is not None and decision_id:
                owner.set(f"{{{CAMUNDA}}}decisionRef", decision_id)
        for assignment in process.iter(f"{{{ZEEBE}}}assignmentDefinition"):
            _assignment(_owner(assignment), assignment, refuse)
        for loop in process.iter(f"{{{ZEEBE}}}loopCharacteristics"):
            _loop(_owner(loop), loop, refuse)


def _owner(el: etree._Element) -> etree._Element | None:
    """The BPMN element whose extensionElements hold ``el``."""
    extensions = el.getparent()
    return extensions.getparent() if extensions is not None else None


def _called_element(owner: etree._Element | None, called: etree._Element, refuse: Refuse) -> None:
    if owner is None:
        return
    process_id = (called.get("processId") or "").strip()
    reason = feel_expressions.refusal(process_id) if process_id.startswith("=") else None
    if reason is not None:
        refuse(owner, f"zeebe:calledElement processId {process_id[:80]!r} cannot run: {reason}")
    elif not process_id:
        refuse(owner, "zeebe:calledElement has no processId: name the id of the process to call")
    elif called.get("propagateAllParentVariables") == "false":
        refuse(owner, "zeebe:calledElement propagateAllParentVariables=\"false\" is not supported: the called "
                      "process starts with all the caller's variables")
    else:
        owner.set("calledElement", process_id)


def _called_decision(owner: etree._Element | None, decision: etree._Element, refuse: Refuse) -> None:
    if owner is None:
        return
    decision_id = (decision.get("decisionId") or "").strip()
    if not decision_id or decision_id.startswith("="):
        refuse(owner, f"zeebe:calledDecision decisionId {decision_id!r}: name the id of a decision deployed "
                      "with the diagram (a FEEL decision id is not resolved by Baton)")
        return
    result = (decision.get("resultVariable") or "").strip()
    if result and not result.isidentifier():
        refuse(owner, f"zeebe:calledDecision resultVariable {result!r} is not a variable name")
    owner.set(f"{{{CAMUNDA}}}decisionRef", decision_id)
    binding = (decision.get("bindingType") or "latest").strip()  # found when reached (decision_binding.py)
    if binding == "versionTag":
        owner.set(f"{{{CAMUNDA}}}decisionRefVersionTag", (decision.get("versionTag") or "").strip())
    if binding != "latest":
        owner.set(f"{{{CAMUNDA}}}decisionRefBinding", binding)  # deployment, versionTag; others are refused


def _assignment(owner: etree._Element | None, assignment: etree._Element, refuse: Refuse) -> None:
    if owner is None:
        return
    for attr in ("assignee", "candidateUsers", "candidateGroups"):
        value = (assignment.get(attr) or "").strip()
        if not value:
            continue
        reason = feel_expressions.refusal(value) if value.startswith("=") else None
        if reason is not None:
            refuse(owner, f"zeebe:assignmentDefinition {attr} {value[:80]!r} cannot run: {reason}")
            continue
        owner.set(f"{{{CAMUNDA}}}{attr}", value)  # FEEL (=...) is evaluated when the task is ready (camunda_people.py)


def _loop(owner: etree._Element | None, loop: etree._Element, refuse: Refuse) -> None:
    characteristics = loop.getparent().getparent() if loop.getparent() is not None else None
    if owner is None or characteristics is None:
        return
    task = characteristics.getparent()
    where = task if task is not None else owner
    collection = (loop.get("inputCollection") or "").strip()
    name = collection[1:].strip() if collection.startswith("=") else ""
    if not collection.startswith("="):
        refuse(where, f"zeebe:loopCharacteristics inputCollection {collection!r} is not a FEEL expression (=items)")
        return
    if not name.isidentifier():
        # other FEEL: task_scope.py evaluates it into this variable of the loop's own when it starts
        name = loop_collection_variable(where.get("id", ""))
    zeebe_loops.check(where, refuse)  # outputCollection / outputElement, collected by zeebe_loops.py
    characteristics.set(f"{{{CAMUNDA}}}collection", name)
    element = (loop.get("inputElement") or "").strip()
    if element:
        characteristics.set(f"{{{CAMUNDA}}}elementVariable", element)


def loop_collection_variable(element_id: str) -> str:
    """The variable a loop's FEEL inputCollection is evaluated into (local to the loop)."""
    return "loop_items_" + "".join(c if c.isalnum() else "_" for c in element_id)
