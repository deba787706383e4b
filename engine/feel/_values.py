"""FEEL values as Python values, and the conversions at the edges.

Inside the evaluator a FEEL value is one of: ``None`` (null), ``bool``, :class:`~decimal.Decimal`
(every number), ``str``, ``list``, ``dict`` (a context, ``str`` keys), :class:`datetime.date`,
:class:`datetime.datetime` (a date and time, with or without an offset), :class:`datetime.time`,
:class:`datetime.timedelta` (a days-and-time duration), :class:`YearsMonths` (a
years-and-months duration) or :class:`Range`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

# FEEL numbers are decimal128 (34 significant digits), as feel-scala's BigDecimal(DECIMAL128).
NUMBERS = Context(prec=34, Emax=6144, Emin=-6143, traps=[InvalidOperation, Overflow, DivisionByZero])


@dataclass(frozen=True, slots=True)
class YearsMonths:
    """A years-and-months duration (``P1Y2M``), counted in months."""

    months: int

    def __str__(self) -> str:
        sign = "-" if self.months < 0 else ""
        years, months = divmod(abs(self.months), 12)
        if not years and not months:
            return "P0M"
        return f"{sign}P" + (f"{years}Y" if years else "") + (f"{months}M" if months else "")


@dataclass(frozen=True, slots=True)
class Range:
    start: Any
    start_included: bool
    end: Any
    end_included: bool

    def __str__(self) -> str:
        return (("[" if self.start_included else "(") + f"{to_string(self.start)}..{to_string(self.end)}"
                + ("]" if self.end_included else ")"))


# ---------------------------------------------------------------------------------------------
# Python data in, Python data out

def from_python(value: Any) -> Any:
    """One level of ``value`` as a FEEL value (containers are converted by the caller, lazily)."""
    if value is None or isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return None if not math.isfinite(value) else Decimal(repr(value))
    if isinstance(value, dt.date | dt.time | dt.timedelta | YearsMonths | Range):
        return value
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return value if all(isinstance(k, str) for k in value) else {str(k): v for k, v in value.items()}
    return None  # anything else is not FEEL data


def to_python(value: Any) -> Any:
    """A FEEL value as plain Python: numbers as ``int`` when whole, else ``float`` (as Zeebe stores
    them); lists and dicts converted all the way down; temporal values stay ``datetime`` objects."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> Any:
    """:func:`to_python`, and temporal values as FEEL writes them (ISO 8601 strings): what a
    process variable holds."""
    value = to_python(value)
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, dt.date | dt.time | dt.timedelta | YearsMonths | Range):
        return to_string(value)
    return value


# ---------------------------------------------------------------------------------------------
# Strings

def number_text(n: Decimal) -> str:
    """A number as FEEL's ``string()`` writes it: plain notation, no trailing zeros."""
    if n == n.to_integral_value():
        return str(int(n))
    text = format(n.normalize(NUMBERS), "f")
    return text


def _offset_text(offset: dt.timedelta | None) -> str:
    if offset is None:
        return ""
    if offset == dt.timedelta(0):
        return "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    total = abs(int(offset.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def _time_text(t: dt.time | dt.datetime) -> str:
    text = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text


def duration_text(d: dt.timedelta) -> str:
    """A days-and-time duration as ISO 8601 (``P1DT2H30M``, ``PT0.5S``, ``-PT1H``)."""
    if not d:
        return "PT0S"
    sign = "-" if d < dt.timedelta(0) else ""
    d = abs(d)
    days, seconds, micros = d.days, d.seconds, d.microseconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or micros:
        clock += (f"{secs}.{micros:06d}".rstrip("0") if micros else str(secs)) + "S"
    return text + ("T" + clock if clock else "")


