"""Which decision a business rule task evaluates, chosen when the task is reached, as Camunda 7 does.

Camunda 7 looks ``camunda:decisionRef`` up in its repository when the task runs, by
``camunda:decisionRefBinding``:

- ``latest`` (the default): the newest version deployed by then, alone or with any diagram;
- ``deployment``: the version deployed together with this diagram (deploy refuses the diagram
  when its deployment has no such decision);
- ``version``: ``camunda:decisionRefVersion``, the N-th deployment that carried the decision
  (the numbering ``/decisions/ID`` shows);
- ``versionTag``: the newest version whose DMN ``camunda:versionTag`` is
  ``camunda:decisionRefVersionTag``.

``decisionRef``, ``decisionRefVersion`` and ``decisionRefVersionTag`` may be JUEL of Baton's
subset (``${decisionKey}``), evaluated over the task's variables when it runs. Deploy keeps only
what the diagram says (:class:`DecisionRefTask`'s attributes, no table); the task asks the
advance's :class:`DecisionLookup` (``engine/decision_lookup.py``, installed for the advance with
:func:`deciding`) for the version, evaluates it with its required decisions, and records the
version that decided (``decision_record``). A decision or version not deployed then is an
incident on the task naming it: deploy it, then retry the incident (the lookup runs again).

The result, as Camunda 7 maps it: with ``camunda:resultVariable``, that one variable gets the
result mapped by ``camunda:mapDecisionResult`` (``resultList``, the default: a list of each
matched rule's outputs; ``singleResult``: the one rule's outputs, or null; ``singleEntry``: its
one output's value, or null; ``collectEntries``: the one output of each matched rule, as a list);
a result that does not fit the mapping (two rules for ``singleResult``) is an incident, as in
Camunda. Without a result variable, Baton merges the outputs into the variables (a COLLECT
table's as lists) and a table that matches no rule is an incident: Camunda would keep the result
only for an output mapping's ``decisionResult``, which is a bean call Baton refuses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.util.deep_merge import DeepMerge

from .. import juel
from . import decision_record
from .juel_expressions import run as run_juel

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BINDINGS = ("latest", "deployment", "version", "versionTag")
MAPPINGS = ("resultList", "singleResult", "singleEntry", "collectEntries")

Refuse = Callable[[etree._Element, str], None]


class DecisionUnavailable(Exception):
    """The binding names no deployed decision (or version): the task's incident says which."""


@dataclass(frozen=True)
class ResolvedDecision:
    """One deployed version of a decision, ready to evaluate."""

    decision_id: str
    version: int
    deployment_id: str
    engine: Any  # SpiffWorkflow's DMNEngine of the decision's table
    required: list[Any] = field(default_factory=list)  # its required decisions' engines, in order


class DecisionLookup(Protocol):
    def find(self, decision_id: str, binding: str, version: int | None, version_tag: str | None) -> ResolvedDecision:
        """The version ``binding`` names; :class:`DecisionUnavailable` when there is none."""


_LOOKUP: ContextVar[DecisionLookup | None] = ContextVar("baton_decision_lookup", default=None)


@contextmanager
def deciding(lookup: DecisionLookup) -> Iterator[None]:
    """Business rule tasks run while this is open find their decisions with ``lookup``."""
    token = _LOOKUP.set(lookup)
    try:
        yield
    finally:
        _LOOKUP.reset(token)


def _attr(el: etree._Element, name: str) -> str | None:
    value = el.get(f"{{{CAMUNDA}}}{name}")
    return value.strip() if value is not None else None


