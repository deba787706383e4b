"""SpiffArena's event payloads: what a message, error, escalation or signal carries, and where it lands.

SpiffArena's editor writes them as extensions (SpiffWorkflow's Spiff dialect reads them so):

- ``spiffworkflow:messagePayload`` (a Python expression) on a send task, or on the message event
  definition of a throw event: evaluated in the script sandbox when the message is thrown, its
  value is the message's body (a JSON object: Baton's messages carry variables, so any other
  value is an incident on the thrower). ``spiffworkflow:messageVariable`` on a receive task or a
  catching message event: the body is stored under that one variable instead of being merged
  into the data. Both may sit on the ``bpmn:message`` instead (SpiffArena's older place), which
  then wins, as in SpiffWorkflow.
- ``spiffworkflow:payloadExpression`` / ``spiffworkflow:variableName`` on a ``bpmn:error``,
  ``bpmn:escalation`` or ``bpmn:signal``: the throw evaluates the expression (no expression: no
  payload), the catch stores the payload under the variable.
- Correlation (``bpmn:correlationKey``, correlation properties, ``processVariableCorrelation``):
  ``spiff_correlation.py``.

Baton reads diagrams with SpiffWorkflow's Camunda parser (one set of spec classes to store), so
after parsing, the event definitions of a document that uses these extensions are replaced by the
classes below (``attach``); a definition without extensions behaves exactly as the plain one.
SpiffWorkflow matches a thrown event to a catch by the definition's exact class; these classes
match their plain kin by kind instead, so a catch-all boundary event or Baton's own error throw
(``errorflow.py``) still meets them.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.serializer.event_definition import (
    ErrorEscalationEventDefinitionConverter,
    ItemAwareEventDefinitionConverter,
    MessageEventDefinitionConverter,
)

from .spiff_correlation import MAIN_KEY, MATCHING, check_matching, matching

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_MESSAGE_TAGS = ("messagePayload", "messageVariable")
_ITEM_TAGS = ("payloadExpression", "variableName")
SIGNAL_BODY = "baton:signal-body"  # a thrower's internal data: its signal's evaluated payload
_REFS = {"errorEventDefinition": "errorRef", "escalationEventDefinition": "escalationRef",
         "signalEventDefinition": "signalRef", "messageEventDefinition": "messageRef"}


class SpiffMessageDefinition(MessageEventDefinition):
    """A message whose body is ``expression``'s value and whose catch stores it in ``message_var``."""

    def __init__(self, name: str, correlation_properties: Any = None, expression: str | None = None,
                 message_var: str | None = None, process_correlations: Any = None, **kwargs: Any) -> None:
        super().__init__(name, correlation_properties, **kwargs)
        self.expression = expression
        self.message_var = message_var
        self.process_correlations = process_correlations or []  # stored by SpiffWorkflow's converter

    def throw(self, my_task: Any) -> None:
        if self.expression is None:
            if self.message_var is None:
                return super().throw(my_task)  # no extension: the thrower's data, as a plain message
            payload: Any = {}  # SpiffArena: a message without a payload expression carries nothing
        else:
            payload = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if not isinstance(payload, dict):
                raise WorkflowTaskException(
                    f"spiffworkflow:messagePayload {self.expression!r} of message {self.name!r} is a "
                    f"{type(payload).__name__}; Baton's messages carry variables, so it must be a dict "
                    "(e.g. {'order': order})", task=my_task)
        correlations = self.get_correlations(my_task, payload)
        my_task.workflow.correlations.update(correlations)
        my_task.workflow.top_workflow.catch(BpmnEvent(self, payload=payload, correlations=correlations))

    def update_task_data(self, my_task: Any) -> None:
        if self.message_var is None:
            return super().update_task_data(my_task)
        my_task.data[self.message_var] = my_task.internal_data.pop(self.name, None)

    def update_task(self, my_task: Any) -> None:
        """The catch starts waiting: its matching conditions become the conversation's values."""
        correlations: dict[str, dict[str, Any]] = {}
        for prop in self.process_correlations:  # evaluated as the task's scripts are (SpiffArena's names)
            value = my_task.workflow.script_engine.evaluate(my_task, prop.retrieval_expression)
            for key in prop.correlation_keys or [MAIN_KEY]:
                correlations.setdefault(key, {})[prop.name] = value
        my_task.workflow.correlations.update(correlations)

    def calculate_correlations(self, script_engine: Any, properties: Any, context: Any) -> dict[str, Any]:
        # SpiffWorkflow's, with a property in no key in MainCorrelationKey (as its Spiff parser reads it)
        correlations: dict[str, dict[str, Any]] = {}
        for prop in properties:
            value = script_engine.environment.evaluate(prop.retrieval_expression, context)
            for key in prop.correlation_keys or [MAIN_KEY]:
                correlations.setdefault(key, {})[prop.name] = value
        return correlations

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MessageEventDefinition) and self.name == other.name


