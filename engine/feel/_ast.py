"""The FEEL subset's AST: what :mod:`._grammar` builds and :mod:`._evaluate` walks.

Each node keeps where it starts in the text (``pos``), for messages. Nodes are frozen, so a
parsed expression may be shared and cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Path(Node):
    target: Node
    key: str


@dataclass(frozen=True, slots=True)
class Filter(Node):
    target: Node
    condition: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    named: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    op: str  # + - * / **
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # = != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class And(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Between(Node):
    value: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class Test(Node):
    op: str | None  # < <= > >=, or None: equal to, inside a range, or a member of a list
    operand: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    value: Node
    tests: tuple[Test, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Quantified(Node):
    kind: str  # "some" | "every"
    bindings: tuple[tuple[str, Node], ...]
    condition: Node


@dataclass(frozen=True, slots=True)
class For(Node):
    bindings: tuple[tuple[str, Node, Node | None], ...]  # name, domain (or range start), range end
    body: Node


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ContextLit(Node):
    entries: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class RangeLit(Node):
    start: Node
    start_included: bool
    end: Node
    end_included: bool


def children(node: Node) -> Iterator[Node]:
    """The direct sub-expressions of ``node``."""
    match node:
        case Path(target=t) | Negate(operand=t):
            yield t
        case Filter(target=t, condition=c):
            yield t
            yield c
        case Call(args=args, named=named):
            yield from args
            yield from (v for _, v in named)
        case Arithmetic(left=a, right=b) | Compare(left=a, right=b) | And(left=a, right=b) | Or(left=a, right=b):
            yield a
            yield b
        case Between(value=v, low=lo, high=hi):
            yield from (v, lo, hi)
        case Test(operand=o):
            yield o
        case In(value=v, tests=tests):
            yield v
            yield from tests
        case If(condition=c, then=t, otherwise=o):
            yield from (c, t, o)
        case Quantified(bindings=b, condition=c):
            yield from (d for _, d in b)
            yield c
        case For(bindings=b, body=body):
            for _, start, end in b:
                yield start
                if end is not None:
                    yield end
            yield body
        case ListLit(items=items):
            yield from items
        case ContextLit(entries=entries):
            yield from (v for _, v in entries)
        case RangeLit(start=s, end=e):
            yield s
            yield e


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(children(current))
