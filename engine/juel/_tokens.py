"""The Unified EL (JUEL) tokens: the scanner :mod:`._grammar`'s parser reads an eval with.

A :class:`Scanner` reads one eval, from just after its ``${``/``#{`` to the closing ``}``
(token kind ``end``); the text around evals is :func:`._grammar.parse_template`'s to read. The
keyword operators (``and``, ``eq``, ``div``...) become their symbol's kind here, so the parser
sees only ``&&``, ``==``, ``/``... Integers beyond a Java long are refused here, as in Java.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import JuelSyntaxError, JuelUnsupported

KEYWORDS = {
    "and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
    "div": "/", "mod": "%", "true": "true", "false": "false", "null": "null", "empty": "empty",
    "instanceof": "instanceof",
}
_TWO_CHAR = ("==", "!=", "<=", ">=", "&&", "||", "+=", "->")
_ONE_CHAR = "+-*/%()[]?:,.<>!="
_MAX_LONG = 2**63 - 1


@dataclass(frozen=True)
class Token:
    kind: str  # "int", "float", "string", "ident", "end" (the closing "}"), "eof", or the symbol itself
    value: Any
    start: int
    end: int

    def describe(self, text: str) -> str:
        return "the end of the text" if self.kind == "eof" else repr(text[self.start:self.end])


def _is_letter(c: str) -> bool:
    return c.isalpha() or c in "_$"


def _is_part(c: str) -> bool:
    return c.isalnum() or c in "_$"


class Scanner:
    """Tokens of one eval, from just after its opener to its closing ``}``."""

    def __init__(self, text: str, position: int):
        self.text = text
        self.pos = position

    def fail(self, message: str, position: int) -> JuelSyntaxError:
        return JuelSyntaxError(message, position, self.text)

    def next(self) -> Token:
        text, n = self.text, len(self.text)
        i = self.pos
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            self.pos = i
            return Token("eof", None, i, i)
        c = text[i]
        two = text[i:i + 2]
        if c == "}":
            token = Token("end", "}", i, i + 1)
        elif c in "'\"":
            token = self._string(i)
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            token = self._number(i)
        elif _is_letter(c):
            j = i + 1
            while j < n and _is_part(text[j]):
                j += 1
            word = text[i:j]
            token = Token(KEYWORDS[word], word, i, j) if word in KEYWORDS else Token("ident", word, i, j)
        elif two in _TWO_CHAR:
            token = Token(two, two, i, i + 2)
        elif c in _ONE_CHAR:
            token = Token(c, c, i, i + 1)
        elif c == ";":
            raise JuelUnsupported("the separator ';' is not supported (Camunda 7 refuses it too): "
                                  "write one expression", i, text)
        elif c == "{":
            raise JuelUnsupported("set and map literals {...} are not supported (Camunda 7 refuses them too)",
                                  i, text)
        else:
            raise self.fail(f"unexpected character {c!r}", i)
        self.pos = token.end
        return token

    def _string(self, i: int) -> Token:
        text, quote = self.text, self.text[i]
        out: list[str] = []
        j = i + 1
        while j < len(text):
            c = text[j]
            if c == "\\":
                if j + 1 >= len(text):
                    break
                escaped = text[j + 1]
                if escaped not in "'\"\\":
                    raise self.fail(f"invalid escape \\{escaped} in a string (write \\', \\\" or \\\\)", j)
                out.append(escaped)
                j += 2
                continue
            if c == quote:
                return Token("string", "".join(out), i, j + 1)
            out.append(c)
            j += 1
        raise self.fail(f"unterminated string: no closing {quote}", i)

    def _number(self, i: int) -> Token:
        text, n = self.text, len(self.text)
        j = i
        while j < n and text[j].isdigit():
            j += 1
        kind = "int"
        if j < n and text[j] == ".":
            j += 1
            while j < n and text[j].isdigit():
                j += 1
            kind = "float"
        if j < n and text[j] in "eE":
            k = j + 1
            if k < n and text[k] in "+-":
                k += 1
            if k < n and text[k].isdigit():
                while k < n and text[k].isdigit():
                    k += 1
                j, kind = k, "float"
        source = text[i:j]
        if kind == "int":
            value: Any = int(source)
            if value > _MAX_LONG:
                raise self.fail(f"integer {source} is too large (at most {_MAX_LONG}, a Java long)", i)
        else:
            value = float(source)
        return Token(kind, value, i, j)
