"""The EL coercions and the operators built on them, as Camunda 7's JUEL applies them (EL 2.2
section 1.7-1.9, 1.18); :mod:`._evaluator` calls them for each operator node.

Values are plain data, as process variables are in Baton: ``None`` (EL ``null``), ``bool``
(Boolean), ``int`` (Long; beyond 64 bits BigInteger), ``float`` (Double), ``str`` (String),
``list`` (List) and ``dict`` (Map). The operators:

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

A value that cannot be coerced raises :class:`CoercionError`; the evaluator reports it with the
position of the node.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
LONG_TEXT = re.compile(r"[+-]?\d+")
_DOUBLE_TEXT = re.compile(r"[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?")


# --- coercions (EL 1.18) -------------------------------------------------------------------

def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Long" if _MIN_LONG <= value <= _MAX_LONG else "BigInteger"
    return {float: "Double", str: "String", list: "List", dict: "Map"}.get(type(value), type(value).__name__)


class CoercionError(Exception):
    """A value that cannot become the type an operator needs (reported with the node's position)."""


def describe(value: Any) -> str:
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
        if LONG_TEXT.fullmatch(value):
            number = int(value)
            if _MIN_LONG <= number <= _MAX_LONG:
                return number
        raise CoercionError(f"Cannot coerce {describe(value)} to Long")
    raise CoercionError(f"Cannot coerce {describe(value)} to Long")


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
            raise CoercionError(f"Cannot coerce {describe(value)} to Double") from None
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _DOUBLE_TEXT.fullmatch(stripped):
            return float(stripped.rstrip("fFdD").replace("Infinity", "inf"))
        raise CoercionError(f"Cannot coerce {describe(value)} to Double")
    raise CoercionError(f"Cannot coerce {describe(value)} to Double")


def to_boolean(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise CoercionError(f"Cannot coerce {describe(value)} to Boolean")


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
        raise CoercionError("/ by zero (a Long remainder by 0)")
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
    raise CoercionError(f"Cannot negate {describe(value)}")


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
        raise CoercionError(f"Cannot compare {describe(a)} with {describe(b)}")
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


BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo,
    "==": equal, "!=": lambda a, b: not equal(a, b),
    "<": _relation(lambda c: c < 0, False), ">": _relation(lambda c: c > 0, False),
    "<=": _relation(lambda c: c <= 0, True), ">=": _relation(lambda c: c >= 0, True),
}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | dict) and not value)

