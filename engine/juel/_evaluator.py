"""Baton's JUEL subset: which trees it evaluates (``check_subset``) and how (``Evaluator``).

Values are plain data, as process variables are in Baton: ``None`` (EL ``null``), ``bool``
(Boolean), ``int`` (Long; beyond 64 bits BigInteger), ``float`` (Double), ``str`` (String),
``list`` (List) and ``dict`` (Map). The operators follow the EL specification's coercions as
Camunda 7's JUEL applies them (EL 2.2 section 1.7-1.9, 1.18):

- ``+ - *``: both ``null`` is ``0``; a Double, or a String with ``.``, ``e`` or ``E``, makes
  both Doubles; otherwise both are coerced to Long (``null`` and ``""`` to 0, a String by
  ``Long.valueOf``, a Boolean is an error) and the result wraps at 64 bits like Java's.
  ``+`` never concatenates (``'a' + 'b'`` is an error, as in Camunda 7).
- ``/`` and ``div`` divide as Doubles (``3 / 4`` is ``0.75``, ``1 / 0`` is Infinity);
  ``%`` and ``mod`` as Doubles when either side is one, else as Longs, with Java's sign
  (``-7 % 3`` is ``-1``) and ``x % 0`` an error.
- ``== !=``: ``null`` equals only ``null``; then a Double on either side compares as Doubles,
  a Long as Longs (``'1' == 1``), a Boolean as Booleans (``'true' == true``), a String as
  Strings; otherwise by value (lists, maps).
- ``< > <= >=``: ``null`` on either side is false (``<=``/``>=`` of two nulls is true); then
  Doubles, Longs, Strings (lexicographic), Booleans; lists and maps cannot be compared.
- ``&& || ! ?:`` coerce to Boolean: ``null`` and ``""`` are false, a String is true when it
  is ``"true"`` in any case, a number is an error. ``&&``/``||`` evaluate their right side
  only when needed. ``empty`` is true for ``null``, ``""``, ``[]`` and ``{}``.
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
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._ast import (
    Binary,
    Bracket,
    Call,
    Choice,
    Composite,
    Dot,
    Eval,
    Function,
    Identifier,
    Literal,
    Nested,
    Node,
    Text,
    Unary,
    children,
    depth,
)
from ._errors import JuelEvaluationError, JuelUnsupported, UnknownVariable
from ._grammar import MAX_DEPTH

EXECUTION = "execution"
# member -> (arity, what it is), for execution.member and execution.member(...)
_PROPERTIES = {
    "processBusinessKey": "business_key", "businessKey": "business_key", "id": "id",
    "processInstanceId": "process_instance_id",
}
_METHODS = {
    "getVariable": 1, "setVariable": 2, "hasVariable": 1, "getProcessBusinessKey": 0, "getBusinessKey": 0,
    "getId": 0, "getProcessInstanceId": 0,
}
_GETTERS = {"getProcessBusinessKey": "business_key", "getBusinessKey": "business_key", "getId": "id",
            "getProcessInstanceId": "process_instance_id"}
_OFFERED = ("execution.getVariable('x'), execution.setVariable('x', value), execution.hasVariable('x'), "
            "execution.processBusinessKey, execution.id, execution.processInstanceId")

_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
_LONG_TEXT = re.compile(r"[+-]?\d+")
_DOUBLE_TEXT = re.compile(r"[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?")


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


# --- which trees Baton evaluates -----------------------------------------------------------

def check_subset(tree: Node, text: str) -> None:
    """Raise :class:`JuelUnsupported` at the first part of ``tree`` outside Baton's subset."""
    if depth(tree) > MAX_DEPTH:
        raise JuelUnsupported(f"the expression is nested too deeply (a tree deeper than {MAX_DEPTH})", 0, text)
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Function):
            raise JuelUnsupported(f"function call {_source(node, text)} is not supported: Baton calls no "
                                  "functions, beans or methods", node.start, text)
        if isinstance(node, Call):
            _check_call(node, text)  # only execution.<method>(...) passes: check its arguments
            stack.extend(reversed(node.arguments))
            continue
        if isinstance(node, Dot) and _is_execution(node.base):
            if node.name not in _PROPERTIES:
                raise JuelUnsupported(f"{_source(node, text)} is not supported: of execution, Baton offers "
                                      f"{_OFFERED}", node.start, text)
            continue
        elif isinstance(node, Bracket) and _is_execution(node.base):
            raise JuelUnsupported(f"{_source(node, text)} is not supported: of execution, Baton offers "
                                  f"{_OFFERED}", node.start, text)
        elif _is_execution(node):
            raise JuelUnsupported("'execution' on its own is not supported: Baton offers "
                                  f"{_OFFERED}", node.start, text)
        stack.extend(reversed(children(node)))


