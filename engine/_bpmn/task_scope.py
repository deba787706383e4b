"""What runs around a task's own work: Zeebe's variable mappings and SpiffArena's pre/post scripts.

- ``zeebe:ioMapping``: each ``zeebe:input`` (a FEEL ``=source``, or a static text) is evaluated
  when the task becomes ready and set as a *local* variable of the task (``target``, dotted paths
  build nested contexts); the job, form or call sees it. When the task completes, each
  ``zeebe:output`` is evaluated over the task's variables (locals and the job's result
  included) and merged into the process. As Zeebe does: with output mappings, only the outputs
  reach the process (the job's own variables stay local); without them, the job's variables
  reach it but the input locals do not. A call activity propagates all the child's variables
  too, unless ``zeebe:calledElement propagateAllChildVariables="false"``.
- ``spiffworkflow:preScript`` runs when the task becomes ready, ``spiffworkflow:postScript`` when
  it completes (after the call's answer is in the data), as SpiffArena runs them: Python, in
  Baton's script sandbox, over the task's data.
- ``spiffworkflow:serviceTaskOperator``: its parameters (Python expressions) are evaluated when
  the task becomes ready and passed to the call as variables of the task's own; the call's
  answer goes into ``resultVariable`` as one value (SpiffArena's connector response), else into
  the process; the parameters themselves stay local.

All ride on SpiffWorkflow's data associations of the task spec: the object below is one of
the spec's ``data_input_associations`` (``get`` runs at ready) and ``data_output_associations``
(``set`` runs at completion, before the next tasks copy the data), so every task type has them
without a spec class of its own, and the specs store them (:class:`TaskScopeConverter`).
"""

from __future__ import annotations

import ast
import json
from typing import Any

from lxml import etree
from RestrictedPython import safe_builtins
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from .. import feel
from ..errors import InvalidVariables
from . import decision_record, dialect_translation, zeebe_loops

# what the sandbox's scripts may call (sandbox_child.py: RestrictedPython's safe builtins and these)
_SANDBOX_NAMES = frozenset(safe_builtins) | {
    "list", "dict", "set", "tuple", "sorted", "min", "max", "sum", "any", "all", "enumerate", "zip", "map",
    "filter", "reversed", "frozenset", "datetime", "date", "timedelta", "getattr"}

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_SAVED = "baton:scope"  # the task's data before its inputs, in its internal data until it completes
_STARTED = "baton:scope-open"  # the scope was opened (get ran) and not closed yet
_MADE = "baton:inputs"  # what the inputs set (top-level names), to tell an input local from a result


