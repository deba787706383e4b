"""The FEEL parser's cursor over the tokens: where it is, what it expects, how deep it is.

:mod:`._grammar` (the expressions) and :mod:`._primaries` (literals, names, calls, brackets) read
the tokens through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._errors import FeelSyntaxError
from ._tokens import Token

MAX_NESTING = 40


@dataclass
class State:
    text: str
    tokens: list[Token]
    function_names: frozenset[str]
    i: int = 0
    nesting: int = 0
    no_filter: bool = False  # parsing a range's end, where "[" closes the range
    depth: dict[int, int] = field(default_factory=dict)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the expression"
    if tok.kind == "str":
        return "a string"
    if tok.kind == "num":
        return f"the number {tok.value}"
    if tok.kind == "quoted":
        return f"`{tok.value}`"
    return repr(tok.value)


def unexpected(state: State, tok: Token, wanted: str) -> FeelSyntaxError:
    return FeelSyntaxError(f"expected {wanted}, found {_describe(tok)}", state.text, tok.pos)


class Cursor:
    def __init__(self, state: State):
        self.s = state

    # -- token helpers

    @property
    def tok(self) -> Token:
        return self.s.tokens[self.s.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.s.tokens[min(self.s.i + ahead, len(self.s.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tok
        if tok.kind != "end":
            self.s.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.value in words

    def expect_op(self, op: str, wanted: str | None = None) -> Token:
        if not self.at_op(op):
            raise unexpected(self.s, self.tok, wanted or repr(op))
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise unexpected(self.s, self.tok, repr(word))
        return self.advance()

    def enter(self, pos: int) -> None:
        self.s.nesting += 1
        if self.s.nesting > MAX_NESTING:
            raise FeelSyntaxError(f"the expression nests deeper than {MAX_NESTING} levels", self.s.text, pos)

    def leave(self) -> None:
        self.s.nesting -= 1