def check(el: etree._Element, deployed_here: set[str], refuse: Refuse) -> None:
    """Refuse a business rule task whose binding or result mapping Baton would not honour."""
    ref = _attr(el, "decisionRef")
    binding = _attr(el, "decisionRefBinding") or "latest"
    version, tag = _attr(el, "decisionRefVersion"), _attr(el, "decisionRefVersionTag")
    if not ref:
        refuse(el, "business rule task names no decision: set camunda:decisionRef to the id of a DMN decision "
                   "(deployed with this diagram or before the task is reached)")
        return
    if binding not in BINDINGS:
        refuse(el, f"camunda:decisionRefBinding={binding!r} is not a binding Camunda 7 knows "
                   f"(one of {', '.join(BINDINGS)})")
    if binding == "version":
        if not version:
            refuse(el, "camunda:decisionRefBinding=\"version\" needs camunda:decisionRefVersion (a version number)")
        elif not juel.is_template(version) and not (version.isdigit() and int(version) >= 1):
            refuse(el, f"camunda:decisionRefVersion={version!r} is not a version number (1, 2, ...) "
                       "nor a ${...} expression")
    elif version is not None:
        refuse(el, f"camunda:decisionRefVersion={version!r} is read only with camunda:decisionRefBinding=\"version\" "
                   f"(this task's binding is {binding!r})")
    if binding == "versionTag" and not tag:
        refuse(el, "camunda:decisionRefBinding=\"versionTag\" needs camunda:decisionRefVersionTag")
    elif binding != "versionTag" and tag is not None:
        refuse(el, f"camunda:decisionRefVersionTag={tag!r} is read only with "
                   f"camunda:decisionRefBinding=\"versionTag\" (this task's binding is {binding!r})")
    if binding == "deployment" and not juel.is_template(ref) and ref not in deployed_here:
        known = ", ".join(sorted(deployed_here)) or "none"
        refuse(el, f"camunda:decisionRefBinding=\"deployment\" evaluates decision {ref!r} as deployed with this "
                   f"diagram, and this deployment has no such decision (its decisions: {known}); deploy its .dmn "
                   "file together with the diagram, or bind the latest version")
    result, mapping = _attr(el, "resultVariable"), _attr(el, "mapDecisionResult")
    if result is not None and not result.isidentifier():
        refuse(el, f"camunda:resultVariable={result!r} is not a variable name")
    if mapping is not None:
        if mapping not in MAPPINGS:
            refuse(el, f"camunda:mapDecisionResult={mapping!r} is not a mapping Camunda 7 knows "
                       f"(one of {', '.join(MAPPINGS)})")
        elif result is None:
            refuse(el, f"camunda:mapDecisionResult={mapping!r} maps the result into camunda:resultVariable, "
                       "which this task does not set: name the variable")


