"""The Unified EL (JUEL) tree: what :mod:`._grammar` builds, :mod:`._subset` checks and
:mod:`._evaluator` evaluates.

Every node keeps its offsets in the template's text, so a refusal or an error can quote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Node:
    start: int  # offsets in the template's text: text[start:end] is this node's source
    end: int


@dataclass(frozen=True)
class Text(Node):
    value: str


@dataclass(frozen=True)
class Eval(Node):
    expression: Node
    deferred: bool  # "#{" rather than "${" (Camunda evaluates both the same way)


@dataclass(frozen=True)
class Composite(Node):
    parts: tuple[Node, ...]  # Text and Eval nodes, in order


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # None, bool, int, float or str


@dataclass(frozen=True)
class Identifier(Node):
    name: str


@dataclass(frozen=True)
class Dot(Node):
    base: Node
    name: str


@dataclass(frozen=True)
class Bracket(Node):
    base: Node
    index: Node


@dataclass(frozen=True)
class Call(Node):
    target: Node  # a Dot or Bracket: the method and what it is called on
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Function(Node):
    name: str  # "f" or "ns:f"
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    operator: str  # "-", "!", "empty"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    operator: str  # the symbol form: "==", "&&", "/", ... (keywords are mapped to it)
    left: Node
    right: Node


@dataclass(frozen=True)
class Choice(Node):
    condition: Node
    yes: Node
    no: Node


@dataclass(frozen=True)
class Nested(Node):
    expression: Node  # "(expression)": kept so a refusal can quote the parentheses

def depth(node: Node) -> int:
    """How deep the tree under ``node`` is (iteratively: the tree may be the thing too deep)."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Composite):
        return node.parts
    if isinstance(node, Eval | Nested):
        return (node.expression,)
    if isinstance(node, Dot):
        return (node.base,)
    if isinstance(node, Bracket):
        return (node.base, node.index)
    if isinstance(node, Call):
        return (node.target, *node.arguments)
    if isinstance(node, Function):
        return node.arguments
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Choice):
        return (node.condition, node.yes, node.no)
    return ()

