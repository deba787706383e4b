"""The in-process evaluator answers exactly as the sandbox would, and sends on what it cannot
evaluate safely. Each row: expression, data, expected value (or the error it raises)."""

from __future__ import annotations

from typing import Any

import pytest

from engine._bpmn import sandbox
from engine._bpmn.expressions import UNSUPPORTED, evaluate, supports
from engine._bpmn.sandbox_pool import ScriptError


class Fails:
    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"Fails({self.message!r})"


DATA: dict[str, Any] = {
    "approved": True, "amount": 42, "price": 9.5, "name": "Ada", "nothing": None, "zero": 0,
    "order": {"id": "o-1", "lines": [{"sku": "a", "qty": 2}], "tags": ["rush"]},
    "items": [1, 2, 3], "status": "open",
}

EVALUATED = [
    ("5", {}, 5),
    ("-1", {}, -1),
    ("2.5", {}, 2.5),
    ("'text'", {}, "text"),
    ("True", {}, True),
    ("None", {}, None),
    ("approved == True", DATA, True),
    ("approved", DATA, True),
    ("not approved", DATA, False),
    ("amount > 10", DATA, True),
    ("amount >= 42 and price < 10", DATA, True),
    ("0 < amount < 100", DATA, True),
    ("0 < amount < 10", DATA, False),
    ("amount != 42 or name == 'Ada'", DATA, True),
    ("zero or name", DATA, "Ada"),
    ("zero and name", DATA, 0),
    ("nothing is None", DATA, True),
    ("nothing is not None", DATA, False),
    ("approved is True", DATA, True),
    ("status in ('open', 'held')", DATA, True),
    ("status not in ['open']", DATA, False),
    ("'rush' in order['tags']", DATA, True),
    ("'id' in order", DATA, True),
    ("order['id']", DATA, "o-1"),
    ("order['lines'][0]['qty'] == 2", DATA, True),
    ("items[-1]", DATA, 3),
    ("items", DATA, [1, 2, 3]),
    ("order['lines']", DATA, [{"sku": "a", "qty": 2}]),
    ("(1, 'a')", {}, [1, "a"]),  # a tuple comes back from JSON as a list
    ("-amount", DATA, -42),
    ("'Ad' in name", DATA, True),
    ("{'a', 'b'} == {'b', 'a'}", {}, True),
    ("missing", DATA, Fails("line 1: NameError: name 'missing' is not defined")),
    ("missing == 1", {}, Fails("line 1: NameError: name 'missing' is not defined")),
    ("order['nope']", DATA, Fails("line 1: KeyError: 'nope'")),
    ("items[7]", DATA, Fails("line 1: IndexError: list index out of range")),
    ("name < 3", DATA, Fails("line 1: TypeError: '<' not supported between instances of 'str' and 'int'")),
    ("-name", DATA, Fails("line 1: TypeError: bad operand type for unary -: 'str'")),
    ("amount['x']", DATA, Fails("line 1: TypeError: 'int' object is not subscriptable")),
    ("items in {1}", DATA, Fails("line 1: TypeError: unhashable type: 'list'")),
    ("1 in amount", DATA, Fails("line 1: TypeError: argument of type 'int' is not iterable")),
]

SENT_ON = [
    "len(items) > 0",                         # a call
    "name.upper() == 'ADA'",                  # an attribute
    "amount * 2 > 10",                        # arithmetic ('a' * 10**10 would allocate here)
    "[x for x in items]",                     # a comprehension
    "items[0:2]",                             # a slice
    "amount if approved else 0",              # a conditional expression
    "lambda: 0",
    "_secret == 1",                           # underscore names: the sandbox refuses them
    "().__class__",
    "amount is 42",                           # identity of data values depends on copies
    "{'a': 1}",
    "b'bytes'",
    "1j",
    " approved",                              # does not parse here: the sandbox says why
    "approved ==",
    " and ".join(["approved"] * 100),         # too many nodes
    "(" * 20 + "1" + ")" * 20 + " == " + "[" * 20 + "1" + "]" * 20,  # too deep
]


@pytest.mark.parametrize(("expression", "data", "expected"), EVALUATED, ids=[row[0] for row in EVALUATED])
def test_evaluated_in_process(expression: str, data: dict[str, Any], expected: Any) -> None:
    assert supports(expression)
    if isinstance(expected, Fails):
        with pytest.raises(ScriptError) as caught:
            evaluate(expression, data)
        assert str(caught.value) == expected.message
    else:
        assert evaluate(expression, data) == expected


@pytest.mark.parametrize("expression", SENT_ON)
def test_sent_on_to_the_sandbox(expression: str) -> None:
    assert evaluate(expression, DATA) is UNSUPPORTED


@pytest.mark.parametrize(("expression", "data"), [
    ("when == 1", {"when": (1, 2)}),                   # a tuple: not what JSON would carry
    ("when == 1", {"when": {1: "a"}}),                 # a non-string key
    ("when == 1", {"when": object()}),
    ("x in big", {"x": 1, "big": list(range(20_000))}),  # too much data to check here
    ("len == 1", {}),                                  # a builtin name the data lacks
    ("datetime == 1", {}),
])
def test_data_that_is_not_plain_is_sent_on(expression: str, data: dict[str, Any]) -> None:
    assert supports(expression)
    assert evaluate(expression, data) is UNSUPPORTED


@pytest.mark.parametrize(("expression", "data", "expected"), EVALUATED, ids=[row[0] for row in EVALUATED])
def test_the_sandbox_answers_the_same(expression: str, data: dict[str, Any], expected: Any) -> None:
    pool = sandbox.shared_sandbox()
    if isinstance(expected, Fails):
        with pytest.raises(ScriptError) as caught:
            pool.run("eval", expression, data)
        assert str(caught.value) == expected.message
    else:
        assert pool.run("eval", expression, data) == expected