class TaskScope:
    """The mappings and scripts of one task (a SpiffWorkflow data association by duck typing)."""

    bpmn_id = "baton:task-scope"  # SpiffWorkflow pops this name from the data at completion: no variable has it

    def __init__(self, inputs: list[tuple[str, str]] | None = None, outputs: list[tuple[str, str]] | None = None,
                 propagate_all: bool = False, pre_script: str | None = None, post_script: str | None = None,
                 maps: bool = False, parameters: list[tuple[str, str]] | None = None,
                 result_variable: str | None = None) -> None:
        self.inputs = list(inputs or [])
        self.outputs = list(outputs or [])
        self.propagate_all = propagate_all
        self.pre_script = pre_script
        self.post_script = post_script
        self.maps = maps  # the task has a scope of its own (Zeebe mappings, Spiff operator parameters)
        self.parameters = list(parameters or [])  # Spiff serviceTaskOperator: (id, Python expression)
        self.result_variable = result_variable  # Spiff serviceTaskOperator: where the call's answer goes
        self.isolated = False  # a Zeebe call with propagateAllChildVariables="false": only outputs come back
        self.decision_result = False  # Zeebe calledDecision: the result is the decision's output columns
        self.decision_outputs: list[str] = []
        self.collect = False  # the decision's hit policy is COLLECT: each output is a list of matches
        self.keeps_locals = False  # an instance of a Zeebe loop with outputElement: its locals are read there

    def get(self, my_task: Any) -> None:
        """At ready: the pre-script, then the inputs and parameters into the task's scope."""
        if my_task.internal_data.get(_STARTED):
            return  # SpiffWorkflow may update a task more than once: its scope opens once
        my_task.internal_data[_STARTED] = True
        if self.pre_script:
            _run_script(my_task, self.pre_script, "spiffworkflow:preScript")
        if not self.maps:
            return
        my_task.internal_data[_SAVED] = json.loads(json.dumps(my_task.data, default=str))
        for source, target in self.inputs:
            _set_path(my_task.data, target, _value(my_task, source, f"input {target!r}"))
        for name, expression in self.parameters:
            my_task.data[name] = _parameter(my_task, name, expression)
        made = {target.split(".")[0] for _, target in self.inputs} | {name for name, _ in self.parameters}
        my_task.internal_data[_MADE] = json.loads(json.dumps({n: my_task.data.get(n) for n in made}, default=str))

    def set(self, my_task: Any) -> None:
        """At completion: back to the process what the scope says, then the post-script."""
        my_task.internal_data.pop(_STARTED, None)
        if self.maps:
            self._close_scope(my_task)
        if self.post_script:
            _run_script(my_task, self.post_script, "spiffworkflow:postScript")

    def _close_scope(self, my_task: Any) -> None:
        before = my_task.internal_data.pop(_SAVED, None)
        made = my_task.internal_data.pop(_MADE, {})
        if before is None:  # restored from a state saved before the inputs ran: nothing to scope
            before = dict(my_task.data)
        local = my_task.data
        values = [(target, _value(my_task, source, f"output {target!r}")) for source, target in self.outputs]
        # what the work set: an input local or parameter stays local unless the work changed it
        worked = {name: value for name, value in local.items()
                  if not (name in made and value == made[name]) and not (name in before and before[name] == value)}
        result = dict(before)
        if self.decision_result and self.result_variable:
            # the table that ran (bound when reached, decision_binding.py), else the one parsed at deploy
            outputs, collect = my_task.internal_data.get(decision_record.OUTPUTS) or (self.decision_outputs,
                                                                                       self.collect)
            result[self.result_variable] = _decision_result(local, outputs, collect)
        elif self.result_variable:
            result[self.result_variable] = worked
        elif (not self.outputs and not self.isolated) or self.propagate_all:
            result.update(worked)
        for target, value in values:
            _set_path(result, target, value)
        if self.keeps_locals:  # what stayed in the scope, for the loop's outputElement (zeebe_loops.py)
            my_task.internal_data[zeebe_loops.LOCALS] = json.loads(json.dumps(
                {n: v for n, v in local.items() if n in made or n not in result}, default=str))
        my_task.data = result


def _decision_result(local: dict[str, Any], outputs: list[str], collect: bool) -> Any:
    """Zeebe's decision result: one output column is its value, several a context; with COLLECT, a
    list of those, one per matched rule (Baton's DMN sets each output column to the list of matches)."""
    if collect:
        columns = [local.get(name) or [] for name in outputs]
        rows = list(zip(*columns, strict=False)) if columns else []
        return [row[0] if len(outputs) == 1 else dict(zip(outputs, row, strict=False)) for row in rows]
    if len(outputs) == 1:
        return local.get(outputs[0])
    return {name: local.get(name) for name in outputs}


def _parameter(my_task: Any, name: str, expression: str) -> Any:
    try:
        return my_task.workflow.script_engine.evaluate(my_task, expression)
    except WorkflowTaskException as exc:
        exc.add_note(f"in serviceTaskOperator parameter {name!r}")
        raise


def _value(my_task: Any, source: str, what: str) -> Any:
    text = feel.feel_text(source)
    if text is None:
        return source  # a static value, as Zeebe takes a source without '='
    try:
        return feel.to_json(feel.parse(text).evaluate(my_task.data))
    except feel.FeelError as exc:
        raise WorkflowTaskException(f"zeebe:ioMapping {what}: FEEL {source!r}: {exc}", task=my_task,
                                    exception=exc) from exc


def _set_path(data: dict[str, Any], target: str, value: Any) -> None:
    """``a.b.c`` = value: nested contexts are made or updated, as Zeebe's dotted targets do."""
    parts = target.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
        node[part] = child = dict(child)
        node = child
    node[parts[-1]] = value


def _run_script(my_task: Any, script: str, what: str) -> None:
    try:
        my_task.workflow.script_engine.execute(my_task, script)
    except WorkflowTaskException as exc:
        if what.endswith("postScript") and isinstance(my_task.task_spec, UserTask | ManualTask):
            # a person's submission ran it: refuse the submission (nothing changes) and say why
            raise InvalidVariables(f"the {what} of {my_task.task_spec.bpmn_id} failed on these values: "
                                   f"{exc}") from exc
        exc.add_note(f"in the {what} of {my_task.task_spec.bpmn_id}")
        raise


