"""The date, time and duration built-ins (``now``, ``today``, ``date and time``, ``date``,
``time``, ``duration``); :mod:`._builtins` lists them with the others.

Parsing the text forms is :mod:`._values`' job; here are only the functions' argument rules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ._arguments import MISSING, Limits, whole_number
from ._values import parse_date, parse_date_time, parse_duration, parse_time


def now(limits: Limits) -> Any:
    return limits.now()


def today(limits: Limits) -> Any:
    return limits.now().date()


def date_and_time(a: Any, b: Any = MISSING) -> Any:
    if b is MISSING:
        if isinstance(a, str):
            return parse_date_time(a)
        if isinstance(a, dt.datetime):
            return a
        if isinstance(a, dt.date):
            return dt.datetime.combine(a, dt.time())
        return None
    if isinstance(a, dt.date) and isinstance(b, dt.time):
        day = a.date() if isinstance(a, dt.datetime) else a
        return dt.datetime.combine(day, b)
    return None


def date(*args: Any) -> Any:
    if len(args) == 1:
        a = args[0]
        if isinstance(a, str):
            return parse_date(a)
        if isinstance(a, dt.datetime):
            return a.date()
        if isinstance(a, dt.date):
            return a
        return None
    parts = [whole_number(x) for x in args]
    if None in parts:
        return None
    try:
        return dt.date(*parts)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return None


def time(*args: Any) -> Any:
    args = tuple(a for a in args if a is not MISSING)
    if len(args) == 1:
        a = args[0]
        if isinstance(a, str):
            return parse_time(a)
        if isinstance(a, dt.datetime):
            return a.timetz()
        if isinstance(a, dt.time):
            return a
        return None
    hour, minute, second = (whole_number(x) if whole_number(x) is not None else x for x in args[:3])
    offset = args[3] if len(args) > 3 else None
    if not (isinstance(hour, int) and isinstance(minute, int) and isinstance(second, Decimal | int)):
        return None
    tz = None
    if offset is not None:
        if not isinstance(offset, dt.timedelta):
            return None
        try:
            tz = dt.timezone(offset)
        except ValueError:
            return None
    try:
        sec = Decimal(second)
        return dt.time(hour, minute, int(sec), int((sec - int(sec)) * 1_000_000), tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else None
