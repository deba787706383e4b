"""Camunda 7's ``camunda:inputOutput``: an activity's input and output parameters.

As Camunda 7 runs them:

- each ``camunda:inputParameter`` is evaluated when the activity starts, over the variables it
  sees, and set as a *local* variable of the activity (its job, form or script sees it);
- each ``camunda:outputParameter`` is evaluated when the activity ends, over its variables
  (locals and what the work set included), and set in the process;
- the locals end with the activity. With output parameters, only the outputs reach the process
  (what the work set stays local); without them, what the work set reaches the process.

A value is literal text (empty: null), text with ``${...}`` (JUEL, ``engine.juel``: an unknown
variable is an incident), a ``camunda:list`` of values, a ``camunda:map`` of ``camunda:entry``
values (nested as deep as written), or a ``camunda:script`` in Python (its expression's value,
in the script sandbox). A script in another language is refused at deploy, naming the element.

The mappings ride on SpiffWorkflow's data associations of the task spec (``get`` runs when the
task becomes ready, ``set`` when it completes, before the next tasks copy its data), so every
task type has them and the stored spec keeps them (:class:`CamundaMappingsConverter`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter

from .. import juel
from . import juel_expressions

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_PYTHON = {"python", "python3", "text/x-python", "py"}
_SAVED = "baton:camunda-scope"  # the data before the inputs, kept in the task's internal data
Refuse = Callable[[etree._Element, str], None]


class CamundaMappings:
    """One activity's parameters (a SpiffWorkflow data association by duck typing)."""

    bpmn_id = "baton:camunda-io"  # SpiffWorkflow pops this name from the data at completion: no variable has it

    def __init__(self, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]]) -> None:
        self.inputs = inputs
        self.outputs = outputs

    def get(self, my_task: Any) -> None:
        """When the activity starts: the inputs, evaluated over what it sees, as its locals."""
        if _SAVED in my_task.internal_data:
            return  # mapped already (SpiffWorkflow may update a task more than once)
        before = copy.deepcopy(my_task.data)
        values = [(name, _value(my_task, spec, before, f"inputParameter {name!r}")) for name, spec in self.inputs]
        my_task.internal_data[_SAVED] = {"before": before, "locals": [name for name, _ in self.inputs]}
        for name, value in values:
            my_task.data[name] = value

    def set(self, my_task: Any) -> None:
        """When it ends: the outputs into the process; the locals end here."""
        saved = my_task.internal_data.pop(_SAVED, None) or {"before": {}, "locals": []}
        scope = dict(my_task.data)
        values = [(name, _value(my_task, spec, scope, f"outputParameter {name!r}")) for name, spec in self.outputs]
        if self.outputs:
            result = dict(saved["before"])
        else:
            result = {k: v for k, v in scope.items() if k not in saved["locals"]}
            for name in saved["locals"]:  # a local shadowed a process variable: the process's comes back
                if name in saved["before"]:
                    result[name] = saved["before"][name]
        for name, value in values:
            result[name] = value
        my_task.data = result


def set_locals(my_task: Any, values: dict[str, Any]) -> bool:
    """Set ``values`` as locals of the running activity (an external worker's ``localVariables``):
    its output parameters read them and they end with it. False: the activity has no
    ``camunda:inputOutput``, so nothing could read them and Camunda would drop them at its end."""
    saved = my_task.internal_data.get(_SAVED)
    if saved is None:
        return False
    for name, value in values.items():
        my_task.data[name] = value
        if name not in saved["locals"]:
            saved["locals"].append(name)
    return True


def _value(my_task: Any, spec: Any, data: dict[str, Any], what: str) -> Any:
    kind, body = spec
    if kind == "null":
        return None
    if kind == "text":
        return body
    if kind == "juel":
        try:
            return juel_expressions.run(my_task, body, data)
        except WorkflowTaskException as exc:
            exc.add_note(f"in camunda:{what} of {my_task.task_spec.bpmn_id}")
            raise
    if kind == "list":
        return [_value(my_task, item, data, what) for item in body]
    if kind == "map":
        return {key: _value(my_task, item, data, what) for key, item in body}
    # kind == "python": the value of a Python expression, in the sandbox
    try:
        return my_task.workflow.script_engine.evaluate(my_task, body, external_context=data)
    except WorkflowTaskException as exc:
        exc.add_note(f"in the camunda:script of camunda:{what} of {my_task.task_spec.bpmn_id}")
        raise


