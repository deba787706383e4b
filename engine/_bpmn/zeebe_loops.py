"""Zeebe's multi-instance output: ``zeebe:loopCharacteristics outputCollection`` and ``outputElement``.

As Zeebe runs them (Camunda 8's multi-instance documentation, "Collecting the output"):

- When the multi-instance body starts, ``outputCollection`` is a variable of the body holding
  one ``null`` per element of the input collection (an empty list for an empty collection).
- If ``outputElement`` is only a variable or a path (``=result``, ``=result.total``), that
  variable is made local to each instance, ``null`` when the instance starts (unless it is the
  ``inputElement``, local already): what a job or a person sets under that name stays in the
  instance, so parallel instances never overwrite each other and nothing reaches the process.
- When an instance completes (after its own output mappings), ``outputElement`` is evaluated
  over what the instance sees (its locals, ``loopCounter`` from 1, the process variables) and
  written into ``outputCollection`` at the instance's index in the input collection: the order
  is the input's, however the parallel instances finish. An instance that set nothing gives
  ``null``; instances a completion condition cut short leave their ``null``.
- When the body completes, ``outputCollection`` goes on with the process's variables.

Baton's loop specs (``camunda_loops.py``, SpiffWorkflow's multi-instance tasks) hold the body
and make one task per instance. A :class:`LoopOutput` rides on the data associations of both
(as ``task_scope.TaskScope`` does): on the body, ``get`` starts the collection; on the inner
task, ``get`` makes the local and ``set`` collects the element. An instance's locals that its
Zeebe mappings kept from the process are left by ``task_scope.py`` in the task's internal data
(``LOCALS``) for the evaluation here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

from .. import feel

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
LOCALS = "baton:locals"  # an instance's scope-local variables, left by task_scope.py at its completion
_COLLECTED = "baton:collected"  # on the body: the output collection, by index
_STARTED = "baton:output-local"  # on an instance: its output element variable was made local


class LoopOutput:
    """The output collection of one Zeebe multi-instance activity (a data association by duck typing)."""

    bpmn_id = "baton:loop-output"  # SpiffWorkflow pops this name from the data at completion: no variable has it

    def __init__(self, collection: str, element: str, input_element: str | None, body: bool) -> None:
        self.collection = collection
        self.element = element  # FEEL, with its '='
        self.input_element = input_element
        self.body = body  # on the multi-instance body, else on the inner activity

    @property
    def local_variable(self) -> str | None:
        """The variable an instance keeps to itself: the element's, when it is a name or a path."""
        root = _path_root(feel.feel_text(self.element) or "")
        return root if root and root != self.input_element else None

    def get(self, my_task: Any) -> None:
        if self.body:
            if _COLLECTED not in my_task.internal_data:
                items = _input_items(my_task)
                my_task.internal_data[_COLLECTED] = [None] * len(items)
                my_task.data[self.collection] = [None] * len(items)
        elif not my_task.internal_data.get(_STARTED) and self.local_variable:
            my_task.internal_data[_STARTED] = True
            my_task.data[self.local_variable] = None

    def set(self, my_task: Any) -> None:
        if self.body:
            return
        body = my_task.parent
        if body is None or not isinstance(body.task_spec, LoopTask):
            return
        index = my_task.internal_data.get("key_or_index")
        seen = dict(my_task.data)
        seen.update(my_task.internal_data.pop(LOCALS, None) or {})
        if isinstance(index, int):
            seen["loopCounter"] = index + 1
        try:
            value = feel.to_json(feel.parse(feel.feel_text(self.element) or "null").evaluate(seen))
        except feel.FeelError as exc:
            raise WorkflowTaskException(f"zeebe:loopCharacteristics outputElement {self.element!r}: {exc}",
                                        task=my_task, exception=exc) from exc
        collected = body.internal_data.setdefault(_COLLECTED, [])
        if isinstance(index, int) and 0 <= index < len(collected):
            collected[index] = value
        else:  # not a list input (SpiffWorkflow iterates other collections without an index)
            collected.append(value)
        body.data[self.collection] = _copy(collected)
        my_task.data[self.collection] = _copy(collected)  # merged into the body next: the same, not older
        local = self.local_variable
        if local is not None:  # the instance's own: the body keeps what it had
            if local in body.data:
                my_task.data[local] = _copy(body.data[local])
            else:
                my_task.data.pop(local, None)
        my_task.internal_data.pop(_STARTED, None)


