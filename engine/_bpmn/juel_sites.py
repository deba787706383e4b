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
- ``camunda:decisionRef``, ``decisionRefVersion`` and ``decisionRefVersionTag`` on a business
  rule task, evaluated when the task runs (``decision_binding.py``);
- ``camunda:expression`` on a service task, when it is in the subset
  (``${execution.setVariable('done', true)}``; ``camunda:resultVariable`` takes its value), run
  inside the advance (``in_process.py``).

- a message name (``<bpmn:message name="order-${orderId}">``) caught by an intermediate or
  boundary event or a receive task: evaluated over the waiting task's variables when its
  subscription is made, and the message correlates by the evaluated name (:func:`message_name`,
  called by ``messages.py``). A message start event's (or a throw's) name must be constant, as
  Camunda 7 requires: there is no instance to evaluate it on.

Everywhere else (a signal name, ``calledElement``, a form key...), JUEL is
refused, naming the element, the attribute and the expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from .. import juel
from .juel_expressions import run as run_juel

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# BPMN elements whose text the script engine evaluates
_EVALUATED_TEXTS = {"conditionExpression", "condition", "loopCardinality", "completionCondition",
                    "timeDuration", "timeDate", "timeCycle"}
# camunda: attributes whose value is evaluated by Baton, per element local name (None: any)
_EVALUATED_ATTRS = {
    "assignee": {"userTask"}, "candidateUsers": {"userTask"}, "candidateGroups": {"userTask"},
    "sourceExpression": {"in", "out"}, "businessKey": {"in"},
    # which decision (version) a business rule task evaluates, when it runs (decision_binding.py)
    "decisionRef": {"businessRuleTask"}, "decisionRefVersion": {"businessRuleTask"},
    "decisionRefVersionTag": {"businessRuleTask"},
}
# camunda: elements whose text is a value Baton evaluates (I/O mappings)
_EVALUATED_ELEMENTS = {"inputParameter", "outputParameter", "value", "entry"}
_IDENTIFIER = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")

Refuse = Callable[[etree._Element, str], None]
PLACES = ("it does in conditions, loop cardinalities and completion conditions, timers, I/O mappings, "
          "camunda:in/out, assignees and candidates, multi-instance collections, camunda:expression tasks, "
          "the decisionRef, version and version tag of business rule tasks "
          "and the names of messages that events and receive tasks wait for")


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


_CATCHES = {"intermediateCatchEvent", "boundaryEvent", "receiveTask"}
_NAMES = "baton:message-names"  # a waiting task's evaluated message names, in its internal data


def check_names(root: etree._Element, refuse: Refuse) -> None:
    """A message name with JUEL is evaluated where a catch waits for it (:func:`message_name`);
    refused on a message start event or a throw, and outside the subset. Signal names are read
    as written: one holding JUEL is refused, not matched literally."""
    for el in root.iterfind(f"{{{BPMN}}}message"):
        name = el.get("name") or ""
        if not juel.is_template(name):
            continue
        constant = [user for user in _message_users(root, el.get("id")) if etree.QName(user).localname not in _CATCHES]
        if constant:
            user = constant[0]
            kind = "message start event" if etree.QName(user).localname == "startEvent" else etree.QName(user).localname
            refuse(user, f"JUEL expression {_shown(name)} in the name of message {el.get('id')!r} cannot run on a "
                         f"{kind}: Camunda 7 requires a constant name there (nothing to evaluate it on); give the "
                         "message a fixed name")
        elif (reason := refusal(name)) is not None:
            refuse(el, f"JUEL expression {_shown(name)} in the message name cannot run: {reason}")
    for el in root.iterfind(f"{{{BPMN}}}signal"):
        name = el.get("name") or ""
        if juel.is_template(name):
            refuse(el, f"JUEL expression {_shown(name)} in the signal name cannot run: Baton matches signals by "
                       "the name as written; give the signal a fixed name")


def _message_users(root: etree._Element, message_id: str | None) -> list[etree._Element]:
    """The events and tasks that catch or throw the message ``message_id``."""
    if not message_id:
        return []
    users = []
    for el in root.iter(f"{{{BPMN}}}messageEventDefinition", f"{{{BPMN}}}receiveTask", f"{{{BPMN}}}sendTask"):
        if (el.get("messageRef") or "").strip() == message_id:
            parent = el.getparent()
            users.append(parent if etree.QName(el).localname == "messageEventDefinition" and parent is not None
                         else el)
    return users


def message_name(task: Any, definition: Any) -> str:
    """The name ``task`` waits for with message ``definition``: its name, or with JUEL, its value
    over the task's variables when first asked (the subscription), kept on the task so it never
    changes while the task waits. An unknown variable is an incident on the task."""
    name = definition.name
    if not isinstance(name, str) or not juel.is_template(name):
        return name
    names = task.internal_data.setdefault(_NAMES, {})
    if name not in names:
        value = run_juel(task, name, task.data)
        names[name] = "" if value is None else str(value)
    return str(names[name])
