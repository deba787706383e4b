"""FEEL's operators over FEEL values: equality, order, arithmetic. Never raise: a type mismatch,
a null operand or an impossible operation answers ``None`` (null), as feel-scala does."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal, DecimalException
from typing import Any

from ._values import NUMBERS, Range, YearsMonths


def kind(value: Any) -> str:
    """The FEEL type of a value, for "same type" checks."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "date and time"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, dt.timedelta):
        return "days and time duration"
    if isinstance(value, YearsMonths):
        return "years and months duration"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    if isinstance(value, Range):
        return "range"
    return "unknown"


_ORDERED = frozenset({"number", "string", "date", "date and time", "time", "days and time duration",
                      "years and months duration"})


def equal(a: Any, b: Any) -> bool | None:
    """FEEL ``a = b``: null equals only null; values of different types compare to null."""
    if a is None or b is None:
        return a is None and b is None
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return None
    if ka == "list":
        if len(a) != len(b):
            return False
        return _all_equal(zip(a, b, strict=True))
    if ka == "context":
        if a.keys() != b.keys():
            return False
        return _all_equal((a[k], b[k]) for k in a)
    if ka in ("date and time", "time") and (a.utcoffset() is None) != (b.utcoffset() is None):
        return None
    if ka == "years and months duration":
        return a.months == b.months
    try:
        return bool(a == b)
    except TypeError:
        return None


def _all_equal(pairs: Any) -> bool | None:
    unknown = False
    for x, y in pairs:
        r = equal(x, y)
        if r is False:
            return False
        unknown = unknown or r is None
    return None if unknown else True


def order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 as ``a`` is below, equal to or above ``b``; ``None`` when they do not compare."""
    ka = kind(a)
    if ka != kind(b) or ka not in _ORDERED:
        return None
    if ka == "years and months duration":
        a, b = a.months, b.months
    try:
        return -1 if a < b else (1 if a > b else 0)
    except TypeError:  # an aware and a naive date and time
        return None


def compare(op: str, a: Any, b: Any) -> bool | None:
    if op == "=":
        return equal(a, b)
    if op == "!=":
        r = equal(a, b)
        return None if r is None else not r
    c = order(a, b)
    if c is None:
        return None
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def in_range(value: Any, r: Range) -> bool | None:
    low, high = order(value, r.start), order(value, r.end)
    if low is None or high is None:
        return None
    return (low > 0 or (low == 0 and r.start_included)) and (high < 0 or (high == 0 and r.end_included))


def negate(value: Any) -> Any:
    if isinstance(value, Decimal):
        return -value
    if isinstance(value, dt.timedelta):
        return -value
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.months)
    return None


def add_months(value: dt.date, months: int) -> dt.date:
    """``value`` moved by whole months, the day clamped to the month's last (Jan 31 + P1M = Feb 28)."""
    total = value.year * 12 + (value.month - 1) + months
    year, month = divmod(total, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for ``+ - * / **``; null for null operands, mismatched types and failures."""
    if a is None or b is None:
        return None
    try:
        return _arithmetic(op, a, b)
    except (DecimalException, OverflowError, ValueError, TypeError, ZeroDivisionError):
        return None


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "number":
        if op == "+":
            return NUMBERS.add(a, b)
        if op == "-":
            return NUMBERS.subtract(a, b)
        if op == "*":
            return NUMBERS.multiply(a, b)
        if op == "/":
            return NUMBERS.divide(a, b)
        return NUMBERS.power(a, b)
    if op == "+" and ka == kb == "string":
        return a + b
    if op in ("+", "-"):
        sign = 1 if op == "+" else -1
        if ka == kb == "days and time duration":
            return a + sign * b
        if ka == kb == "years and months duration":
            return YearsMonths(a.months + sign * b.months)
        if ka in ("date and time", "date") and kb == "days and time duration":
            if ka == "date":
                return (dt.datetime.combine(a, dt.time()) + sign * b).date()
            return a + sign * b
        if ka in ("date and time", "date") and kb == "years and months duration":
            return add_months(a, sign * b.months)
        if op == "+" and kb in ("date and time", "date") and ka.endswith("duration"):
            return _arithmetic("+", b, a)
        if ka == "time" and kb == "days and time duration":
            base = dt.datetime.combine(dt.date(2000, 1, 1), a)
            return (base + sign * b).timetz()
        if op == "-" and ka == kb and ka in ("date and time", "date"):
            return a - b  # TypeError (aware - naive) is null
        if op == "-" and ka == kb == "time":
            day = dt.date(2000, 1, 1)
            return dt.datetime.combine(day, a) - dt.datetime.combine(day, b)
        return None
    if op == "*":
        if ka == "number" and kb.endswith("duration"):
            a, b, ka, kb = b, a, kb, ka
        if kb == "number" and ka == "days and time duration":
            return dt.timedelta(microseconds=int(NUMBERS.multiply(_micros(a), b)))
        if kb == "number" and ka == "years and months duration":
            return YearsMonths(int(NUMBERS.multiply(Decimal(a.months), b)))
        return None
    if op == "/":
        if ka == kb == "days and time duration":
            return NUMBERS.divide(_micros(a), _micros(b))
        if ka == kb == "years and months duration":
            return NUMBERS.divide(Decimal(a.months), Decimal(b.months))
        if kb == "number" and ka == "days and time duration":
            return dt.timedelta(microseconds=int(NUMBERS.divide(_micros(a), b)))
        if kb == "number" and ka == "years and months duration":
            return YearsMonths(int(NUMBERS.divide(Decimal(a.months), b)))
    return None


def _micros(d: dt.timedelta) -> Decimal:
    return Decimal((d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds)