def _check_call(node: Call, text: str) -> None:
    target = node.target
    if isinstance(target, Dot) and _is_execution(target.base) and target.name in _METHODS:
        wanted = _METHODS[target.name]
        if len(node.arguments) != wanted:
            raise JuelUnsupported(f"execution.{target.name} takes {wanted} argument{'s' if wanted != 1 else ''}, "
                                  f"not {len(node.arguments)}", node.start, text)
        return
    if isinstance(target, Dot) and _is_execution(target.base):
        raise JuelUnsupported(f"method call {_source(node, text)} is not supported: of execution, Baton offers "
                              f"{_OFFERED}", node.start, text)
    inner: Node = target  # name the first call of a chain: customer.prop('age'), not all of it
    while isinstance(inner, Dot | Bracket | Call):
        inner = inner.target if isinstance(inner, Call) else inner.base
        if isinstance(inner, Call):
            node = inner
    if isinstance(inner, Function):
        raise JuelUnsupported(f"function call {_source(inner, text)} is not supported: Baton calls no "
                              "functions, beans or methods", inner.start, text)
    raise JuelUnsupported(f"method call {_source(node, text)} is not supported: Baton evaluates no bean or "
                          f"method calls (only {_OFFERED})", node.start, text)


def _is_execution(node: Node) -> bool:
    while isinstance(node, Nested):
        node = node.expression
    return isinstance(node, Identifier) and node.name == EXECUTION


def _source(node: Node, text: str, limit: int = 60) -> str:
    source = text[node.start:node.end]
    return repr(source if len(source) <= limit else source[:limit - 3] + "...")


def identifiers(tree: Node) -> list[str]:
    """The variable names ``tree`` reads directly (not through execution.getVariable), in order."""
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Identifier) and node.name != EXECUTION and node.name not in found:
            found.append(node.name)
        stack.extend(reversed(children(node)))
    return found


# --- coercions (EL 1.18) -------------------------------------------------------------------

def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Long" if _MIN_LONG <= value <= _MAX_LONG else "BigInteger"
    return {float: "Double", str: "String", list: "List", dict: "Map"}.get(type(value), type(value).__name__)


class _Coercion(Exception):
    """A value that cannot become the type an operator needs (reported with the node's position)."""


def _describe(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r} (String)"
    if isinstance(value, list | dict):
        return f"a {type_name(value)}"
    return f"{to_string(value)} ({type_name(value)})"


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_big(value: Any) -> bool:
    return _is_integer(value) and not _MIN_LONG <= value <= _MAX_LONG


def _dot_e(value: Any) -> bool:
    return isinstance(value, str) and any(c in value for c in ".eE")


def to_long(value: Any) -> int:
    if value is None or value == "":
        return 0
    if _is_integer(value):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if math.isinf(value):
            return _MAX_LONG if value > 0 else _MIN_LONG
        return _wrap(int(value))
    if isinstance(value, str):
        if _LONG_TEXT.fullmatch(value):
            number = int(value)
            if _MIN_LONG <= number <= _MAX_LONG:
                return number
        raise _Coercion(f"Cannot coerce {_describe(value)} to Long")
    raise _Coercion(f"Cannot coerce {_describe(value)} to Long")


def to_integer(value: Any) -> int:
    """Coerced to an unbounded integer: Long rules, but a BigInteger stays whole."""
    return value if _is_big(value) else to_long(value)


