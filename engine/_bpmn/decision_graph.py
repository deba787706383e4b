"""DMN files with several decisions: a decision graph (DRG) whose decisions require others.

Camunda 7 evaluates a decision with its required decisions first (``informationRequirement`` /
``requiredDecision href="#dish"``): each required decision's outputs are available, by their
output names, to the inputs of the decisions that require it; only the evaluated decision's
outputs are the business rule task's result. Baton does the same:

- at deploy, :func:`check` accepts a file with several decision tables when every required
  decision is in the file and the requirements form no cycle (a literal-expression decision, a
  missing one or a cycle is refused, naming the decision); :func:`split` hands SpiffWorkflow,
  which reads one decision per DMN document, one document per decision;
- when a business rule task runs (``decision_binding.py``), :func:`compile_decision` gives it
  the decision and its required ones, in dependency order, from the version's own file; it
  evaluates them over the task's variables plus what the ones before gave, then its own
  decision; the variables get only its own decision's outputs.

:class:`DecisionGraphTask` did that with tables bound at deploy; it stays for the definitions
deployed so, whose stored specs hold it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter

from .events import BusinessRuleTask

Refuse = Callable[[etree._Element, str], None]


def _requires(decision: etree._Element) -> list[str]:
    found: list[str] = []
    for ref in decision.iterfind("{*}informationRequirement/{*}requiredDecision"):
        name = (ref.get("href") or "").lstrip("#").strip()
        if name and name not in found:
            found.append(name)
    return found


def check(root: etree._Element, refuse: Refuse) -> None:
    """Refuse what in a DMN file's decisions Baton cannot evaluate, naming the decision."""
    decisions = {d.get("id"): d for d in root.iterfind("{*}decision")}
    for decision in decisions.values():
        if decision.find("{*}decisionTable") is None:
            refuse(decision, "the decision has no decision table; Baton evaluates decision tables only")
        for required in _requires(decision):
            if required not in decisions:
                refuse(decision, f"requires decision {required!r}, which is not in this DMN file")
    for decision_id in decisions:
        cycle = _cycle(decision_id, decisions)
        if cycle:
            refuse(decisions[decision_id], f"the decisions require each other in a cycle ({' -> '.join(cycle)})")
            return


def _cycle(start: str, decisions: dict[str, etree._Element]) -> list[str]:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for required in _requires(decisions[node]) if node in decisions else []:
            if required == start:
                return [*path, required]
            if required not in path:
                stack.append((required, [*path, required]))
    return []


_NEEDS_ID = ("decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")


def split(root: etree._Element) -> list[etree._Element]:
    """One DMN document per decision (SpiffWorkflow reads the first decision of a document).

    DMN lets a table and its parts go without an id (Camunda Modeler writes tables without one);
    SpiffWorkflow needs one, so a part without gets one made from its decision's."""
    for decision in root.iterfind("{*}decision"):
        for n, part in enumerate(el for el in decision.iter() if isinstance(el.tag, str)
                                 and etree.QName(el).localname in _NEEDS_ID and not el.get("id")):
            part.set("id", f"{decision.get('id')}_{etree.QName(part).localname}_{n}")
    decisions = list(root.iterfind("{*}decision"))
    if len(decisions) <= 1:
        return [root]
    documents = []
    for keep in decisions:
        copy_root = copy.deepcopy(root)
        for other in list(copy_root.iterfind("{*}decision")):
            if other.get("id") != keep.get("id"):
                copy_root.remove(other)
        documents.append(copy_root)
    return documents


class DecisionGraphTask(BusinessRuleTask):
    """A business rule task whose decision requires others (``required``: in evaluation order)."""

    def __init__(self, wf_spec: Any, bpmn_id: str, dmnEngine: Any, required: list[Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, dmnEngine=dmnEngine, **kwargs)
        self.required = list(required or [])

    def _run_hook(self, my_task: Any) -> Any:
        if not self.required:
            return super()._run_hook(my_task)
        own = copy.deepcopy(my_task.data)
        context = dict(my_task.data)
        for engine in self.required:
            my_task.data = context
            try:
                context = {**context, **engine.result(my_task)}
            except WorkflowTaskException:
                my_task.data = own
                raise
            except Exception as exc:
                my_task.data = own
                table = engine.decision_table
                raise WorkflowTaskException(f"required decision {table.name or table.id!r}: {exc}",
                                            task=my_task) from exc
        my_task.data = context
        try:
            result = super()._run_hook(my_task)
        except Exception:
            my_task.data = own
            raise
        outputs = {o.name for o in self.dmnEngine.decision_table.outputs if o.name}
        own.update({k: v for k, v in my_task.data.items() if k in outputs})
        my_task.data = own
        return result


def _order(decision_ref: str, parser: Any) -> list[str]:
    """The decisions ``decision_ref`` requires, each after the ones it requires (deploy refused cycles)."""
    order: list[str] = []

    def visit(ref: str) -> None:
        found = parser.dmn_parsers.get(ref)
        if found is None:
            return
        decision = found.node.find(f"{{*}}decision[@id='{ref}']")
        for required in _requires(decision) if decision is not None else []:
            if required not in order and required != decision_ref:
                visit(required)
                if required not in order:
                    order.append(required)

    visit(decision_ref)
    return order


class DecisionGraphTaskConverter(BaseBusinessRuleTaskConverter):
    def to_dict(self, spec: DecisionGraphTask) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct["required"] = [self.decision_table_to_dict(e.decision_table) for e in spec.required]
        return dct

    def from_dict(self, dct: dict[str, Any]) -> DecisionGraphTask:
        required = [DMNEngine(self.decision_table_from_dict(t)) for t in dct.pop("required", [])]
        spec = super().from_dict(dct)
        spec.required = required
        return spec


def compile_decision(root: etree._Element, decision_id: str, file_name: str = "") -> tuple[Any, list[Any]]:
    """SpiffWorkflow's engine of decision ``decision_id`` in the DMN document ``root``, and its
    required decisions' engines in evaluation order (taken from the same file, as Camunda 7 takes a
    decision's requirements from its own DRD). Raises ``ValidationException`` for a table
    SpiffWorkflow cannot read, ``KeyError`` when the file has no such decision."""
    from SpiffWorkflow.camunda.parser import CamundaParser

    parser = CamundaParser()
    for document in split(copy.deepcopy(root)):
        parser.add_dmn_xml(document, filename=file_name)
    if decision_id not in parser.dmn_parsers:
        raise KeyError(decision_id)
    return (parser.get_engine(decision_id, None),
            [parser.get_engine(ref, None) for ref in _order(decision_id, parser)])