class DecisionRefTask(BpmnSpecMixin):
    """A business rule task bound to its decision when it runs (see the module's docstring)."""

    def __init__(self, wf_spec: Any, bpmn_id: str, decision_ref: str, binding: str = "latest",
                 version: str | None = None, version_tag: str | None = None, result_variable: str | None = None,
                 map_result: str | None = None, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision_ref = decision_ref
        self.binding = binding
        self.version = version
        self.version_tag = version_tag
        self.result_variable = result_variable
        self.map_result = map_result

    def _run_hook(self, my_task: Any) -> bool:
        lookup = _LOOKUP.get()
        if lookup is None:
            raise WorkflowTaskException("no decision repository is open (a business rule task runs in an advance)",
                                        task=my_task)
        decision_id = self._text(my_task, self.decision_ref, "camunda:decisionRef")
        version = None
        if self.binding == "version":
            raw = self._text(my_task, self.version or "", "camunda:decisionRefVersion")
            if not raw.isdigit() or int(raw) < 1:
                raise WorkflowTaskException(f"camunda:decisionRefVersion {self.version!r} gave {raw!r}, which is "
                                            "not a version number (1, 2, ...)", task=my_task)
            version = int(raw)
        tag = self._text(my_task, self.version_tag, "camunda:decisionRefVersionTag") if self.version_tag else None
        try:
            resolved = lookup.find(decision_id, self.binding, version, tag)
        except DecisionUnavailable as exc:
            raise WorkflowTaskException(f"{exc}; deploy it, then retry this incident", task=my_task) from exc
        own = copy.deepcopy(my_task.data)
        context = dict(my_task.data)
        try:
            for engine in resolved.required:  # a decision graph: each required decision's outputs feed the next
                my_task.data = context
                try:
                    context = {**context, **engine.result(my_task)}
                except WorkflowTaskException:
                    raise
                except Exception as exc:
                    table = engine.decision_table
                    raise WorkflowTaskException(f"required decision {table.name or table.id!r}: {exc}",
                                                task=my_task) from exc
            my_task.data = context
            table = resolved.engine.decision_table
            matched = resolved.engine.decide(my_task)
            inputs = {i.label or i.expression: _peek(my_task, i.expression) for i in table.inputs}
            kept = matched if table.hit_policy == "COLLECT" else matched[:1]  # SpiffWorkflow's result() takes these
            rows = [rule.output_as_dict(my_task) for rule in kept]
        except WorkflowTaskException as exc:
            exc.add_note(f"in decision {decision_id!r} v{resolved.version}")
            raise
        except Exception as exc:
            raise WorkflowTaskException(f"decision {decision_id!r} v{resolved.version}: {exc}", task=my_task) from exc
        finally:
            my_task.data = own
        if self.result_variable:
            my_task.data[self.result_variable] = _mapped(my_task, self.map_result or "resultList", rows, decision_id)
        elif table.hit_policy != "COLLECT" and not matched:
            shown = ", ".join(f"{name}={value!r}" for name, value in inputs.items())
            raise WorkflowTaskException(f"decision {table.name or table.id!r} matched no rule (hit policy "
                                        f"{table.hit_policy}) for {shown} (decision {decision_id!r} "
                                        f"v{resolved.version})", task=my_task)
        else:
            merged: dict[str, Any] = {}
            for row in rows:
                for name, value in row.items():
                    if table.hit_policy == "COLLECT":
                        merged.setdefault(name, []).append(value)
                    else:
                        merged[name] = value
            my_task.data = DeepMerge.merge(my_task.data, merged)
        decision_record.remember(my_task, table, matched, inputs)
        my_task.internal_data[decision_record.OUTPUTS] = [[o.name for o in table.outputs],
                                                          table.hit_policy == "COLLECT"]
        my_task.internal_data[decision_record.KEY].update(
            decision_id=resolved.decision_id, version=resolved.version, deployment_id=resolved.deployment_id)
        return True

    def _text(self, my_task: Any, text: str, what: str) -> str:
        if not juel.is_template(text):
            return text
        value = run_juel(my_task, text, my_task.data)
        if value is None or not str(value).strip():
            raise WorkflowTaskException(f"{what} {text!r} gave {value!r}; it must give a non-empty value",
                                        task=my_task)
        return str(value).strip()


def _peek(task: Any, expression: str) -> Any:
    try:
        return task.workflow.script_engine.evaluate(task, expression)
    except Exception:
        return "?"


def _mapped(task: Any, mapping: str, rows: list[dict[str, Any]], decision_id: str) -> Any:
    """The result as camunda:mapDecisionResult maps it; what does not fit is an incident, as in Camunda."""
    def fail(reason: str) -> WorkflowTaskException:
        return WorkflowTaskException(f"camunda:mapDecisionResult={mapping!r} cannot map decision {decision_id!r}: "
                                     f"{reason}", task=task)

    if mapping == "resultList":
        return rows
    if mapping == "collectEntries":
        if any(len(row) > 1 for row in rows):
            raise fail("a matched rule has more than one output; collectEntries takes tables with one output")
        return [next(iter(row.values())) for row in rows if row]
    if len(rows) > 1:
        raise fail(f"{len(rows)} rules matched; {mapping} takes at most one")
    if not rows:
        return None
    if mapping == "singleResult":
        return rows[0]
    if len(rows[0]) > 1:
        raise fail(f"the matched rule has {len(rows[0])} outputs; singleEntry takes one")
    return next(iter(rows[0].values()), None)


class DecisionRefTaskParser(CamundaTaskParser):
    @staticmethod
    def get_decision_ref(node: etree._Element) -> str | None:  # SpiffWorkflow lists a diagram's decisions so
        return _attr(node, "decisionRef")

    def create_task(self) -> DecisionRefTask:
        node = self.node
        return DecisionRefTask(self.spec, self.bpmn_id, decision_ref=_attr(node, "decisionRef") or "",
                               binding=_attr(node, "decisionRefBinding") or "latest",
                               version=_attr(node, "decisionRefVersion"),
                               version_tag=_attr(node, "decisionRefVersionTag"),
                               result_variable=_attr(node, "resultVariable") or None,
                               map_result=_attr(node, "mapDecisionResult"), **self.bpmn_attributes)


_FIELDS = ("decision_ref", "binding", "version", "version_tag", "result_variable", "map_result")


class DecisionRefTaskConverter(TaskSpecConverter):
    def to_dict(self, spec: DecisionRefTask) -> dict[str, Any]:
        dct = self.get_default_attributes(spec)
        dct.update({name: getattr(spec, name) for name in _FIELDS})
        return dct

    def from_dict(self, dct: dict[str, Any]) -> DecisionRefTask:
        return self.task_spec_from_dict(dct)
