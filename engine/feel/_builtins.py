"""The built-in functions of the subset, with feel-scala's names and parameter names.

Each takes FEEL values and answers a FEEL value; a wrong type or a bad argument is null.
A parameter ending in ``?`` is optional; one ending in ``*`` takes the rest of the arguments
(``sum(1, 2, 3)`` or ``sum([1, 2, 3])``). Functions with overloads (``date(from)``,
``date(year, month, day)``) list each parameter list.

The boolean, list and number built-ins are here; the string ones are in :mod:`._text`, the
date, time and duration ones in :mod:`._temporal`, how arguments bind in :mod:`._arguments`.
:data:`BUILTINS` lists them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, DecimalException
from typing import Any

from . import _temporal, _text
from ._arguments import MISSING, Builtin, Limits, whole_number
from ._errors import FeelLimitError
from ._ops import equal, kind, order
from ._values import NUMBERS

# ---------------------------------------------------------------------------------------------
# Reading arguments, for the families below

def _spread(args: Sequence[Any]) -> list[Any] | None:
    """``f(list)`` or ``f(a, b, c)``: the values either way."""
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    if len(args) == 1 and args[0] is None:
        return None
    return list(args)


def _number(value: Any) -> bool:
    return isinstance(value, Decimal)


# ---------------------------------------------------------------------------------------------
# Boolean and context

def _not(negand: Any) -> Any:
    return (not negand) if isinstance(negand, bool) else None


def _is_defined(value: Any) -> bool:
    return value is not None


def _get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


# ---------------------------------------------------------------------------------------------
# Lists

def _count(values: Any) -> Any:
    return Decimal(len(values)) if isinstance(values, list) else None


def _numbers(args: Sequence[Any]) -> list[Decimal] | None:
    values = _spread(args)
    if values is None or not all(_number(v) for v in values):
        return None
    return values


def _sum(*args: Any) -> Any:
    values = _numbers(args)
    if not values:
        return None
    total = Decimal(0)
    for v in values:
        total = NUMBERS.add(total, v)
    return total


def _product(*args: Any) -> Any:
    values = _numbers(args)
    if not values:
        return None
    total = Decimal(1)
    for v in values:
        total = NUMBERS.multiply(total, v)
    return total


def _mean(*args: Any) -> Any:
    values = _numbers(args)
    total = _sum(*args)
    return None if not values or total is None else NUMBERS.divide(total, Decimal(len(values)))


def _extreme(args: Sequence[Any], sign: int) -> Any:
    values = _spread(args)
    if not values:
        return None
    best = values[0]
    for v in values[1:]:
        c = order(v, best)
        if c is None:
            return None
        if c * sign > 0:
            best = v
    return best if order(best, best) is not None else None


def _min(*args: Any) -> Any:
    return _extreme(args, -1)


def _max(*args: Any) -> Any:
    return _extreme(args, 1)


def _all(*args: Any) -> Any:
    values = _spread(args)
    if values is None:
        return None
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def _any(*args: Any) -> Any:
    values = _spread(args)
    if values is None:
        return None
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


def _list_contains(values: Any, element: Any) -> Any:
    if not isinstance(values, list):
        return None
    return any(equal(v, element) is True for v in values)


def _append(limits: Limits, values: Any, *items: Any) -> Any:
    if not isinstance(values, list):
        return None
    return limits.items([*values, *items])


def _concatenate(limits: Limits, *lists: Any) -> Any:
    if not all(isinstance(v, list) for v in lists):
        return None
    out: list[Any] = []
    for v in lists:
        out.extend(v)
        limits.items(out)
    return out


def _distinct_values(values: Any) -> Any:
    if not isinstance(values, list):
        return None
    out: list[Any] = []
    for v in values:
        if not any(equal(v, seen) is True for seen in out):
            out.append(v)
    return out


def _reverse(values: Any) -> Any:
    return values[::-1] if isinstance(values, list) else None


def _flatten(limits: Limits, values: Any) -> Any:
    if not isinstance(values, list):
        return None
    out: list[Any] = []
    stack = [iter(values)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                if len(stack) > 64:
                    return None
                stack.append(iter(v))
                break
            out.append(v)
            if len(out) % 1024 == 0:
                limits.items(out)
        else:
            stack.pop()
    return limits.items(out)


def _index_of(values: Any, match: Any) -> Any:
    if not isinstance(values, list):
        return None
    return [Decimal(i + 1) for i, v in enumerate(values) if equal(v, match) is True]


def _sublist(values: Any, start: Any, length: Any = MISSING) -> Any:
    s = whole_number(start)
    if not isinstance(values, list) or s is None or s == 0 or abs(s) > len(values):
        return None
    i = s - 1 if s > 0 else len(values) + s
    if length is MISSING:
        return values[i:]
    n = whole_number(length)
    if n is None or n < 0 or i + n > len(values):
        return None
    return values[i:i + n]


def _is_empty(values: Any) -> Any:
    return (not values) if isinstance(values, list) else None


# ---------------------------------------------------------------------------------------------
# Strings

def _abs(n: Any) -> Any:
    return abs(n) if _number(n) else (abs(n) if isinstance(n, dt.timedelta) else None)


def _floor(n: Any) -> Any:
    return n.to_integral_value(rounding=ROUND_FLOOR) if _number(n) else None


def _ceiling(n: Any) -> Any:
    return n.to_integral_value(rounding=ROUND_CEILING) if _number(n) else None


def _decimal(n: Any, scale: Any) -> Any:
    s = whole_number(scale)
    if not _number(n) or s is None or not -6111 <= s <= 6176:
        return None
    return n.quantize(Decimal(1).scaleb(-s), rounding=ROUND_HALF_EVEN, context=NUMBERS)


def _modulo(dividend: Any, divisor: Any) -> Any:
    """FEEL: the result has the divisor's sign (``modulo(-12, 5)`` is 3)."""
    if not (_number(dividend) and _number(divisor)) or divisor == 0:
        return None
    r = NUMBERS.remainder(dividend, divisor)
    if r and (r < 0) != (divisor < 0):
        r = NUMBERS.add(r, divisor)
    return r