class TaskScopeConverter(BpmnConverter):
    def to_dict(self, spec: TaskScope) -> dict[str, Any]:
        return {"inputs": spec.inputs, "outputs": spec.outputs, "propagate_all": spec.propagate_all,
                "pre_script": spec.pre_script, "post_script": spec.post_script, "maps": spec.maps,
                "parameters": spec.parameters, "result_variable": spec.result_variable,
                "decision": [spec.decision_outputs, spec.collect] if spec.decision_result else None,
                "isolated": spec.isolated, "keeps_locals": spec.keeps_locals}

    def from_dict(self, dct: dict[str, Any]) -> TaskScope:
        scope = self._scope(dct)
        scope.isolated = bool(dct.get("isolated", False))
        scope.keeps_locals = bool(dct.get("keeps_locals", False))
        if dct.get("decision") is not None:
            scope.decision_result = True
            scope.decision_outputs, scope.collect = list(dct["decision"][0]), bool(dct["decision"][1])
        return scope

    def _scope(self, dct: dict[str, Any]) -> TaskScope:
        return TaskScope([tuple(i) for i in dct.get("inputs", [])], [tuple(o) for o in dct.get("outputs", [])],
                         dct.get("propagate_all", False), dct.get("pre_script"), dct.get("post_script"),
                         dct.get("maps", False), [tuple(p) for p in dct.get("parameters", [])],
                         dct.get("result_variable"))


# -- deploy: read the XML, check it, attach to the parsed specs ---------------------------------------


def scope_of(el: etree._Element) -> TaskScope | None:
    """The mappings and scripts an element's XML declares, or None."""
    extensions = el.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        return None
    mapping = extensions.find(f"{{{ZEEBE}}}ioMapping")
    pre = extensions.findtext(f"{{{SPIFF}}}preScript")
    post = extensions.findtext(f"{{{SPIFF}}}postScript")
    operator = extensions.find(f"{{{SPIFF}}}serviceTaskOperator")
    decision = extensions.find(f"{{{ZEEBE}}}calledDecision")
    if decision is not None and (decision.get("resultVariable") or "").strip():
        # Zeebe: the decision's result goes into resultVariable alone (one output: its value;
        # several: a context); attach() learns the output columns from the parsed decision
        scope = TaskScope(maps=True, result_variable=decision.get("resultVariable", "").strip())
        scope.decision_result = True
        return scope
    called = extensions.find(f"{{{ZEEBE}}}calledElement")
    isolated = called is not None and called.get("propagateAllChildVariables") == "false"
    if mapping is None and operator is None and not isolated and not (pre or "").strip() and not (post or "").strip():
        return None
    scope = TaskScope(pre_script=(pre or "").strip() or None, post_script=(post or "").strip() or None)
    if operator is not None:
        scope.maps = True
        scope.parameters = [(p.get("id") or "", p.get("value") or "")
                            for p in operator.iterfind(f"{{{SPIFF}}}parameters/{{{SPIFF}}}parameter")
                            if p.get("value") is not None]  # a parameter without a value is not sent (Spiff)
        scope.result_variable = (operator.get("resultVariable") or "").strip() or None
    if mapping is not None or isolated:
        scope.maps = True
        if mapping is not None:
            scope.inputs = [(i.get("source") or "", (i.get("target") or "").strip())
                            for i in mapping.iterfind(f"{{{ZEEBE}}}input")]
            scope.outputs = [(o.get("source") or "", (o.get("target") or "").strip())
                             for o in mapping.iterfind(f"{{{ZEEBE}}}output")]
        # a call brings back all the child's variables, unless propagateAllChildVariables="false"
        scope.propagate_all = etree.QName(el).localname == "callActivity" and not isolated
        scope.isolated = isolated
    return scope


