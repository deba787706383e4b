"""Expressions simple enough to evaluate in this process, without the sandbox's process hop.

Most expressions in diagrams are a condition (``approved == True``), a loop cardinality (``5``)
or a correlation key (``order_id``). Evaluating them in the sandbox costs a round trip to
another process; evaluating them here is safe when the expression can do nothing but read
plain data and compare it. So :func:`evaluate` takes an expression only when

- it parses (``ast``, mode ``eval``) into at most ``MAX_NODES`` nodes, ``MAX_DEPTH`` deep,
  from ``MAX_SOURCE`` characters, every node one of: a literal (number, string, ``True``,
  ``False``, ``None``), a tuple/list/set of those nodes, a name (not starting with ``_``),
  ``a[key]``, a comparison (``== != < <= > >= in not in``, and ``is``/``is not`` against
  ``None``/``True``/``False`` only), ``and``/``or``/``not``, unary ``-``/``+``;
- and every value it reads is plain JSON data (``dict`` with ``str`` keys, ``list``, ``str``,
  ``int``, ``float``, ``bool``, ``None``), checked up to ``MAX_DATA_NODES`` values.

No call, no attribute, no arithmetic (``'a' * 10**10`` would allocate here), no comprehension:
whatever does not fit returns :data:`UNSUPPORTED` and goes to the sandbox. The answers are the
sandbox's: the same value (containers as JSON gives them back) and the same error messages
(``line 1: NameError: name 'x' is not defined``) as :class:`ScriptError`.
"""

from __future__ import annotations

import ast
import builtins
import json
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from .sandbox_pool import ScriptError

MAX_SOURCE = 1000
MAX_NODES = 64
MAX_DEPTH = 12
MAX_DATA_NODES = 10_000

UNSUPPORTED: Any = type("Unsupported", (), {"__repr__": lambda self: "UNSUPPORTED"})()

_SINGLETONS = (None, True, False)
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
# Names the sandbox would find among its builtins when the data lacks them: those go there.
_SANDBOX_NAMES = frozenset(dir(builtins)) | {"datetime", "date", "timedelta"}


class _Unsupported(Exception):
    """Met at evaluation time (a value that is not plain data): the sandbox decides."""


def _is_literal_singleton(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is s for s in _SINGLETONS)


def _allowed(node: ast.AST, depth: int, count: list[int]) -> bool:
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        return False
    children: list[ast.AST]
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float, str, bool, type(None))
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load) and not node.id.startswith("_")
    if isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            return False
        sides = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                    _is_literal_singleton(sides[i]) or _is_literal_singleton(sides[i + 1])):
                return False  # identity of two data values depends on how they were copied
        children = sides
    elif isinstance(node, ast.BoolOp):
        children = list(node.values)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            return False
        children = [node.operand]
    elif isinstance(node, ast.Subscript):
        if not isinstance(node.ctx, ast.Load) or isinstance(node.slice, ast.Slice):
            return False
        children = [node.value, node.slice]
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        if isinstance(node, ast.Tuple | ast.List) and not isinstance(node.ctx, ast.Load):
            return False
        children = list(node.elts)
    else:
        return False
    return all(_allowed(child, depth + 1, count) for child in children)


@lru_cache(maxsize=2048)
def _parse(source: str) -> ast.expr | None:
    if len(source) > MAX_SOURCE:
        return None
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):
        return None  # the sandbox reports it, with its own wording
    return tree.body if _allowed(tree.body, 0, [0]) else None


def supports(source: str) -> bool:
    """Whether ``source`` has the shape this module evaluates (the data may still send it on)."""
    return _parse(source) is not None


def _check_plain(value: Any, budget: list[int]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise _Unsupported("too much data to check")
        kind = type(item)
        if kind in (str, int, float, bool) or item is None:
            continue
        if kind is list:
            stack.extend(item)
        elif kind is dict:
            if not all(type(k) is str for k in item):
                raise _Unsupported("non-string keys")
            stack.extend(item.values())
        else:
            raise _Unsupported(f"{kind.__name__} value")


class _Evaluator:
    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.budget = [MAX_DATA_NODES]
        self.checked: set[str] = set()

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Compare):
            left = self.value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.value(right_node)
                if not self.apply(node, _COMPARE[type(op)], left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for part in node.values:
                result = self.value(part)
                if (not result) if isinstance(node.op, ast.And) else result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            return self.apply(node, _UNARY[type(node.op)], self.value(node.operand))
        if isinstance(node, ast.Subscript):
            return self.apply(node, operator.getitem, self.value(node.value), self.value(node.slice))
        if isinstance(node, ast.Tuple):
            return tuple(self.value(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Set):
            return self.apply(node, set, [self.value(e) for e in node.elts])
        raise _Unsupported(type(node).__name__)  # _parse let nothing else through

    def name(self, node: ast.Name) -> Any:
        if node.id not in self.data:
            if node.id in _SANDBOX_NAMES:
                raise _Unsupported("a builtin")
            raise ScriptError(f"NameError: name {node.id!r} is not defined", node.lineno)
        found = self.data[node.id]
        if node.id not in self.checked:
            _check_plain(found, self.budget)
            self.checked.add(node.id)
        return found

    @staticmethod
    def apply(node: ast.expr, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except Exception as exc:
            raise ScriptError(f"{type(exc).__name__}: {exc}", node.lineno) from exc


def evaluate(source: str, data: Mapping[str, Any]) -> Any:
    """The value of ``source`` over ``data``, :data:`UNSUPPORTED` (ask the sandbox), or
    :class:`ScriptError` when evaluating it failed as it would have in the sandbox."""
    node = _parse(source)
    if node is None:
        return UNSUPPORTED
    try:
        result = _Evaluator(data).value(node)
    except _Unsupported:
        return UNSUPPORTED
    if isinstance(result, str | int | float | bool) or result is None:
        return result
    return json.loads(json.dumps(result, default=str))  # what the sandbox's JSON reply gives back