class CamundaMappingsConverter(BpmnConverter):
    def to_dict(self, spec: CamundaMappings) -> dict[str, Any]:
        return {"inputs": spec.inputs, "outputs": spec.outputs}

    def from_dict(self, dct: dict[str, Any]) -> CamundaMappings:
        return CamundaMappings([(n, _restore(v)) for n, v in dct["inputs"]],
                               [(n, _restore(v)) for n, v in dct["outputs"]])


def _restore(spec: Any) -> Any:
    kind, body = spec
    if kind == "list":
        return (kind, [_restore(v) for v in body])
    if kind == "map":
        return (kind, [(k, _restore(v)) for k, v in body])
    return (kind, body)


# -- deploy: read the XML, check it, attach to the parsed specs -----------------------------------


def check(mapping: etree._Element, refuse: Refuse) -> None:
    """Refuse what in a ``camunda:inputOutput`` Baton cannot run (JUEL is checked by checks.py)."""
    for script in mapping.iter(f"{{{CAMUNDA}}}script"):
        fmt = (script.get("scriptFormat") or "").strip().lower()
        if fmt not in _PYTHON:
            refuse(script, f"camunda:script (scriptFormat {fmt!r}) in {_parameter(script)} cannot run: Baton runs "
                           "Python scripts only; write the value as ${...} or in Python")
        elif script.get("resource"):
            refuse(script, f"camunda:script resource in {_parameter(script)}: external script resources are not "
                           "supported; put the script in the diagram")
        else:
            try:
                compile((script.text or "").strip(), "<camunda:script>", "eval")
            except SyntaxError as exc:
                refuse(script, f"camunda:script in {_parameter(script)} is not a Python expression: {exc.msg}")
    for entry in mapping.iter(f"{{{CAMUNDA}}}entry"):
        if not entry.get("key"):
            refuse(entry, f"a camunda:entry in {_parameter(entry)} has no key")


def _parameter(el: etree._Element) -> str:
    node: etree._Element | None = el
    while node is not None and etree.QName(node).localname not in ("inputParameter", "outputParameter"):
        node = node.getparent()
    if node is None:
        return "a parameter"
    return f"camunda:{etree.QName(node).localname} {node.get('name')!r}"


def mappings_of(el: etree._Element) -> CamundaMappings | None:
    found = el.find(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}inputOutput")
    if found is None:
        return None
    inputs = [(p.get("name") or "", _spec(p)) for p in found.iterfind(f"{{{CAMUNDA}}}inputParameter")]
    outputs = [(p.get("name") or "", _spec(p)) for p in found.iterfind(f"{{{CAMUNDA}}}outputParameter")]
    return CamundaMappings(inputs, outputs) if inputs or outputs else None


def _spec(el: etree._Element) -> tuple[str, Any]:
    """A parameter's (or list item's, or map entry's) value as data: (kind, body)."""
    children = [c for c in el if isinstance(c.tag, str)]
    if children:
        child = children[0]
        local = etree.QName(child).localname
        if local == "list":
            return ("list", [_spec(v) for v in child if isinstance(v.tag, str)])
        if local == "map":
            return ("map", [(e.get("key") or "", _spec(e)) for e in child if isinstance(e.tag, str)])
        if local == "script":
            return ("python", (child.text or "").strip())
    text = el.text or ""
    if not text.strip():
        return ("null", None)
    if juel.is_template(text):
        return ("juel", text.strip())
    return ("text", text)


def attach(root: etree._Element, specs: list[Any]) -> None:
    """Give each parsed task spec the parameters its element declares (a loop's go on each instance)."""
    by_id = {el.get("id"): el for el in root.iter(f"{{{BPMN}}}*") if el.get("id")}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            el = by_id.get(getattr(task_spec, "bpmn_id", None))
            if el is None or not hasattr(task_spec, "data_input_associations"):
                continue
            if el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics") is not None and task_spec.name == el.get("id"):
                continue  # the loop around the instances: each instance maps its own
            if any(isinstance(a, CamundaMappings) for a in task_spec.data_input_associations):
                continue
            mappings = mappings_of(el)
            if mappings is not None:
                task_spec.data_input_associations.append(mappings)
                task_spec.data_output_associations.append(mappings)