def check(el: etree._Element, refuse: Any) -> None:
    """Refuse a mapping Baton cannot run: a FEEL source outside the subset, a bad target, a
    script that does not compile."""
    scope = scope_of(el)
    if scope is None:
        return
    for kind, pairs in (("input", scope.inputs), ("output", scope.outputs)):
        for source, target in pairs:
            if not target or not all(part.isidentifier() for part in target.split(".")):
                refuse(el, f"zeebe:{kind} target {target!r} is not a variable name or a dotted path (a.b)")
            text = feel.feel_text(source)
            if text is not None:
                try:
                    feel.check(text)
                except feel.FeelError as exc:
                    refuse(el, f"zeebe:{kind} {target!r}: FEEL expression {source[:80]!r} cannot run: {exc}")
    for name, expression in scope.parameters:
        if not name.isidentifier():
            refuse(el, f"spiffworkflow:parameter id {name!r} is not a variable name")
        try:
            compile(expression, f"<parameter {name}>", "eval")
        except SyntaxError as exc:
            refuse(el, f"spiffworkflow:parameter {name!r}: {expression[:80]!r} is not a Python expression: {exc.msg}")
    if scope.result_variable and not scope.result_variable.isidentifier():
        refuse(el, f"serviceTaskOperator resultVariable {scope.result_variable!r} is not a variable name")
    for what, script in (("preScript", scope.pre_script), ("postScript", scope.post_script)):
        if script:
            try:
                tree = ast.parse(script, f"<{what} {el.get('id')}>")
            except SyntaxError as exc:
                refuse(el, f"spiffworkflow:{what} does not compile: {exc.msg} (script line {exc.lineno})")
                continue
            unknown = _unknown_calls(tree)
            if unknown:
                refuse(el, f"spiffworkflow:{what} calls {', '.join(n + '()' for n in unknown)}, which is neither a "
                           "Python built-in Baton's script sandbox offers nor defined in the script (SpiffArena's "
                           "own script functions do not exist in Baton)")


def _unknown_calls(tree: ast.AST) -> list[str]:
    """Names a script calls that nothing can provide: variables hold data (JSON), never functions."""
    defined = set(_SANDBOX_NAMES)
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            defined.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
    return sorted(called - defined)


def attach(root: etree._Element, specs: list[Any]) -> None:
    """Give each parsed task spec the scope its XML element declares.

    A loop's mappings apply to each instance (Zeebe); its Spiff scripts run once around the whole
    loop unless ``spiffworkflow:scriptsOnInstances="true"`` (SpiffArena)."""
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            el = by_id.get(getattr(task_spec, "bpmn_id", None))
            if el is None or not hasattr(task_spec, "data_input_associations"):
                continue
            multi = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
            if multi is not None and isinstance(task_spec, LoopTask):
                _loop_collection(el, multi, task_spec)
            scope = scope_of(el)
            if scope is None:
                continue
            looped = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
            if looped is None:
                looped = el.find(f"{{{BPMN}}}standardLoopCharacteristics")
            if scope.decision_result:
                table = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
                scope.decision_outputs = [o.name for o in getattr(table, "outputs", [])]
                scope.collect = getattr(table, "hit_policy", "") == "COLLECT"
            if looped is None:
                _add(task_spec, scope)
                continue
            on_instances = looped.get(f"{{{SPIFF}}}scriptsOnInstances") == "true"
            mappings = TaskScope(scope.inputs, scope.outputs, scope.propagate_all, maps=scope.maps,
                                 parameters=scope.parameters, result_variable=scope.result_variable)
            mappings.isolated = scope.isolated
            scripts = TaskScope(pre_script=scope.pre_script, post_script=scope.post_script)
            if isinstance(task_spec, LoopTask):  # the loop around the instances
                if not on_instances:
                    _add(task_spec, scripts)
            else:  # one instance
                if on_instances:
                    mappings.pre_script, mappings.post_script = scope.pre_script, scope.post_script
                _add(task_spec, mappings)
    zeebe_loops.attach(root, specs, _keep_locals)


def _keep_locals(task_spec: Any) -> None:
    for association in task_spec.data_input_associations:
        if isinstance(association, TaskScope):
            association.keeps_locals = True


def _loop_collection(el: etree._Element, looped: etree._Element, task_spec: Any) -> None:
    """A Zeebe loop over FEEL other than a variable (``=order.items``, ``=["a", "b"]``): the loop
    evaluates it into a variable of its own when it starts; the variable goes when it ends."""
    zeebe = looped.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE}}}loopCharacteristics")
    source = (zeebe.get("inputCollection") or "").strip() if zeebe is not None else ""
    if not source.startswith("=") or source[1:].strip().isidentifier():
        return
    _add(task_spec, TaskScope([(source, dialect_translation.loop_collection_variable(el.get("id", "")))], maps=True))


def _add(task_spec: Any, scope: TaskScope) -> None:
    if any(isinstance(a, TaskScope) for a in task_spec.data_input_associations):
        return  # the parser handed out this spec before
    if scope.maps or scope.pre_script or scope.post_script:
        task_spec.data_input_associations.append(scope)
        task_spec.data_output_associations.append(scope)
