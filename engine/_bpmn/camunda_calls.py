"""Camunda 7's ``camunda:in`` / ``camunda:out`` on a call activity: which variables cross the call.

As Camunda 7 maps them, once a call activity has any of them:

- ``<camunda:in source="a" target="b"/>`` passes the caller's ``a`` as the child's ``b``;
  ``sourceExpression="${...}"`` passes a JUEL value; ``variables="all"`` passes every variable.
  Only what is mapped reaches the child.
- ``<camunda:out source="b" target="a"/>`` (and ``sourceExpression``, ``variables="all"``) brings
  the child's ``b`` back as the caller's ``a``, evaluated over the child's variables when it
  ends. Only what is mapped comes back; the caller's other variables are as they were.
- ``<camunda:in businessKey="#{execution.processBusinessKey}"/>`` gives the child the caller's
  business key, which Baton gives every child (``outcomes.start_child``); any other business key
  expression is refused at deploy, naming the element.

A call activity with no ``camunda:in``/``camunda:out`` keeps Baton's rule (``calls.py``): every
variable goes to the child and every variable of the child comes back.

The mapping rides on SpiffWorkflow's data associations of the call activity's spec (``get`` when
it becomes ready, before the call job reads its data; ``set`` when it completes, after the
child's variables were merged into it), like ``camunda_io.py``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter

from . import juel_expressions

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_SAVED = "baton:caller-data"
_CALLER_KEY = re.compile(r"^\s*[$#]\{\s*execution\s*\.\s*(processBusinessKey|getProcessBusinessKey\(\s*\))\s*\}\s*$")
Refuse = Callable[[etree._Element, str], None]
# one mapping: ("all", None, None) | ("source", name, target) | ("expression", text, target)
Mapping = tuple[str, Any, Any]


class CallMappings:
    """A call activity's ``camunda:in`` / ``camunda:out`` (a SpiffWorkflow data association by duck typing)."""

    bpmn_id = "baton:camunda-call"  # SpiffWorkflow pops this name from the data at completion

    def __init__(self, ins: list[Mapping], outs: list[Mapping]) -> None:
        self.ins = ins
        self.outs = outs

    def get(self, my_task: Any) -> None:
        """Before the call: the task's data becomes what the child is given; the caller's is kept."""
        if _SAVED in my_task.internal_data:
            return  # mapped already (SpiffWorkflow may update a task more than once)
        caller = copy.deepcopy(my_task.data)
        my_task.internal_data[_SAVED] = caller
        my_task.data = _mapped(my_task, self.ins, caller, "camunda:in")

    def set(self, my_task: Any) -> None:
        """After it: the caller's variables, with what ``camunda:out`` brings back from the child's."""
        child = dict(my_task.data)
        result = my_task.internal_data.pop(_SAVED, None)
        if result is None:
            result = {}
        result.update(_mapped(my_task, self.outs, child, "camunda:out"))
        my_task.data = result


def _mapped(my_task: Any, mappings: list[Mapping], source: dict[str, Any], what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind, value, target in mappings:
        if kind == "all":
            found.update(copy.deepcopy(source))
        elif kind == "source":
            found[target] = copy.deepcopy(source.get(value))  # an unset variable maps to null, as in Camunda
        else:
            try:
                found[target] = juel_expressions.run(my_task, value, source)
            except WorkflowTaskException as exc:
                exc.add_note(f"in {what} target {target!r} of {my_task.task_spec.bpmn_id}")
                raise
    return found


class CallMappingsConverter(BpmnConverter):
    def to_dict(self, spec: CallMappings) -> dict[str, Any]:
        return {"ins": spec.ins, "outs": spec.outs}

    def from_dict(self, dct: dict[str, Any]) -> CallMappings:
        return CallMappings([tuple(m) for m in dct["ins"]], [tuple(m) for m in dct["outs"]])  # type: ignore[misc]


# -- deploy --------------------------------------------------------------------------------------


def check(el: etree._Element, refuse: Refuse) -> None:
    """Refuse a ``camunda:in``/``camunda:out`` Baton would misread (JUEL is checked by checks.py)."""
    what = f"camunda:{etree.QName(el).localname}"
    parent = el.getparent()
    owner = parent.getparent() if parent is not None else None
    if owner is None or etree.QName(owner).localname != "callActivity":
        refuse(el, f"{what} maps the variables of a call activity; Baton reads it there only "
                   "(on a signal or other event it would be dropped)")
        return
    key = el.get("businessKey")
    if key is not None:
        if etree.QName(el).localname != "in" or not _CALLER_KEY.match(key):
            refuse(el, f"{what} businessKey={key!r}: Baton gives a called instance its caller's business key; "
                       "write #{execution.processBusinessKey} or leave it out")
        return
    if el.get("variables") is not None:
        if el.get("variables") != "all":
            refuse(el, f"{what} variables={el.get('variables')!r}: only variables=\"all\" is defined")
        return
    if not el.get("target") or not (el.get("source") or el.get("sourceExpression")):
        refuse(el, f"{what} needs a target and a source or sourceExpression (or variables=\"all\")")


def mappings_of(el: etree._Element) -> CallMappings | None:
    extensions = el.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        return None
    ins = [_mapping(m) for m in extensions.iterfind(f"{{{CAMUNDA}}}in")]
    outs = [_mapping(m) for m in extensions.iterfind(f"{{{CAMUNDA}}}out")]
    if not ins and not outs:
        return None
    return CallMappings([m for m in ins if m is not None], [m for m in outs if m is not None])


def _mapping(el: etree._Element) -> Mapping | None:
    if el.get("businessKey") is not None:
        return None  # the caller's key, which every child gets
    if el.get("variables") == "all":
        return ("all", None, None)
    if el.get("sourceExpression"):
        return ("expression", el.get("sourceExpression", "").strip(), el.get("target"))
    return ("source", el.get("source"), el.get("target"))


def attach(root: etree._Element, specs: list[Any]) -> None:
    """Give each call activity spec the mappings its element declares."""
    by_id = {el.get("id"): el for el in root.iter(f"{{{BPMN}}}callActivity") if el.get("id")}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            el = by_id.get(getattr(task_spec, "bpmn_id", None))
            if el is None or not hasattr(task_spec, "data_input_associations"):
                continue
            if any(isinstance(a, CallMappings) for a in task_spec.data_input_associations):
                continue
            mappings = mappings_of(el)
            if mappings is not None:
                task_spec.data_input_associations.append(mappings)
                task_spec.data_output_associations.append(mappings)
