"""What deploy makes of a Camunda 7 task that names Java: ``camunda:class``,
``camunda:delegateExpression`` or ``camunda:expression``.

- A ``camunda:expression`` in Baton's JUEL subset (``${execution.setVariable('sent', true)}``)
  is evaluated when the task is reached, inside the advance (``in_process.py``); its value goes
  to ``camunda:resultVariable`` when there is one. A bean or method call is refused.
- A ``camunda:class`` or ``camunda:delegateExpression`` whose name the endpoint file binds
  (``[delegates."com.acme.SendInvoice"]``, see ``engine/endpoints.py``) runs as a job on that
  endpoint, like a topic; one not bound is refused, saying how to bind it.

Only service and send tasks run this way (what Camunda 7 runs as a Java delegate task); a Java
name anywhere else stays refused by ``checks.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from .. import juel
from ..endpoints import EndpointMap

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_TASKS = ("serviceTask", "sendTask")
Refuse = Callable[[etree._Element, str], None]


def binding(el: etree._Element, endpoints: EndpointMap, refuse: Refuse) -> dict[str, Any] | None:
    """The binding of a service/send task naming Java, ``{}`` when refused here, None when the
    element names no Java or is not such a task (``checks.py`` decides)."""
    if etree.QName(el).localname not in _TASKS:
        return None
    for attr in ("class", "delegateExpression", "expression"):
        value = el.get(f"{{{CAMUNDA}}}{attr}")
        if value is None:
            continue
        if attr == "expression":
            return _expression(el, value, refuse)
        return _delegate(el, attr, value, endpoints, refuse)
    return None


def check_result_variable(el: etree._Element, refuse: Refuse) -> None:
    """``camunda:resultVariable`` is read on a ``camunda:expression`` task and a business rule task
    (``decision_binding.py``) only: refuse it elsewhere (on a script task in a language Baton does
    not run, the script's refusal says it all)."""
    if etree.QName(el).localname == "businessRuleTask":
        return
    if etree.QName(el).localname == "scriptTask" and (el.get("scriptFormat") or "").strip().lower() not in (
            "", "python", "python3", "text/x-python", "py"):
        return
    if el.get(f"{{{CAMUNDA}}}resultVariable") is not None and el.get(f"{{{CAMUNDA}}}expression") is None:
        refuse(el, f"camunda:resultVariable={el.get(f'{{{CAMUNDA}}}resultVariable')!r} is not set by Baton here: "
                   "it takes the value of a camunda:expression service task or a business rule task's decision "
                   "only (a script sets variables by assigning them)")


def _expression(el: etree._Element, value: str, refuse: Refuse) -> dict[str, Any]:
    reason = juel.check(value.strip()) if juel.is_template(value) else "it is not a ${...} expression"
    if reason is not None:
        refuse(el, f"camunda:expression {value.strip()[:80]!r} cannot run: {reason}; move the logic to a "
                   "service (camunda:type=\"external\" with camunda:topic) or bind the bean in BATON_ENDPOINTS")
        return {}
    found: dict[str, Any] = {"expression": value.strip()}
    result = (el.get(f"{{{CAMUNDA}}}resultVariable") or "").strip()
    if result:
        found["result_variable"] = result
    return found


def _delegate(el: etree._Element, attr: str, value: str, endpoints: EndpointMap, refuse: Refuse) -> dict[str, Any]:
    endpoint = endpoints.delegate(value)
    if endpoint is None:
        # the file's name only: a refusal is shown to whoever deploys, not the server's layout
        where = (f"the map is {Path(endpoints.source).name}" if endpoints.source
                 else "no BATON_ENDPOINTS file is configured")
        refuse(el, f"camunda:{attr} {value.strip()!r} needs a Java runtime; bind it to an endpoint in BATON_ENDPOINTS "
                   f"([delegates.\"{value.strip()}\"] with url or python; {where}), or use camunda:type=\"external\" "
                   "with camunda:topic")
        return {}
    return {"topic": endpoint.topic}  # camunda:asyncBefore makes it "async" (commit_points.py)
