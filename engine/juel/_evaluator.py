"""How Baton evaluates a JUEL tree that :func:`._subset.check_subset` let by (``Evaluator``).

Values are plain data, as process variables are in Baton: ``None`` (EL ``null``), ``bool``
(Boolean), ``int`` (Long; beyond 64 bits BigInteger), ``float`` (Double), ``str`` (String),
``list`` (List) and ``dict`` (Map). The operators and their coercions are :mod:`._coercion`'s
(its docstring lists the rules); which trees are evaluated at all is :mod:`._subset`'s. Here:

- ``a.b`` and ``a['b']``: on a map the value of that key or ``null`` when it has none, on a
  list the element at that index or ``null`` outside it, on ``null`` ``null``; a property of
  a string, number or boolean is an error (Camunda would reach into the Java object).
- A name is the variable of that name (``execution`` first, as in Camunda), an error naming
  it when there is none. A write by ``execution.setVariable`` is seen by the reads after it.
- Text around evaluations is joined as a String: ``null`` is ``""``, booleans ``true`` /
  ``false``, Doubles as Java prints them (``2.0``, ``1.0E10``), lists and maps as JSON.

``execution`` offers ``getVariable(name)`` (``null`` when there is none), ``setVariable(name,
value)`` (``null``; the write is recorded in :attr:`Execution.writes`), ``hasVariable(name)``,
``processBusinessKey`` / ``getProcessBusinessKey()`` (and ``businessKey``), ``id`` /
``getId()`` and ``processInstanceId`` / ``getProcessInstanceId()``. Nothing else is called:
there is no other object to call a method on, and no Python ``eval``/``exec`` anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._ast import (
    Binary,
    Bracket,
    Call,
    Choice,
    Composite,
    Dot,
    Eval,
    Identifier,
    Literal,
    Nested,
    Node,
    Text,
    Unary,
)
from ._coercion import BINARY_OPERATORS, LONG_TEXT, CoercionError, describe, is_empty, negate, to_boolean, to_string
from ._errors import JuelEvaluationError, UnknownVariable
from ._subset import EXECUTION_GETTERS, EXECUTION_PROPERTIES, is_execution, quoted_source

UNAVAILABLE: Any = type("Unavailable", (), {"__repr__": lambda self: "UNAVAILABLE"})()


@dataclass
class Execution:
    """What ``execution`` stands for in an expression, and the variables it wrote.

    A member set to :data:`UNAVAILABLE` (the caller does not know it) is an error when read,
    with ``unavailable`` as the reason, rather than a silent ``null``."""

    business_key: str | None = None
    id: str | None = None
    process_instance_id: str | None = None
    writes: dict[str, Any] = field(default_factory=dict)
    unavailable: str = "not known here"


# --- evaluation ----------------------------------------------------------------------------

class Evaluator:
    """Evaluates one checked tree over ``variables``; ``execution`` collects the writes."""

    def __init__(self, text: str, variables: Mapping[str, Any], execution: Execution):
        self.text = text
        self.variables = variables
        self.execution = execution

    def fail(self, node: Node, message: str) -> JuelEvaluationError:
        return JuelEvaluationError(message, node.start, self.text)

    def template(self, tree: Node) -> Any:
        if isinstance(tree, Composite):
            return "".join(to_string(self.template(part)) for part in tree.parts)
        if isinstance(tree, Text):
            return tree.value
        assert isinstance(tree, Eval)
        return self.value(tree.expression)

    def value(self, node: Node) -> Any:
        try:
            return self._value(node)
        except CoercionError as exc:
            raise self.fail(node, f"{exc} in {quoted_source(node, self.text)}") from None

    def boolean(self, node: Node) -> bool:
        found = self.value(node)
        try:
            return to_boolean(found)
        except CoercionError as exc:
            raise self.fail(node, f"{exc}: {quoted_source(node, self.text)} must be a Boolean") from None

    def _value(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Identifier):
            return self.variable(node)
        if isinstance(node, Nested):
            return self.value(node.expression)
        if isinstance(node, Binary):
            if node.operator == "&&":
                return self.boolean(node.left) and self.boolean(node.right)
            if node.operator == "||":
                return self.boolean(node.left) or self.boolean(node.right)
            return BINARY_OPERATORS[node.operator](self.value(node.left), self.value(node.right))
        if isinstance(node, Unary):
            if node.operator == "!":
                return not self.boolean(node.operand)
            if node.operator == "empty":
                return is_empty(self.value(node.operand))
            return negate(self.value(node.operand))
        if isinstance(node, Choice):
            return self.value(node.yes) if self.boolean(node.condition) else self.value(node.no)
        if isinstance(node, Dot):
            if is_execution(node.base):
                return self.execution_member(node, EXECUTION_PROPERTIES[node.name])
            return self.member(node, self.value(node.base), node.name)
        if isinstance(node, Bracket):
            base = self.value(node.base)
            if base is None:
                return None
            return self.member(node, base, self.value(node.index))
        if isinstance(node, Call):
            return self.call(node)
        raise self.fail(node, f"{type(node).__name__} is not evaluated")  # check_subset let nothing else by

    def variable(self, node: Identifier) -> Any:
        writes = self.execution.writes
        if node.name in writes:
            return writes[node.name]
        if node.name in self.variables:
            return self.variables[node.name]
        raise UnknownVariable(node.name, node.start, self.text)

    def member(self, node: Node, base: Any, key: Any) -> Any:
        if base is None or key is None:
            return None
        if isinstance(base, dict):
            try:
                return base.get(key)
            except TypeError:  # an unhashable key (a list or map)
                return None
        if isinstance(base, list):
            if isinstance(key, bool) or not isinstance(key, int | float | str):
                raise self.fail(node, f"Cannot use {describe(key)} as a list index in {quoted_source(node, self.text)}")
            if isinstance(key, str):
                if not LONG_TEXT.fullmatch(key.strip()):
                    raise self.fail(node, f"Cannot use {describe(key)} as a list index in "
                                          f"{quoted_source(node, self.text)}")
                key = int(key)
            index = int(key)
            return base[index] if 0 <= index < len(base) else None
        raise self.fail(node, f"Cannot read property {to_string(key)!r} of {describe(base)} in "
                              f"{quoted_source(node, self.text)}: only maps and lists have properties")

    def execution_member(self, node: Node, name: str) -> Any:
        found = getattr(self.execution, name)
        if found is UNAVAILABLE:
            raise self.fail(node, f"{quoted_source(node, self.text)} is {self.execution.unavailable}")
        return found

    def call(self, node: Call) -> Any:
        target = node.target
        assert isinstance(target, Dot)  # check_subset let only execution.<method>(...) by
        method = target.name
        if method in EXECUTION_GETTERS:
            return self.execution_member(node, EXECUTION_GETTERS[method])
        name = to_string(self.value(node.arguments[0]))
        writes = self.execution.writes
        if method == "getVariable":
            return writes[name] if name in writes else self.variables.get(name)
        if method == "hasVariable":
            return name in writes or name in self.variables
        writes[name] = copy.deepcopy(self.value(node.arguments[1]))  # setVariable
        return None
