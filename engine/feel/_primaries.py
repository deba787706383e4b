"""The FEEL parser's primaries: numbers, strings, names, calls (one- and multi-word built-ins,
named arguments), parentheses, lists, ranges and contexts; the grammar is in :mod:`._grammar`'s
docstring.
"""

from __future__ import annotations

from ._ast import (
    Call,
    ContextLit,
    ListLit,
    Literal,
    Name,
    Node,
    RangeLit,
)
from ._cursor import Cursor, unexpected
from ._errors import FeelSyntaxError
from ._tokens import KEYWORDS
from ._values import temporal_literal


class Primaries(Cursor):
    def expression(self) -> Node:  # the grammar's entry point, defined by the parser
        raise NotImplementedError

    # -- primaries

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            return Literal(tok.pos, tok.value)
        if tok.kind == "str":
            self.advance()
            return Literal(tok.pos, tok.value)
        if tok.kind == "@":
            self.advance()
            lit = self.advance()
            if lit.kind != "str":
                raise unexpected(self.s, lit, 'a string after @ (@"2024-01-31")')
            value = temporal_literal(lit.value)
            if value is None:
                raise FeelSyntaxError(f"@{lit.value!r} is not a date, time, date and time or duration",
                                      self.s.text, tok.pos)
            return Literal(tok.pos, value)
        if tok.kind == "quoted":
            self.advance()
            return Name(tok.pos, tok.value)
        if tok.kind == "word":
            return self.word_primary()
        if tok.kind == "op":
            if tok.value == "(":
                return self.paren()
            if tok.value == "[":
                return self.bracket()
            if tok.value == "]":
                self.advance()
                self.enter(tok.pos)
                try:
                    start = self.expression()
                    return self.range_rest(tok.pos, False, start)
                finally:
                    self.leave()
            if tok.value == "{":
                return self.context()
        raise unexpected(self.s, tok, "a value, a name or '('")

    def word_primary(self) -> Node:
        tok = self.tok
        word = tok.value
        if word in ("true", "false"):
            self.advance()
            return Literal(tok.pos, word == "true")
        if word == "null":
            self.advance()
            return Literal(tok.pos, None)
        if word in ("if", "some", "every", "for"):
            return self.expression()
        if word == "function":
            raise FeelSyntaxError("function definitions are outside Baton's FEEL subset", self.s.text, tok.pos)
        # A built-in with a name of several words ("upper case", "date and time") before "(".
        best: list[str] | None = None
        for name in self.s.function_names:
            words = name.split(" ")
            if len(words) > 1 and (best is None or len(words) > len(best)) and self._words_then_paren(words):
                best = words
        if best is not None:
            self.s.i += len(best)
            return self.call(tok.pos, " ".join(best))
        if word in KEYWORDS:
            raise unexpected(self.s, tok, "a value, a name or '('")
        self.advance()
        if self.at_op("("):
            return self.call(tok.pos, word)
        if self.tok.kind == "word" and self.tok.value not in KEYWORDS:
            words = [word]
            while self.tok.kind == "word" and self.tok.value not in KEYWORDS:
                words.append(self.advance().value)
            joined = " ".join(words)
            if self.at_op("("):
                return self.call(tok.pos, joined)  # an unknown function: check() names it
            raise FeelSyntaxError(
                f"{joined!r} is several words: a FEEL variable name has no spaces "
                f"(write `{joined}` in backticks if the variable really is named so)", self.s.text, tok.pos)
        return Name(tok.pos, word)

    def _words_then_paren(self, words: list[str]) -> bool:
        for k, w in enumerate(words):
            tok = self.peek(k)
            if tok.kind != "word" or tok.value != w:
                return False
        after = self.peek(len(words))
        return after.kind == "op" and after.value == "("

    def call(self, pos: int, name: str) -> Node:
        open_ = self.expect_op("(")
        self.enter(open_.pos)
        saved, self.s.no_filter = self.s.no_filter, False
        try:
            args: list[Node] = []
            named: list[tuple[str, Node]] = []
            if self.at_op(")"):
                self.advance()
                return Call(pos, name, (), ())
            while True:
                key = self.named_key()
                if key is not None:
                    named.append((key, self.expression()))
                elif named:
                    raise FeelSyntaxError("positional and named arguments cannot be mixed",
                                          self.s.text, self.tok.pos)
                else:
                    args.append(self.expression())
                if self.at_op(","):
                    self.advance()
                    continue
                self.expect_op(")", "',' or ')' in the call")
                return Call(pos, name, tuple(args), tuple(named))
        finally:
            self.s.no_filter = saved
            self.leave()

    def named_key(self) -> str | None:
        """``start position:`` at the start of an argument: the words, consumed with the colon."""
        k = 0
        words = []
        while self.peek(k).kind == "word":
            words.append(self.peek(k).value)
            k += 1
        if not words and self.tok.kind == "quoted" and self.peek(1).kind == "op" and self.peek(1).value == ":":
            self.s.i += 2
            return self.s.tokens[self.s.i - 2].value
        if words and self.peek(k).kind == "op" and self.peek(k).value == ":":
            self.s.i += k + 1
            return " ".join(words)
        return None

    def paren(self) -> Node:
        open_ = self.advance()
        self.enter(open_.pos)
        try:
            inner = self.expression()
            if self.at_op(".."):
                return self.range_rest(open_.pos, False, inner)
            self.expect_op(")", "')'")
            return inner
        finally:
            self.leave()

    def bracket(self) -> Node:
        open_ = self.advance()
        self.enter(open_.pos)
        try:
            if self.at_op("]"):
                self.advance()
                return ListLit(open_.pos, ())
            first = self.expression()
            if self.at_op(".."):
                return self.range_rest(open_.pos, True, first)
            items = [first]
            while self.at_op(","):
                self.advance()
                items.append(self.expression())
            self.expect_op("]", "',' or ']' in the list")
            return ListLit(open_.pos, tuple(items))
        finally:
            self.leave()

    def range_rest(self, pos: int, start_included: bool, start: Node) -> Node:
        self.expect_op("..")
        saved, self.s.no_filter = self.s.no_filter, True
        try:
            end = self.additive()
        finally:
            self.s.no_filter = saved
        close = self.advance()
        if close.kind != "op" or close.value not in ("]", ")", "["):
            raise unexpected(self.s, close, "']', ')' or '[' closing the range")
        return RangeLit(pos, start, start_included, end, close.value == "]")

    def context(self) -> Node:
        open_ = self.advance()
        self.enter(open_.pos)
        try:
            entries: list[tuple[str, Node]] = []
            seen: set[str] = set()
            if self.at_op("}"):
                self.advance()
                return ContextLit(open_.pos, ())
            while True:
                tok = self.tok
                if tok.kind in ("str", "quoted"):
                    self.advance()
                    key = tok.value
                elif tok.kind == "word":
                    words = []
                    while self.tok.kind == "word":
                        words.append(self.advance().value)
                    key = " ".join(words)
                else:
                    raise unexpected(self.s, tok, "a context key (a name or a string)")
                if key in seen:
                    raise FeelSyntaxError(f"the context has the key {key!r} twice", self.s.text, tok.pos)
                seen.add(key)
                self.expect_op(":", "':' after the context key")
                entries.append((key, self.expression()))
                if self.at_op(","):
                    self.advance()
                    continue
                self.expect_op("}", "',' or '}' in the context")
                return ContextLit(open_.pos, tuple(entries))
        finally:
            self.leave()