def _odd(n: Any) -> Any:
    i = whole_number(n)
    return None if i is None else i % 2 == 1


def _even(n: Any) -> Any:
    i = whole_number(n)
    return None if i is None else i % 2 == 0


_TABLE: list[Builtin] = [
    Builtin("not", (("negand",),), _not),
    Builtin("is defined", (("value",),), _is_defined),
    Builtin("get or else", (("value", "default"),), _get_or_else),
    Builtin("count", (("list",),), _count),
    Builtin("sum", (("list*",),), _sum),
    Builtin("product", (("list*",),), _product),
    Builtin("mean", (("list*",),), _mean),
    Builtin("min", (("list*",),), _min),
    Builtin("max", (("list*",),), _max),
    Builtin("all", (("list*",),), _all),
    Builtin("any", (("list*",),), _any),
    Builtin("list contains", (("list", "element"),), _list_contains),
    Builtin("append", (("list", "items*"),), _append, needs_limits=True),
    Builtin("concatenate", (("lists*",),), _concatenate, needs_limits=True),
    Builtin("distinct values", (("list",),), _distinct_values),
    Builtin("reverse", (("list",),), _reverse),
    Builtin("flatten", (("list",),), _flatten, needs_limits=True),
    Builtin("index of", (("list", "match"),), _index_of),
    Builtin("sublist", (("list", "start position", "length?"),), _sublist),
    Builtin("is empty", (("list",),), _is_empty),
    Builtin("string", (("from",),), _text.string),
    Builtin("number", (("from",),), _text.to_number),
    Builtin("string length", (("string",),), _text.string_length),
    Builtin("upper case", (("string",),), _text.upper_case),
    Builtin("lower case", (("string",),), _text.lower_case),
    Builtin("substring", (("string", "start position", "length?"),), _text.substring),
    Builtin("substring before", (("string", "match"),), _text.substring_before),
    Builtin("substring after", (("string", "match"),), _text.substring_after),
    Builtin("contains", (("string", "match"),), _text.contains),
    Builtin("starts with", (("string", "match"),), _text.starts_with),
    Builtin("ends with", (("string", "match"),), _text.ends_with),
    Builtin("trim", (("string",),), _text.trim),
    Builtin("string join", (("list", "delimiter?", "prefix?", "suffix?"),), _text.string_join, needs_limits=True),
    Builtin("abs", (("n",),), _abs),
    Builtin("floor", (("n",),), _floor),
    Builtin("ceiling", (("n",),), _ceiling),
    Builtin("decimal", (("n", "scale"),), _decimal),
    Builtin("modulo", (("dividend", "divisor"),), _modulo),
    Builtin("odd", (("number",),), _odd),
    Builtin("even", (("number",),), _even),
    Builtin("now", ((),), _temporal.now, needs_limits=True),
    Builtin("today", ((),), _temporal.today, needs_limits=True),
    Builtin("date and time", (("from",), ("date", "time")), _temporal.date_and_time),
    Builtin("date", (("from",), ("year", "month", "day")), _temporal.date),
    Builtin("time", (("from",), ("hour", "minute", "second", "offset?")), _temporal.time),
    Builtin("duration", (("from",),), _temporal.duration),
]

BUILTINS: dict[str, Builtin] = {b.name: b for b in _TABLE}
FUNCTION_NAMES: frozenset[str] = frozenset(BUILTINS)


def call(name: str, args: Sequence[Any], named: dict[str, Any], limits: Limits) -> Any:
    """Call the built-in ``name``; null when it is unknown or the arguments do not fit it."""
    builtin = BUILTINS.get(name)
    if builtin is None:
        return None
    bound = builtin.bind(args, named)
    if bound is None:
        return None
    bound = [a for a in bound if a is not MISSING] if builtin.fn in (_temporal.date, _temporal.time) else bound
    try:
        if builtin.needs_limits:
            return builtin.fn(limits, *bound)
        return builtin.fn(*bound)
    except FeelLimitError:
        raise
    except (DecimalException, OverflowError, ValueError, TypeError):
        return None


__all__ = ["BUILTINS", "FUNCTION_NAMES", "MISSING", "Builtin", "Limits", "call", "kind"]