class LoopOutputConverter(BpmnConverter):
    def to_dict(self, spec: LoopOutput) -> dict[str, Any]:
        return {"collection": spec.collection, "element": spec.element, "input_element": spec.input_element,
                "body": spec.body}

    def from_dict(self, dct: dict[str, Any]) -> LoopOutput:
        return LoopOutput(dct["collection"], dct["element"], dct.get("input_element"), bool(dct["body"]))


def _input_items(my_task: Any) -> Sequence[Any]:
    reference = getattr(my_task.task_spec, "data_input", None)
    items = my_task.data.get(reference.bpmn_id) if reference is not None else None
    return items if isinstance(items, list | tuple) else []


def _path_root(text: str) -> str | None:
    """``result`` for ``result`` or ``result.total``; None for any other expression."""
    parts = text.strip().split(".")
    return parts[0] if parts[0] and all(p.isidentifier() for p in parts) else None


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- deploy ------------------------------------------------------------------------------------


def output_of(el: etree._Element) -> tuple[str, str] | None:
    """(outputCollection, outputElement) of an element's Zeebe loop, or None."""
    zeebe = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics/{{{BPMN}}}extensionElements/"
                    f"{{{ZEEBE}}}loopCharacteristics")
    if zeebe is None:
        return None
    collection = (zeebe.get("outputCollection") or "").strip()
    element = (zeebe.get("outputElement") or "").strip()
    return (collection, element) if collection or element else None


def check(el: etree._Element, refuse: Any) -> None:
    """Refuse an output collection Baton cannot fill: half of the pair, a bad name, FEEL outside the subset."""
    found = output_of(el)
    if found is None:
        return
    collection, element = found
    if not collection or not element:
        refuse(el, "zeebe:loopCharacteristics needs both outputCollection and outputElement to collect output")
    elif not collection.isidentifier():
        refuse(el, f"zeebe:loopCharacteristics outputCollection {collection!r} is not a variable name")
    elif feel.feel_text(element) is None:
        refuse(el, f"zeebe:loopCharacteristics outputElement {element!r} is not a FEEL expression (=result)")
    else:
        try:
            feel.check(feel.feel_text(element) or "")
        except feel.FeelError as exc:
            refuse(el, f"zeebe:loopCharacteristics outputElement {element[:80]!r} cannot run: {exc}")


def attach(root: etree._Element, specs: list[Any], keep_locals: Any) -> None:
    """Give a Zeebe loop's body and inner task specs their :class:`LoopOutput` (after the other
    associations: it collects once the instance's own mappings ran). ``keep_locals(task_spec)``
    asks the inner task's mappings to leave their locals for the evaluation."""
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            el = by_id.get(getattr(task_spec, "bpmn_id", None))
            found = output_of(el) if el is not None else None
            if found is None or not hasattr(task_spec, "data_input_associations") \
                    or any(isinstance(a, LoopOutput) for a in task_spec.data_input_associations):
                continue
            zeebe = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics/{{{BPMN}}}extensionElements/"
                            f"{{{ZEEBE}}}loopCharacteristics")
            input_element = (zeebe.get("inputElement") or "").strip() or None
            body = isinstance(task_spec, LoopTask)
            output = LoopOutput(found[0], found[1], input_element, body)
            if body:
                task_spec.data_input_associations.append(output)
            else:
                task_spec.data_input_associations.insert(0, output)  # the local exists before the inputs run
                task_spec.data_output_associations.append(output)
                keep_locals(task_spec)