def to_string(value: Any) -> str | None:
    """FEEL's ``string(value)``; ``None`` for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, dt.datetime):
        zone = getattr(value.tzinfo, "key", None)
        text = f"{value.date().isoformat()}T{_time_text(value)}"
        if zone:
            return f"{text}@{zone}"
        return text + _offset_text(value.utcoffset())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _time_text(value) + _offset_text(value.utcoffset())
    if isinstance(value, dt.timedelta):
        return duration_text(value)
    if isinstance(value, YearsMonths | Range):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inner(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}:{_inner(v)}" for k, v in value.items()) + "}"
    return None


def _inner(value: Any) -> str:
    value = from_python(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return to_string(value) or "null"


# ---------------------------------------------------------------------------------------------
# Temporal values from text

_DATE = re.compile(r"(-?\d{4,9})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?")
_OFFSET = re.compile(r"(?:(Z)|([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?(?:@([A-Za-z][A-Za-z0-9_+\-/]{0,63}))?")
_DURATION = re.compile(
    r"(-)?P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,9})?)S)?)?")


def _zone(m: re.Match[str]) -> dt.tzinfo | None | bool:
    """The offset or zone matched by ``_OFFSET``: a tzinfo, ``None`` (local), ``False`` (bad)."""
    z, sign, hh, mm, ss, zone_id = m.groups()
    if zone_id:
        if z or sign:
            return False
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(zone_id)
        except (KeyError, ValueError, OSError):
            return False
    if z:
        return dt.UTC
    if sign:
        delta = dt.timedelta(hours=int(hh), minutes=int(mm), seconds=int(ss or 0))
        if delta > dt.timedelta(hours=18):
            return False
        return dt.timezone(-delta if sign == "-" else delta)
    return None


def _clock(m: re.Match[str]) -> tuple[int, int, int, int]:
    hh, mm, ss, frac = m.groups()
    return int(hh), int(mm), int(ss or 0), int((frac or "0").ljust(6, "0")[:6])


def parse_date(text: str) -> dt.date | None:
    m = _DATE.fullmatch(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_time(text: str) -> dt.time | None:
    m = _TIME.match(text)
    if not m:
        return None
    z = _OFFSET.fullmatch(text, m.end())
    if not z:
        return None
    zone = _zone(z)
    if zone is False:
        return None
    try:
        h, mi, s, us = _clock(m)
        return dt.time(h, mi, s, us, tzinfo=zone)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_date_time(text: str) -> dt.datetime | None:
    if "T" not in text:
        d = parse_date(text)  # FEEL: date and time("2020-01-01") is midnight that day
        return dt.datetime(d.year, d.month, d.day) if d else None
    day, _, clock = text.partition("T")
    d = parse_date(day)
    m = _TIME.match(clock)
    if d is None or not m:
        return None
    z = _OFFSET.fullmatch(clock, m.end())
    if not z:
        return None
    zone = _zone(z)
    if zone is False:
        return None
    try:
        h, mi, s, us = _clock(m)
        return dt.datetime(d.year, d.month, d.day, h, mi, s, us, tzinfo=zone)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_duration(text: str) -> dt.timedelta | YearsMonths | None:
    m = _DURATION.fullmatch(text)
    if not m:
        return None
    neg, years, months, weeks, days, hours, minutes, seconds = m.groups()
    year_month = years is not None or months is not None
    day_time = any(v is not None for v in (weeks, days, hours, minutes, seconds))
    if year_month and day_time:
        return None  # FEEL has two kinds of duration; P1Y2D is neither
    try:
        if year_month:
            total = int(years or 0) * 12 + int(months or 0)
            return YearsMonths(-total if neg else total)
        sec = Decimal(seconds or 0)
        delta = dt.timedelta(weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0),
                             minutes=int(minutes or 0), seconds=int(sec),
                             microseconds=int((sec - int(sec)) * 1_000_000))
    except (OverflowError, ValueError):
        return None
    return -delta if neg else delta


def temporal_literal(text: str) -> Any:
    """``@"..."``: a duration, a date and time, a time or a date, by its shape; ``None`` if none."""
    if text.startswith(("P", "-P")):
        return parse_duration(text)
    if "T" in text:
        return parse_date_time(text)
    if ":" in text:
        return parse_time(text)
    return parse_date(text)
