"""Where a Camunda 7 diagram may hold JUEL (``${...}``), and what deploy does with each place.

Camunda 7 takes an expression in many places; Baton evaluates JUEL (``engine.juel``, a subset
without bean or method calls) in those it runs, and refuses the rest at deploy, naming the
element and the expression. The places JUEL runs, and who evaluates it:

- texts SpiffWorkflow hands to the script engine (``juel_expressions.py``): sequence-flow
  conditions, conditional events' conditions, ``loopCardinality``, ``completionCondition``,
  and timer values (``timeDuration``/``timeDate``/``timeCycle``; the value is read as ISO 8601
  or a Quartz cron expression, as Camunda reads it);
- ``camunda:collection="${items}"`` on a multi-instance activity: Camunda reads the variable
  ``items``; SpiffWorkflow reads a collection by variable name, so the name is passed on.
  A collection that is more than a variable (``${order.items}``) is refused;
- ``camunda:assignee``, ``camunda:candidateUsers``, ``camunda:candidateGroups`` on user tasks
  (``${initiator}``): evaluated when the task becomes ready (``usertasks.py``);
- ``camunda:inputParameter`` / ``camunda:outputParameter`` values (``camunda_io.py``), and
  ``camunda:in`` / ``camunda:out`` ``sourceExpression`` on call activities (``camunda_calls.py``);
- ``camunda:expression`` on a service task, when it is in the subset
  (``${execution.setVariable('done', true)}``; ``camunda:resultVariable`` takes its value), run
  inside the advance (``in_process.py``).

Everywhere else (a message name, ``calledElement``, a ``decisionRef``, a form key...), JUEL is
refused, naming the element, the attribute and the expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from .. import juel

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# BPMN elements whose text the script engine evaluates
_EVALUATED_TEXTS = {"conditionExpression", "condition", "loopCardinality", "completionCondition",
                    "timeDuration", "timeDate", "timeCycle"}
# camunda: attributes whose value is evaluated by Baton, per element local name (None: any)
_EVALUATED_ATTRS = {
    "assignee": {"userTask"}, "candidateUsers": {"userTask"}, "candidateGroups": {"userTask"},
    "sourceExpression": {"in", "out"}, "businessKey": {"in"},
}
# camunda: elements whose text is a value Baton evaluates (I/O mappings)
_EVALUATED_ELEMENTS = {"inputParameter", "outputParameter", "value", "entry"}
_IDENTIFIER = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")

Refuse = Callable[[etree._Element, str], None]
PLACES = ("it does in conditions, loop cardinalities and completion conditions, timers, I/O mappings, "
          "camunda:in/out, assignees and candidates, multi-instance collections and camunda:expression tasks")


def _shown(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


def refusal(text: str) -> str | None:
    """Why Baton cannot evaluate the JUEL ``text``, or None."""
    return juel.check(text.strip())


def elsewhere(text: str) -> str:
    """Why JUEL in a place Baton does not evaluate it is refused (and what in it Java would do)."""
    reason = f"Baton does not evaluate JUEL here ({PLACES}); write the value out"
    beyond = refusal(text)
    return f"{reason}; besides, {beyond}" if beyond else reason


def check_text(el: etree._Element, text: str, refuse: Refuse, where: str) -> bool:
    """Refuse ``text`` when it is JUEL outside the subset; True when it is JUEL Baton evaluates."""
    reason = refusal(text)
    if reason is not None:
        refuse(el, f"JUEL expression {_shown(text)}{where} cannot run: {reason}")
        return False
    return True


def runs_text(el: etree._Element) -> bool:
    """Whether the text of ``el`` is a place where Baton evaluates JUEL."""
    qname = etree.QName(el)
    if qname.namespace == CAMUNDA:
        return qname.localname in _EVALUATED_ELEMENTS and _inside_mapping(el)
    if qname.namespace != BPMN or qname.localname not in _EVALUATED_TEXTS:
        return False
    language = (el.get("language") or "").strip().lower()
    if language and language not in ("juel", "${}", "text/juel"):
        return False
    parent = el.getparent()
    if qname.localname == "conditionExpression":
        return parent is not None and etree.QName(parent).localname == "sequenceFlow"
    if qname.localname == "condition":
        return parent is not None and etree.QName(parent).localname == "conditionalEventDefinition"
    return True


def runs_attribute(el: etree._Element, attr: str) -> bool:
    """Whether the attribute ``attr`` (``{ns}name``) of ``el`` is a place Baton evaluates JUEL."""
    qname = etree.QName(el)
    if qname.namespace == CAMUNDA and not attr.startswith("{"):  # camunda:in sourceExpression="..."
        return qname.localname in _EVALUATED_ATTRS.get(attr, ())
    if not attr.startswith(f"{{{CAMUNDA}}}"):
        return False
    local = attr.split("}", 1)[1]
    return qname.localname in _EVALUATED_ATTRS.get(local, ())


def _inside_mapping(el: etree._Element) -> bool:
    node = el
    while node is not None:
        if etree.QName(node).namespace == CAMUNDA and etree.QName(node).localname == "inputOutput":
            parent = node.getparent()  # the http-connector's own parameters are read, not evaluated
            return parent is None or etree.QName(parent).localname != "connector"
        node = node.getparent()
    return False


def collection_variable(el: etree._Element, refuse: Refuse) -> None:
    """``camunda:collection="${items}"`` names the variable ``items``: pass SpiffWorkflow the name."""
    attr = f"{{{CAMUNDA}}}collection"
    value = el.get(attr)
    if value is None or not juel.is_template(value):
        return
    found = _IDENTIFIER.match(value)
    if found is None:
        reason = refusal(value) or ("Baton reads a multi-instance collection from one variable: write "
                                    "${name}, or compute the list into a variable before the activity")
        refuse(el, f"JUEL expression {_shown(value)} in camunda:collection cannot run: {reason}")
        return
    el.set(attr, found.group(1))


def check_names(root: etree._Element, refuse: Refuse) -> None:
    """Message and signal names are read as written: one holding JUEL is refused, not matched literally."""
    for tag in ("message", "signal"):
        for el in root.iterfind(f"{{{BPMN}}}{tag}"):
            name = el.get("name") or ""
            if juel.is_template(name):
                refuse(el, f"JUEL expression {_shown(name)} in the {tag} name cannot run: Baton matches {tag}s by "
                           f"the name as written; give the {tag} a fixed name")
