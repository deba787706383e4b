"""JUEL, the expression language of Camunda 7 diagrams (``${approved}``), as a safe subset.

Camunda Modeler writes conditions as ``${approved}`` and ``#{amount > 1000}``; Camunda 7
evaluates them with its JUEL fork, in Java, with access to any bean. Baton parses the same
text (``_grammar.py``: the grammar in EBNF) and evaluates a subset of it (``_subset.py``)
over the process variables (``_evaluator.py``; the EL coercions in ``_coercion.py``), without
Python ``eval``, without calls into any object, within bounded input size and nesting::

    >>> from engine import juel
    >>> juel.parse("${amount > 1000 && not vip}").evaluate({"amount": 1500, "vip": False})
    True
    >>> juel.parse("Order ${order.id}: ${order.lines[0].qty * 2} items").evaluate(
    ...     {"order": {"id": "A-1", "lines": [{"qty": 3}]}})
    'Order A-1: 6 items'
    >>> run = juel.Execution(business_key="order-7")
    >>> juel.parse("${execution.setVariable('seen', true)}").evaluate({}, run), run.writes
    (None, {'seen': True})
    >>> print(juel.check('${customer.prop("age").numberValue() >= 21}'))  # doctest: +ELLIPSIS
    method call 'customer.prop("age")' is not supported: Baton evaluates no bean or method calls ...

A template that is one evaluation (``${x}``) gives the value itself (a number, a list...);
text with evaluations in it gives a string. An unknown variable is an error naming it, as in
Camunda 7 ("Unknown property used in expression"). Errors are :class:`JuelError` (see
``_errors.py`` for the tree), with the message and the position in the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._ast import Eval, Node, Text
from ._errors import JuelError, JuelEvaluationError, JuelSyntaxError, JuelUnsupported, UnknownVariable
from ._evaluator import UNAVAILABLE, Evaluator, Execution
from ._grammar import MAX_NESTING, MAX_TEXT, parse_template
from ._subset import check_subset, identifiers

__all__ = [
    "MAX_NESTING", "MAX_TEXT", "UNAVAILABLE", "Execution", "JuelError", "JuelEvaluationError", "JuelSyntaxError",
    "JuelUnsupported", "Template", "UnknownVariable", "check", "evaluate", "is_template", "parse",
]

_OPENER = re.compile(r"(?<!\\)[$#]\{")


@dataclass(frozen=True)
class Template:
    """A parsed JUEL text, checked against Baton's subset; evaluate it as often as needed."""

    text: str
    tree: Node

    @property
    def is_expression(self) -> bool:
        """Whether the text is one ``${...}``/``#{...}`` and nothing else (it gives a value, not text)."""
        return isinstance(self.tree, Eval)

    @property
    def is_literal(self) -> bool:
        """Whether the text has no evaluation at all."""
        return isinstance(self.tree, Text)

    @property
    def variables(self) -> list[str]:
        """The variable names read by name (``execution.getVariable`` reads are not known here)."""
        return identifiers(self.tree)

    def evaluate(self, variables: Mapping[str, Any], execution: Execution | None = None) -> Any:
        """The value over ``variables``; writes by ``execution.setVariable`` land in ``execution.writes``.

        Raises :class:`JuelEvaluationError` (:class:`UnknownVariable` for a missing variable)."""
        return Evaluator(self.text, variables, execution or Execution()).template(self.tree)

    def condition(self, variables: Mapping[str, Any], execution: Execution | None = None) -> bool:
        """The value as a sequence-flow condition: it must be a Boolean, as Camunda 7 requires
        (a String ``'true'``, a number or ``null`` is an error, not a truth value)."""
        value = self.evaluate(variables, execution)
        if not isinstance(value, bool):
            shown = "null" if value is None else f"a {type(value).__name__} ({value!r})"
            raise JuelEvaluationError(f"the condition gave {shown}, not a Boolean", 0, self.text)
        return value


@lru_cache(maxsize=2048)
def parse(text: str) -> Template:
    """The :class:`Template` of ``text``; raises :class:`JuelSyntaxError` when it is not EL and
    :class:`JuelUnsupported` when it is EL outside Baton's subset, each at the first problem."""
    tree = parse_template(text)
    check_subset(tree, text)
    return Template(text, tree)


def check(text: str) -> str | None:
    """Why ``text`` cannot be evaluated (the message names the offending part and its position),
    or ``None`` when it can: what deploy-time checks call."""
    try:
        parse(text)
    except JuelError as exc:
        return str(exc)
    return None


def evaluate(text: str, variables: Mapping[str, Any], execution: Execution | None = None) -> Any:
    """``parse(text).evaluate(variables, execution)``."""
    return parse(text).evaluate(variables, execution)


def is_template(text: str) -> bool:
    """Whether ``text`` holds a JUEL evaluation (an unescaped ``${`` or ``#{``)."""
    return bool(_OPENER.search(text))