class _Payload:
    """``payloadExpression`` / ``variableName`` of an error, escalation or signal."""

    expression: str | None
    variable: str | None
    name: str

    def _payload(self, my_task: Any) -> Any:
        if self.expression is None and self.variable is None:
            return deepcopy(my_task.data)  # no extension: as the plain event
        if self.expression is None:
            return None
        return my_task.workflow.script_engine.evaluate(my_task, self.expression)

    def update_task_data(self, my_task: Any) -> None:
        if self.variable is None:
            payload = my_task.internal_data.get(self.name)
            if isinstance(payload, dict):
                my_task.set_data(**payload)
            return
        my_task.data[self.variable] = my_task.internal_data.pop(self.name, None)


class _CodedPayload(_Payload):
    """An error or escalation with a payload: thrown at the thrower's (sub-)process, as
    SpiffWorkflow's plain one (``workflow.ScopedEventManager``), and caught by a catch of its kind
    whose code is unset or the same (``kin``: the plain class it stands for)."""

    kin: type
    code: str | None

    def __init__(self, name: str, code: str | None = None, expression: str | None = None,
                 variable: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, code=code, **kwargs)  # type: ignore[call-arg]
        self.expression, self.variable = expression, variable

    def throw(self, my_task: Any) -> None:
        my_task.workflow.top_workflow.catch(BpmnEvent(self, payload=self._payload(my_task), target=my_task.workflow))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, self.kin) and self.code in (None, other.code)


class SpiffErrorDefinition(_CodedPayload, ErrorEventDefinition):
    kin = ErrorEventDefinition


class SpiffEscalationDefinition(_CodedPayload, EscalationEventDefinition):
    kin = EscalationEventDefinition


class SpiffSignalDefinition(_Payload, SignalEventDefinition):
    def __init__(self, name: str, expression: str | None = None, variable: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.expression, self.variable = expression, variable

    def throw(self, my_task: Any) -> None:
        payload = self._payload(my_task)
        if self.expression is not None:
            if not isinstance(payload, dict):
                raise WorkflowTaskException(
                    f"spiffworkflow:payloadExpression {self.expression!r} of signal {self.name!r} is a "
                    f"{type(payload).__name__}; a signal reaches other instances with variables, so it must be "
                    "a dict", task=my_task)
            my_task.internal_data[SIGNAL_BODY] = payload  # what the broadcast to other instances carries
        my_task.workflow.top_workflow.catch(BpmnEvent(self, payload=payload))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, SignalEventDefinition) and self.name == other.name


def register(registry: Any) -> None:
    """Teach the serializer these definitions (SpiffWorkflow's own converters for its Spiff dialect)."""
    MessageEventDefinitionConverter(SpiffMessageDefinition, registry)
    ErrorEscalationEventDefinitionConverter(SpiffErrorDefinition, registry)
    ErrorEscalationEventDefinitionConverter(SpiffEscalationDefinition, registry)
    ItemAwareEventDefinitionConverter(SpiffSignalDefinition, registry)


def signal_body(task: Any, definition: Any) -> dict[str, Any] | None:
    """The variables a thrown signal carries to other instances when its payload is SpiffArena's
    ``payloadExpression`` (None: the thrower's data, as for any signal)."""
    if getattr(definition, "expression", None) is None:
        return None
    return task.internal_data.get(SIGNAL_BODY)


def payload_variable(definition: Any) -> str | None:
    """The variable a caught error, escalation or signal stores its payload in, or None (merged)."""
    return getattr(definition, "variable", None)


def message_variable(definition: Any) -> str | None:
    """The variable a catch stores a message's body in, or None when the body joins the data."""
    return getattr(definition, "message_var", None)


# -- deploy: read the XML, check it, replace the parsed definitions ------------------------------


