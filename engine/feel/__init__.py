"""Baton's FEEL subset: the expression language of Camunda 8 diagrams (``=amount > 100``).

No Python FEEL library was good enough (issue 11), so this is Baton's own: a tokenizer
(:mod:`._tokens`), a recursive-descent parser (:mod:`engine.feel._grammar`, whose docstring is
the grammar in EBNF) to an AST (:mod:`._ast`), an evaluator over it (:mod:`._evaluate`,
operators in :mod:`._ops`, built-ins in :mod:`._builtins`). Nothing here runs Python code
from the expression: there is no ``eval`` or ``exec``; an expression can only read the variables
it is given.

Use::

    from engine import feel

    expr = feel.check("some item in order.items satisfies item.price > 100")  # at deploy
    feel.truthy(expr.evaluate({"order": {"items": [{"price": 120}]}}))       # True

- :func:`parse` (``text`` without Zeebe's leading ``=``) gives an :class:`Expression`;
  :meth:`Expression.evaluate` takes a ``dict`` of variables (Python data: ``dict``, ``list``,
  ``str``, ``int``, ``float``, ``bool``, ``None``, ``datetime``/``date``/``time``/``timedelta``)
  and answers Python data (:func:`to_python`).
- :func:`check` is :func:`parse` plus what deploy needs: every function called is a built-in of
  the subset and takes the arguments given. It raises :class:`FeelUnsupported` naming the part.
- :func:`truthy` is how a condition reads a result: only ``true`` is true (null is false).
- :func:`feel_text` tells a Zeebe expression (``=...``) from plain text.

Values. Numbers are :class:`~decimal.Decimal` inside, 34 significant digits (feel-scala's
decimal128), so ``0.1 + 0.2 = 0.3`` is true. :meth:`Expression.evaluate` returns a whole number
as ``int`` and any other as ``float``, as Zeebe stores FEEL numbers (msgpack long or double);
temporal values come back as ``datetime`` objects (:func:`to_json` writes them as FEEL strings).
A years-and-months duration is a :class:`YearsMonths`, a days-and-time one a ``timedelta``.

Null semantics, as feel-scala documents them: a missing variable or context entry is null; a
comparison with null is null (``x = null`` is the null check, true or false); arithmetic with
null is null; a type mismatch (``"a" + 1``, ``1 < "2"``, ``true = 1``) is null, not an error; a
function given arguments it cannot take is null; ``and``/``or`` are three-valued (``false and
null`` is false, ``true and null`` null); ``if`` takes the ``else`` branch on null; a filter keeps
the items whose condition is true; a null condition is false (:func:`truthy`).

Deliberate differences from feel-scala (Camunda 8.5+):

- **Unknown functions** are refused by :func:`check` (deploy), naming the function, where
  feel-scala answers null with a warning. Evaluated anyway, they are null, as in feel-scala.
- **Not in the subset** (a syntax error or :class:`FeelUnsupported`): function definitions,
  ``instance of``, the ``?`` of unary tests, regular-expression functions (``matches``,
  ``replace``, ``split``: Python's ``re`` can backtrack for ever on a hostile pattern), functions
  taking functions (``sort``), context functions (``get value``, ``put``, ``context merge``), the
  ``partial`` of ``for``, and the built-ins not listed in :mod:`._builtins` (``fromAi``,
  ``bpmnError`` are Camunda connector functions).
- **Bounds**: a list built or iterated may have at most 100,000 items, an evaluation at most
  250,000 steps (a second or two), a string 1,000,000 characters, the text 20,000 characters
  and 40 nested levels. Past them, :class:`FeelLimitError` (feel-scala has none: it would run).
- **Names with spaces** are a syntax error that suggests backticks (`` `my var` ``): feel-scala
  does not allow whitespace in variable names either, but only built-in function names may have
  several words here (``upper case``, ``date and time``); context keys and named arguments may.
- ``now()`` is a date and time in UTC (feel-scala uses the engine's zone; Zeebe's clock is UTC);
  ``today()`` is the UTC date.
- ``string(number)`` writes plain notation without trailing zeros (``string(1.50)`` is ``"1.5"``);
  ``string(null)`` is null, as the DMN specification says.
- ``substring`` with a length past the end answers what there is; a start of 0 or beyond the
  string is null.
- Strings compare with ``<``/``>`` (as the DMN specification says; feel-scala does too, though its
  documentation lists only numbers and temporal values).
- ``date + duration("PT1H")``: a date plus a days-and-time duration is a date (the time of day is
  dropped). A duration mixing years or months with days or times (``P1Y2D``) is null.
- A filter ``list[e]`` is an index when ``e``, evaluated outside the items, is a number and does
  not mention ``item``; otherwise it filters. ``some``/``every``/``for`` over something that is
  not a list is null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._ast import Call, Node, walk
from ._builtins import BUILTINS, FUNCTION_NAMES
from ._errors import FeelError, FeelLimitError, FeelSyntaxError, FeelUnsupported
from ._evaluate import MAX_ITEMS, MAX_STEPS, Evaluator
from ._grammar import MAX_DEPTH, MAX_NESTING, parse_ast
from ._tokens import MAX_TEXT
from ._values import YearsMonths, to_json, to_python

__all__ = [
    "MAX_DEPTH", "MAX_ITEMS", "MAX_NESTING", "MAX_STEPS", "MAX_TEXT", "Expression", "FeelError",
    "FeelLimitError", "FeelSyntaxError", "FeelUnsupported", "YearsMonths", "check", "evaluate",
    "feel_text", "function_names", "parse", "to_json", "to_python", "truthy",
]


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed FEEL expression: its text and AST. Immutable, so one may be shared and cached."""

    text: str
    tree: Node

    def evaluate(self, context: Mapping[str, Any] | None = None, *, now: dt.datetime | None = None) -> Any:
        """The value of the expression over ``context`` (variables), as Python data.

        Never raises for bad data (that is null); raises :class:`FeelLimitError` past a bound.
        ``now`` fixes what ``now()`` and ``today()`` answer (tests; one instant per evaluation).
        """
        return to_python(Evaluator(self.text, context or {}, now).evaluate(self.tree))

    def problems(self) -> list[FeelUnsupported]:
        """What :func:`check` refuses in this expression: calls outside the subset."""
        found = []
        for node in walk(self.tree):
            if not isinstance(node, Call):
                continue
            builtin = BUILTINS.get(node.name)
            if builtin is None:
                found.append(FeelUnsupported(
                    f"the function {node.name}() is not in Baton's FEEL subset", self.text, node.pos))
            elif not builtin.fits(len(node.args), [k for k, _ in node.named]):
                wanted = " or ".join("(" + ", ".join(p) + ")" for p in builtin.overloads)
                given = (f"{len(node.args)} argument(s)" if not node.named
                         else "arguments named " + ", ".join(k for k, _ in node.named))
                found.append(FeelUnsupported(
                    f"{node.name}() takes {wanted}, not {given}", self.text, node.pos))
        found.sort(key=lambda e: e.position)
        return found


