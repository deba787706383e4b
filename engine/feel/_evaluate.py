"""Evaluation of the AST over a context of Python data, with FEEL's null semantics and bounds.

A name is looked up from the innermost scope out (``for``/``some`` bindings, a filter's item,
earlier entries of a context literal) to the variables; a missing name is null. The variables
are Python data (JSON-like, plus ``datetime`` values): each is converted to FEEL values once per
evaluation, when first read.

Bounds (a :class:`FeelLimitError` when passed): :data:`MAX_ITEMS` items in any list built or
iterated (``for``, filters, quantifiers, ranges, ``append``...), :data:`MAX_STEPS` nodes
evaluated, :data:`MAX_TEXT` characters in a string built. Recursion follows the AST, whose depth
the parser bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from . import _builtins
from ._ast import (
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    ContextLit,
    Filter,
    For,
    If,
    In,
    ListLit,
    Literal,
    Name,
    Negate,
    Node,
    Or,
    Path,
    Quantified,
    RangeLit,
    Test,
    walk,
)
from ._errors import FeelLimitError
from ._ops import arithmetic, compare, equal, in_range, negate, order
from ._values import Range, YearsMonths, from_python

MAX_ITEMS = 100_000
MAX_STEPS = 250_000
MAX_TEXT = 1_000_000
MAX_DATA_DEPTH = 64


class Evaluator:
    def __init__(self, text: str, variables: Mapping[str, Any], now: dt.datetime | None):
        self.text = text
        self.variables = variables
        self.converted: dict[str, Any] = {}
        self.scopes: list[Mapping[str, Any]] = []
        self.steps = 0
        self._now = now
        self._dispatch: dict[type, Callable[[Any], Any]] = {
            Literal: self.literal, Name: self.name, Path: self.path, Filter: self.filter, Call: self.call,
            Negate: self.negate, Arithmetic: self.arithmetic, Compare: self.compare, And: self.and_,
            Or: self.or_, Between: self.between, In: self.in_, If: self.if_, Quantified: self.quantified,
            For: self.for_, ListLit: self.list_, ContextLit: self.context, RangeLit: self.range_,
        }

    # -- Limits (what built-ins may ask)

    def now(self) -> dt.datetime:
        if self._now is None:
            self._now = dt.datetime.now(dt.UTC)
        return self._now

    def items(self, values: list[Any], pos: int = 0) -> list[Any]:
        if len(values) > MAX_ITEMS:
            raise FeelLimitError(f"a list would have more than {MAX_ITEMS} items", self.text, pos)
        return values

    def text_(self, value: str, pos: int = 0) -> str:
        if len(value) > MAX_TEXT:
            raise FeelLimitError(f"a string would be longer than {MAX_TEXT} characters", self.text, pos)
        return value

    # -- evaluation

    def evaluate(self, node: Node) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise FeelLimitError(f"the evaluation took more than {MAX_STEPS} steps", self.text, node.pos)
        return self._dispatch[type(node)](node)

    def literal(self, node: Literal) -> Any:
        return node.value

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.converted:
            return self.converted[name]
        if name not in self.variables:
            return None
        value = _deep(self.variables[name], 0)
        self.converted[name] = value
        return value

    def name(self, node: Name) -> Any:
        return self.lookup(node.name)

    def path(self, node: Path) -> Any:
        target = self.evaluate(node.target)
        if isinstance(target, dict):
            return target.get(node.key)
        if isinstance(target, list):  # a projection: [{a: 1}, {b: 2}].a is [1, null]
            return [v.get(node.key) if isinstance(v, dict) else _property(v, node.key) for v in target]
        return _property(target, node.key)

    def filter(self, node: Filter) -> Any:
        target = self.evaluate(node.target)
        if target is None:
            return None
        values = target if isinstance(target, list) else [target]
        outer = self.evaluate(node.condition) if not _mentions_item(node.condition) else None
        if isinstance(outer, Decimal):
            return _index(values, outer)
        kept = []
        for value in values:
            scope = dict(value) if isinstance(value, dict) else {}
            scope.setdefault("item", value)
            self.scopes.append(scope)
            try:
                if self.evaluate(node.condition) is True:
                    kept.append(value)
            finally:
                self.scopes.pop()
        return kept

    def call(self, node: Call) -> Any:
        args = [self.evaluate(a) for a in node.args]
        named = {k: self.evaluate(v) for k, v in node.named}
        return _builtins.call(node.name, args, named, _BuiltinLimits(self, node.pos))

    def negate(self, node: Negate) -> Any:
        return negate(self.evaluate(node.operand))

    def arithmetic(self, node: Arithmetic) -> Any:
        result = arithmetic(node.op, self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(result, str):
            self.text_(result, node.pos)
        return result

    def compare(self, node: Compare) -> Any:
        return compare(node.op, self.evaluate(node.left), self.evaluate(node.right))

    def and_(self, node: And) -> Any:
        left = self.evaluate(node.left)
        if left is False:
            return False
        right = self.evaluate(node.right)
        if right is False:
            return False
        return True if left is True and right is True else None

    def or_(self, node: Or) -> Any:
        left = self.evaluate(node.left)
        if left is True:
            return True
        right = self.evaluate(node.right)
        if right is True:
            return True
        return False if left is False and right is False else None

    def between(self, node: Between) -> Any:
        value = self.evaluate(node.value)
        low, high = order(value, self.evaluate(node.low)), order(value, self.evaluate(node.high))
        if low is None or high is None:
            return None
        return low >= 0 and high <= 0

    def in_(self, node: In) -> Any:
        value = self.evaluate(node.value)
        unknown = False
        for test in node.tests:
            r = self.test(value, test)
            if r is True:
                return True
            unknown = unknown or r is None
        return None if unknown else False

    def test(self, value: Any, test: Test) -> bool | None:
        operand = self.evaluate(test.operand)
        if test.op is not None:
            return compare(test.op, value, operand)
        if isinstance(operand, Range):
            return in_range(value, operand)
        if isinstance(operand, list):
            return any((in_range(value, v) if isinstance(v, Range) else equal(value, v)) is True for v in operand)
        return equal(value, operand)

    def if_(self, node: If) -> Any:
        return self.evaluate(node.then if self.evaluate(node.condition) is True else node.otherwise)

    def quantified(self, node: Quantified) -> Any:
        for scope in self.iterate([(name, domain, None) for name, domain in node.bindings], node.pos):
            if scope is None:
                return None
            self.scopes.append(scope)
            try:
                satisfied = self.evaluate(node.condition) is True
            finally:
                self.scopes.pop()
            if satisfied and node.kind == "some":
                return True
            if not satisfied and node.kind == "every":
                return False
        return node.kind == "every"

    def for_(self, node: For) -> Any:
        out: list[Any] = []
        for scope in self.iterate(list(node.bindings), node.pos):
            if scope is None:
                return None
            self.scopes.append(scope)
            try:
                out.append(self.evaluate(node.body))
            finally:
                self.scopes.pop()
            if len(out) > MAX_ITEMS:
                self.items(out, node.pos)
        return out

    def iterate(self, bindings: list[tuple[str, Node, Node | None]], pos: int) -> Iterator[dict[str, Any] | None]:
        """Every combination of the bindings' values (later domains may use earlier names), as a
        scope; a single ``None`` when a domain is not a list."""
        if not bindings:
            yield {}
            return
        (name, start, end), rest = bindings[0], bindings[1:]
        domain = self.domain(start, end, pos)
        if domain is None:
            yield None
            return
        for value in domain:
            scope = {name: value}
            self.scopes.append(scope)
            try:
                inner = list(self.iterate(rest, pos)) if rest else [{}]
            finally:
                self.scopes.pop()
            for more in inner:
                if more is None:
                    yield None
                    return
                yield {**scope, **more}

    def domain(self, start: Node, end: Node | None, pos: int) -> list[Any] | None:
        first = self.evaluate(start)
        if end is None:
            return first if isinstance(first, list) else None
        last = self.evaluate(end)
        if not (isinstance(first, Decimal) and isinstance(last, Decimal)
                and first == first.to_integral_value() and last == last.to_integral_value()):
            return None
        a, b = int(first), int(last)
        if abs(b - a) + 1 > MAX_ITEMS:
            raise FeelLimitError(f"a range would have more than {MAX_ITEMS} items", self.text, pos)
        step = 1 if b >= a else -1
        return [Decimal(i) for i in range(a, b + step, step)]

    def list_(self, node: ListLit) -> Any:
        return [self.evaluate(item) for item in node.items]

    def context(self, node: ContextLit) -> Any:
        out: dict[str, Any] = {}
        self.scopes.append(out)  # later entries see earlier ones: {a: 1, b: a + 1}
        try:
            for key, value in node.entries:
                out[key] = self.evaluate(value)
        finally:
            self.scopes.pop()
        return out

    def range_(self, node: RangeLit) -> Any:
        return Range(self.evaluate(node.start), node.start_included, self.evaluate(node.end), node.end_included)


class _BuiltinLimits(_builtins.Limits):
    def __init__(self, evaluator: Evaluator, pos: int):
        self.evaluator = evaluator
        self.pos = pos

    def now(self) -> dt.datetime:
        return self.evaluator.now()

    def items(self, values: list[Any]) -> list[Any]:
        return self.evaluator.items(values, self.pos)

    def text(self, value: str) -> str:
        return self.evaluator.text_(value, self.pos)


def _mentions_item(node: Node) -> bool:
    return any(isinstance(n, Name) and n.name == "item" for n in walk(node))


def _index(values: list[Any], position: Decimal) -> Any:
    """1-based; -1 is the last; out of range (or 0, or not whole) is null."""
    if position != position.to_integral_value():
        return None
    i = int(position)
    if 0 < i <= len(values):
        return values[i - 1]
    if 0 < -i <= len(values):
        return values[i]
    return None


def _deep(value: Any, depth: int) -> Any:
    """Python data as FEEL values, all the way down (deeper than MAX_DATA_DEPTH is null)."""
    if depth > MAX_DATA_DEPTH:
        return None
    value = from_python(value)
    if isinstance(value, list):
        return [_deep(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _deep(v, depth + 1) for k, v in value.items()}
    return value


_PROPERTIES: dict[str, Callable[[Any], Any]] = {
    "year": lambda v: Decimal(v.year) if isinstance(v, dt.date) else None,
    "month": lambda v: Decimal(v.month) if isinstance(v, dt.date) else None,
    "day": lambda v: Decimal(v.day) if isinstance(v, dt.date) else None,
    "weekday": lambda v: Decimal(v.isoweekday()) if isinstance(v, dt.date) else None,
    "hour": lambda v: Decimal(v.hour) if isinstance(v, dt.datetime | dt.time) else None,
    "minute": lambda v: Decimal(v.minute) if isinstance(v, dt.datetime | dt.time) else None,
    "second": lambda v: Decimal(v.second) if isinstance(v, dt.datetime | dt.time) else None,
    "years": lambda v: Decimal(int(v.months / 12)) if isinstance(v, YearsMonths) else None,
    "months": lambda v: Decimal(int(abs(v.months) % 12) * (1 if v.months >= 0 else -1))
    if isinstance(v, YearsMonths) else None,
    "days": lambda v: Decimal(v.days) if isinstance(v, dt.timedelta) else None,
    "hours": lambda v: Decimal(v.seconds // 3600) if isinstance(v, dt.timedelta) else None,
    "minutes": lambda v: Decimal(v.seconds // 60 % 60) if isinstance(v, dt.timedelta) else None,
    "seconds": lambda v: Decimal(v.seconds % 60) if isinstance(v, dt.timedelta) else None,
    "start": lambda v: v.start if isinstance(v, Range) else None,
    "end": lambda v: v.end if isinstance(v, Range) else None,
}


def _property(value: Any, key: str) -> Any:
    getter = _PROPERTIES.get(key)
    return getter(value) if getter else None