def _extensions(node: etree._Element, tags: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tags:
        el = node.find(f".//{{{SPIFF}}}{tag}")
        if el is not None and (el.text or "").strip():
            found[tag] = (el.text or "").strip()
    return found


def uses_payloads(root: etree._Element) -> bool:
    tags = (*_MESSAGE_TAGS, *_ITEM_TAGS, MATCHING)
    return next(root.iter(*(f"{{{SPIFF}}}{t}" for t in tags)), None) is not None


def check(root: etree._Element, refuse: Any) -> None:
    """Refuse an expression that does not compile and a variable that is not a name, on the element
    that carries it, and a matching condition that cannot match."""
    check_matching(root, refuse)
    for el in root.iter(*(f"{{{SPIFF}}}{t}" for t in _MESSAGE_TAGS + _ITEM_TAGS)):
        local = etree.QName(el).localname
        text = (el.text or "").strip()
        owner = el.getparent().getparent() if el.getparent() is not None else el
        if owner is None:
            owner = el
        if local in ("messageVariable", "variableName"):
            if not text.isidentifier():
                refuse(owner, f"spiffworkflow:{local} {text!r} is not a variable name")
            continue
        try:
            compile(text, f"<{local}>", "eval")
        except SyntaxError as exc:
            refuse(owner, f"spiffworkflow:{local} {text[:80]!r} is not a Python expression: {exc.msg}")


def attach(root: etree._Element, specs: list[Any]) -> None:
    """Replace the event definitions of a document that uses SpiffArena's payload extensions.

    In a SpiffArena document, a correlation property that no ``bpmn:correlationKey`` names is in
    ``MainCorrelationKey`` (SpiffWorkflow's Spiff parser does the same)."""
    if SPIFF in (root.nsmap or {}).values():
        for spec in specs:
            for task_spec in spec.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                found = definition.event_definitions if isinstance(definition, MultipleEventDefinition) \
                    else [definition]
                for d in found:
                    for prop in getattr(d, "correlation_properties", None) or []:
                        if not prop.correlation_keys:
                            prop.correlation_keys.append(MAIN_KEY)
    if not uses_payloads(root):
        return
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            el = by_id.get(getattr(task_spec, "bpmn_id", None))
            if definition is None or el is None:
                continue
            if isinstance(definition, MultipleEventDefinition):
                definition.event_definitions = [_spiff(d, el, by_id) for d in definition.event_definitions]
            else:
                task_spec.event_definition = _spiff(definition, el, by_id)


def _definition_nodes(el: etree._Element, local: str) -> list[etree._Element]:
    if etree.QName(el).localname in ("sendTask", "receiveTask"):
        return [el] if local == "messageEventDefinition" else []
    return el.findall(f"{{{BPMN}}}{local}")


def _referenced(el: etree._Element, local: str, by_id: dict[str, etree._Element], definition: Any
                ) -> tuple[etree._Element | None, etree._Element | None]:
    """The XML event definition (or send/receive task) behind ``definition`` and what it references."""
    ref_attr = _REFS[local]
    nodes = _definition_nodes(el, local)
    for node in nodes:
        ref = by_id.get(node.get(ref_attr) or "")
        if ref is None:
            continue
        code = ref.get("errorCode") or ref.get("escalationCode")
        if ref.get("name") == definition.name or (code is not None and code == getattr(definition, "code", None)):
            return node, ref
    return (nodes[0], None) if len(nodes) == 1 else (None, None)


def _spiff(definition: Any, el: etree._Element, by_id: dict[str, etree._Element]) -> Any:
    kwargs = {"description": definition.description}
    if isinstance(definition, MessageEventDefinition):
        node, message = _referenced(el, "messageEventDefinition", by_id, definition)
        found = _extensions(message, _MESSAGE_TAGS) if message is not None else {}
        if not found and node is not None:
            found = _extensions(node, _MESSAGE_TAGS)
        return SpiffMessageDefinition(definition.name, definition.correlation_properties,
                                      found.get("messagePayload"), found.get("messageVariable"),
                                      matching(node, root_of(el)) if node is not None else [], **kwargs)
    for kind, local, make in ((ErrorEventDefinition, "errorEventDefinition", SpiffErrorDefinition),
                              (EscalationEventDefinition, "escalationEventDefinition", SpiffEscalationDefinition)):
        if isinstance(definition, kind):
            _, ref = _referenced(el, local, by_id, definition)
            found = _extensions(ref, _ITEM_TAGS) if ref is not None else {}
            return make(definition.name, code=definition.code, expression=found.get("payloadExpression"),
                        variable=found.get("variableName"), **kwargs)
    if isinstance(definition, SignalEventDefinition):
        _, ref = _referenced(el, "signalEventDefinition", by_id, definition)
        found = _extensions(ref, _ITEM_TAGS) if ref is not None else {}
        return SpiffSignalDefinition(definition.name, expression=found.get("payloadExpression"),
                                     variable=found.get("variableName"), **kwargs)
    return definition


def root_of(el: etree._Element) -> etree._Element:
    return el.getroottree().getroot()
