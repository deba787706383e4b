"""How a built-in is called: its parameter lists, how call arguments bind to them, and what
it may ask of the evaluator.

Its own module so that each family of built-ins (:mod:`._builtins`, :mod:`._temporal`) can use
it and :mod:`._builtins` can still gather them all into one table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


class Limits:
    """What a built-in may ask of the evaluator: the clock, and the bounds on what it builds."""

    def now(self) -> dt.datetime:
        raise NotImplementedError

    def items(self, values: list[Any]) -> list[Any]:
        raise NotImplementedError

    def text(self, value: str) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    overloads: tuple[tuple[str, ...], ...]
    fn: Callable[..., Any]
    needs_limits: bool = False

    def bind(self, args: Sequence[Any], named: dict[str, Any]) -> list[Any] | None:
        """The arguments in parameter order (``MISSING`` for an optional one not given), or
        ``None`` when no parameter list fits."""
        for params in self.overloads:
            bound = _bind(params, args, named)
            if bound is not None:
                return bound
        return None

    def fits(self, positional: int, named: Sequence[str]) -> bool:
        return self.bind([None] * positional, dict.fromkeys(named)) is not None


def _bind(params: tuple[str, ...], args: Sequence[Any], named: dict[str, Any]) -> list[Any] | None:
    names = [p.rstrip("?*") for p in params]
    if named:
        if args or not set(named) <= set(names):
            return None
        out = []
        for p, n in zip(params, names, strict=True):
            if n in named:
                out.append(named[n])
            elif p.endswith(("?", "*")):
                out.append(MISSING)
            else:
                return None
        if params and params[-1].endswith("*"):
            rest = out.pop()
            return out + ([] if rest is MISSING else [rest])
        return out
    required = sum(1 for p in params if not p.endswith(("?", "*")))
    variadic = bool(params) and params[-1].endswith("*")
    if len(args) < required or (not variadic and len(args) > len(params)):
        return None
    return list(args) + [MISSING] * max(0, len(params) - len(args) - (1 if variadic else 0))


def whole_number(value: Any) -> int | None:
    """A number argument that must be whole (a position, a year...), as ``int``; else ``None``."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return None