def to_double(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if _is_integer(value):
        try:
            return float(value)
        except OverflowError:
            raise _Coercion(f"Cannot coerce {_describe(value)} to Double") from None
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _DOUBLE_TEXT.fullmatch(stripped):
            return float(stripped.rstrip("fFdD").replace("Infinity", "inf"))
        raise _Coercion(f"Cannot coerce {_describe(value)} to Double")
    raise _Coercion(f"Cannot coerce {_describe(value)} to Double")


def to_boolean(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise _Coercion(f"Cannot coerce {_describe(value)} to Boolean")


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def java_double(value: float) -> str:
    """``Double.toString``: ``2.0``, ``0.001``, ``1.0E-4``, ``1.0E7``, ``Infinity``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)  # plain in this range, with the shortest round-trip digits, as Java's
    _, digits, exponent = Decimal(repr(value)).as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    return f"{'-' if value < 0 else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def _wrap(number: int) -> int:
    return ((number - _MIN_LONG) % 2**64) + _MIN_LONG


# --- operators (EL 1.7-1.9) ----------------------------------------------------------------

def _arithmetic(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if a is None and b is None:
        return 0
    if isinstance(a, float) or isinstance(b, float) or _dot_e(a) or _dot_e(b):
        return op(to_double(a), to_double(b))
    if _is_big(a) or _is_big(b):
        return op(to_integer(a), to_integer(b))
    return _wrap(op(to_long(a), to_long(b)))


def add(a: Any, b: Any) -> Any:
    return _arithmetic(lambda x, y: x + y, a, b)


def subtract(a: Any, b: Any) -> Any:
    return _arithmetic(lambda x, y: x - y, a, b)


def multiply(a: Any, b: Any) -> Any:
    return _arithmetic(lambda x, y: x * y, a, b)


def divide(a: Any, b: Any) -> Any:
    if a is None and b is None:
        return 0
    x, y = to_double(a), to_double(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def modulo(a: Any, b: Any) -> Any:
    if a is None and b is None:
        return 0
    if isinstance(a, float) or isinstance(b, float) or _dot_e(a) or _dot_e(b):
        x, y = to_double(a), to_double(b)
        return math.nan if y == 0 or math.isinf(x) else math.fmod(x, y)
    x, y = to_integer(a), to_integer(b)
    if y == 0:
        raise _Coercion("/ by zero (a Long remainder by 0)")
    remainder = abs(x) % abs(y)
    return remainder if x >= 0 else -remainder


def negate(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, float):
        return -value
    if isinstance(value, str):
        return -to_double(value) if _dot_e(value) else _wrap(-to_long(value))
    if _is_integer(value):
        return -value if _is_big(value) else _wrap(-value)
    raise _Coercion(f"Cannot negate {_describe(value)}")


def equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return to_double(a) == to_double(b)
    if _is_integer(a) or _is_integer(b):
        return to_integer(a) == to_integer(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return to_boolean(a) == to_boolean(b)
    if isinstance(a, str) or isinstance(b, str):
        return to_string(a) == to_string(b)
    return bool(a == b)


def _compare(a: Any, b: Any) -> int:
    if isinstance(a, float) or isinstance(b, float):
        x: Any = to_double(a)
        y: Any = to_double(b)
    elif _is_integer(a) or _is_integer(b):
        x, y = to_integer(a), to_integer(b)
    elif isinstance(a, str) or isinstance(b, str):
        x, y = to_string(a), to_string(b)
    elif isinstance(a, bool) and isinstance(b, bool):
        x, y = a, b
    else:
        raise _Coercion(f"Cannot compare {_describe(a)} with {_describe(b)}")
    return (x > y) - (x < y)


def _relation(test: Callable[[int], bool], both_null: bool) -> Callable[[Any, Any], bool]:
    def relation(a: Any, b: Any) -> bool:
        if a is None and b is None:
            return both_null
        if a is None or b is None:
            return False
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return False
        return test(_compare(a, b))
    return relation


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo,
    "==": equal, "!=": lambda a, b: not equal(a, b),
    "<": _relation(lambda c: c < 0, False), ">": _relation(lambda c: c > 0, False),
    "<=": _relation(lambda c: c <= 0, True), ">=": _relation(lambda c: c >= 0, True),
}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | dict) and not value)


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
        except _Coercion as exc:
            raise self.fail(node, f"{exc} in {_source(node, self.text)}") from None

    def boolean(self, node: Node) -> bool:
        found = self.value(node)
        try:
            return to_boolean(found)
        except _Coercion as exc:
            raise self.fail(node, f"{exc}: {_source(node, self.text)} must be a Boolean") from None

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
            return _BINARY[node.operator](self.value(node.left), self.value(node.right))
        if isinstance(node, Unary):
            if node.operator == "!":
                return not self.boolean(node.operand)
            if node.operator == "empty":
                return is_empty(self.value(node.operand))
            return negate(self.value(node.operand))
        if isinstance(node, Choice):
            return self.value(node.yes) if self.boolean(node.condition) else self.value(node.no)
        if isinstance(node, Dot):
            if _is_execution(node.base):
                return self.execution_member(node, _PROPERTIES[node.name])
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
                raise self.fail(node, f"Cannot use {_describe(key)} as a list index in {_source(node, self.text)}")
            if isinstance(key, str):
                if not _LONG_TEXT.fullmatch(key.strip()):
                    raise self.fail(node, f"Cannot use {_describe(key)} as a list index in "
                                          f"{_source(node, self.text)}")
                key = int(key)
            index = int(key)
            return base[index] if 0 <= index < len(base) else None
        raise self.fail(node, f"Cannot read property {to_string(key)!r} of {_describe(base)} in "
                              f"{_source(node, self.text)}: only maps and lists have properties")

    def execution_member(self, node: Node, name: str) -> Any:
        found = getattr(self.execution, name)
        if found is UNAVAILABLE:
            raise self.fail(node, f"{_source(node, self.text)} is {self.execution.unavailable}")
        return found

    def call(self, node: Call) -> Any:
        target = node.target
        assert isinstance(target, Dot)  # check_subset let only execution.<method>(...) by
        method = target.name
        if method in _GETTERS:
            return self.execution_member(node, _GETTERS[method])
        name = to_string(self.value(node.arguments[0]))
        writes = self.execution.writes
        if method == "getVariable":
            return writes[name] if name in writes else self.variables.get(name)
        if method == "hasVariable":
            return name in writes or name in self.variables
        writes[name] = copy.deepcopy(self.value(node.arguments[1]))  # setVariable
        return None
