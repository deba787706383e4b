"""The string built-ins of the subset (``string``, ``number``, ``upper case``, ``substring``,
``contains``, ``string join``...), with feel-scala's behaviour: a wrong type is null. They are
registered with their FEEL names and parameters in :mod:`._builtins`.
"""

from __future__ import annotations

import re
from decimal import Decimal, DecimalException
from typing import Any

from ._arguments import MISSING, Limits, whole_number
from ._values import NUMBERS, to_string


def _strings(*values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?")


def string(value: Any) -> Any:
    return to_string(value)


def to_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        try:
            return NUMBERS.create_decimal(value.strip())
        except DecimalException:
            return None
    return None


def string_length(value: Any) -> Any:
    return Decimal(len(value)) if isinstance(value, str) else None


def upper_case(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else None


def lower_case(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else None


def substring(value: Any, start: Any, length: Any = MISSING) -> Any:
    """1-based; a negative start counts from the end (-1 is the last character)."""
    s = whole_number(start)
    if not isinstance(value, str) or s is None or s == 0 or abs(s) > len(value) + (1 if s > 0 else 0):
        return None
    i = s - 1 if s > 0 else len(value) + s
    if length is MISSING:
        return value[i:]
    n = whole_number(length)
    if n is None or n < 0:
        return None
    return value[i:i + n]


def substring_before(value: Any, match: Any) -> Any:
    if not _strings(value, match):
        return None
    i = value.find(match)
    return value[:i] if i >= 0 else ""


def substring_after(value: Any, match: Any) -> Any:
    if not _strings(value, match):
        return None
    i = value.find(match)
    return value[i + len(match):] if i >= 0 else ""


def contains(value: Any, match: Any) -> Any:
    return (match in value) if _strings(value, match) else None


def starts_with(value: Any, match: Any) -> Any:
    return value.startswith(match) if _strings(value, match) else None


def ends_with(value: Any, match: Any) -> Any:
    return value.endswith(match) if _strings(value, match) else None


def trim(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else None


def string_join(limits: Limits, values: Any, delimiter: Any = MISSING, prefix: Any = MISSING,
                 suffix: Any = MISSING) -> Any:
    """feel-scala: null items are left out; any other non-string item makes it null."""
    if not isinstance(values, list):
        return None
    parts = [v for v in values if v is not None]
    extras = [x if x is not MISSING else "" for x in (delimiter, prefix, suffix)]
    if not _strings(*parts) or not all(isinstance(x, str) or x is None for x in extras):
        return None
    sep, pre, post = (x or "" for x in extras)
    return limits.text(pre + sep.join(parts) + post)


# ---------------------------------------------------------------------------------------------
# Numbers