@lru_cache(maxsize=1024)
def parse(text: str) -> Expression:
    """Parse ``text`` (no leading ``=``); :class:`FeelSyntaxError` with the position if it is not
    an expression of the subset's grammar."""
    if not isinstance(text, str):
        raise TypeError("a FEEL expression is a str")
    return Expression(text, parse_ast(text, FUNCTION_NAMES))


def check(text: str) -> Expression:
    """:func:`parse`, and refuse (:class:`FeelUnsupported`, the first problem) what the subset
    cannot run. Deploy calls this, naming the element around the message."""
    expression = parse(text)
    problems = expression.problems()
    if problems:
        raise problems[0]
    return expression


def evaluate(text: str, context: Mapping[str, Any] | None = None, *, now: dt.datetime | None = None) -> Any:
    """``parse(text).evaluate(context)``."""
    return parse(text).evaluate(context, now=now)


def truthy(value: Any) -> bool:
    """A condition's reading of a value: only ``true`` is true; null and anything else are false."""
    return value is True


def feel_text(expression: str | None) -> str | None:
    """The FEEL text of a Zeebe expression (``"= a > 1"`` gives ``"a > 1"``); ``None`` if the
    text does not start with ``=`` (after whitespace) and so is not FEEL."""
    if not isinstance(expression, str):
        return None
    stripped = expression.strip()
    return stripped[1:].strip() if stripped.startswith("=") else None


def function_names() -> list[str]:
    """The built-in functions of the subset, sorted."""
    return sorted(FUNCTION_NAMES)
