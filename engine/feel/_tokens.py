"""The FEEL subset's tokens: a hand-written tokenizer, the first half of :mod:`._grammar`.

Comments (``// ...`` and ``/* ... */``) and whitespace separate tokens; the token kinds are
listed on :class:`Token`. A text longer than :data:`MAX_TEXT` characters is refused before any
work, so a hostile text cannot make the tokenizer (or the parser after it) do much.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._errors import FeelSyntaxError

MAX_TEXT = 20_000

KEYWORDS = frozenset({
    "if", "then", "else", "for", "in", "return", "some", "every", "satisfies", "and", "or",
    "between", "instance", "of", "function", "true", "false", "null",
})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str      # "num", "str", "word", "quoted" (a `backticked` name), "op", "@", "end"
    value: Any
    pos: int
    end: int


_OPERATORS = ("**", "..", "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]",
              "{", "}", ",", ".", ":")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'", "/": "/", "b": "\b", "f": "\f"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def _word_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_?$"


def _word_part(ch: str) -> bool:
    return ch.isalnum() or ch in "_?$"


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; a :class:`FeelSyntaxError` on junk."""
    if len(text) > MAX_TEXT:
        raise FeelSyntaxError(f"the expression is longer than {MAX_TEXT} characters", text, MAX_TEXT)
    return list(_tokens(text))


def _tokens(text: str) -> Iterator[Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise FeelSyntaxError("a comment /* is never closed", text, i)
            i = j + 2
        elif ch == '"':
            value, j = _string(text, i)
            yield Token("str", value, i, j)
            i = j
        elif ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise FeelSyntaxError("a `name` is never closed", text, i)
            if j == i + 1:
                raise FeelSyntaxError("an empty `` name", text, i)
            yield Token("quoted", text[i + 1:j], i, j + 1)
            i = j + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()
                              and not text.startswith("..", i - 1)):
            m = _NUMBER.match(text, i)
            assert m is not None
            yield Token("num", Decimal(m.group()), i, m.end())
            i = m.end()
        elif _word_start(ch):
            j = i + 1
            while j < n and _word_part(text[j]):
                j += 1
            yield Token("word", text[i:j], i, j)
            i = j
        elif ch == "@":
            yield Token("@", "@", i, i + 1)
            i += 1
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    yield Token("op", op, i, i + len(op))
                    i += len(op)
                    break
            else:
                raise FeelSyntaxError(f"unexpected character {ch!r}", text, i)
    yield Token("end", None, n, n)


def _string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= n:
                break
            esc = text[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
                continue
            width = {"u": 4, "U": 6}.get(esc)
            digits = text[i + 2:i + 2 + width] if width else ""
            if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF:
                    out.append(chr(code))
                    i += 2 + width
                    continue
            raise FeelSyntaxError(f"unknown escape \\{esc} in a string", text, i)
        out.append(ch)
        i += 1
    raise FeelSyntaxError("a string is never closed (a \" is missing)", text, start)
