"""The FEEL subset's grammar: a recursive-descent parser from tokens (:mod:`._tokens`) to an
AST (:mod:`._ast`).

The grammar, in EBNF (``{x}`` repeats, ``[x]`` is optional, ``|`` chooses; lower binds looser)::

    expression    = if | quantified | for | disjunction ;
    if            = "if" expression "then" expression "else" expression ;
    quantified    = ("some" | "every") name "in" expression {"," name "in" expression}
                    "satisfies" expression ;
    for           = "for" name "in" domain {"," name "in" domain} "return" expression ;
    domain        = expression [".." expression] ;            (* for i in 1..3 *)
    disjunction   = conjunction {"or" conjunction} ;
    conjunction   = comparison {"and" comparison} ;
    comparison    = additive [ ("=" | "!=" | "<" | "<=" | ">" | ">=") additive
                             | "between" additive "and" additive
                             | "in" tests ] ;
    tests         = "(" test {"," test} ")" | test ;          (* x in (1, 2), x in < 5 *)
    test          = ("<" | "<=" | ">" | ">=") additive | expression ;
    additive      = multiplicative {("+" | "-") multiplicative} ;
    multiplicative= power {("*" | "/") power} ;
    power         = unary {"**" unary} ;                      (* left-associative, as DMN *)
    unary         = "-" unary | postfix ;                     (* -2 ** 2 is 4, as DMN *)
    postfix       = primary {"." key | "[" expression "]"} ;
    primary       = number | string | "true" | "false" | "null" | "@" string
                  | call | name
                  | "(" expression ")" | range | list | context
                  | if | quantified | for ;
    call          = function-name "(" [arguments] ")" ;
    arguments     = expression {"," expression}
                  | key ":" expression {"," key ":" expression} ;
    range         = ("[" | "(" | "]") expression ".." expression ("]" | ")" | "[") ;
    list          = "[" [expression {"," expression}] "]" ;
    context       = "{" [key ":" expression {"," key ":" expression}] "}" ;
    key           = word {word} | string | `backticked` ;
    name          = word | `backticked` ;                     (* one word: FEEL variable names
                                                                 have no whitespace *)
    function-name = word {word} ;                             (* "upper case", "date and time" *)
    number        = digit {digit} ["." digit {digit}] | "." digit {digit} ;
    string        = '"' {char | escape} '"' ;                 (* \\" \\\\ \\n \\r \\t \\' \\uXXXX \\U00XXXXXX *)
    word          = (letter | "_" | "?" | "$") {letter | digit | "_" | "?" | "$"} ;

Comments (``// ...`` and ``/* ... */``) and whitespace separate tokens. The words ``if then else
for in return some every satisfies and or between instance of function true false null`` are
keywords: not names, but they may appear inside a built-in's name (``date and time``,
``get or else``). A multi-word function name is taken only when its words name a known built-in
and ``(`` follows; otherwise two words in a row are a syntax error that suggests backticks.

Limits, so a hostile text cannot exhaust the parser: at most :data:`._tokens.MAX_TEXT`
characters, :data:`MAX_NESTING` nested brackets or sub-expressions, and an AST at most
:data:`MAX_DEPTH` deep (a chain ``1 + 1 + ... + 1`` counts one level per operator: the evaluator recurses over it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._ast import (
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    ContextLit,
    Filter,
    For,
    If,
    In,
    ListLit,
    Literal,
    Name,
    Negate,
    Node,
    Or,
    Path,
    Quantified,
    RangeLit,
    Test,
    children,
)
from ._errors import FeelSyntaxError
from ._tokens import KEYWORDS, Token, tokenize
from ._values import temporal_literal

MAX_NESTING = 40
MAX_DEPTH = 120


@dataclass
class _State:
    text: str
    tokens: list[Token]
    function_names: frozenset[str]
    i: int = 0
    nesting: int = 0
    no_filter: bool = False  # parsing a range's end, where "[" closes the range
    depth: dict[int, int] = field(default_factory=dict)


def parse_ast(text: str, function_names: frozenset[str]) -> Node:
    """The AST of ``text``; ``function_names`` are the multi-word names a call may use."""
    state = _State(text, tokenize(text), function_names)
    if state.tokens[0].kind == "end":
        raise FeelSyntaxError("the expression is empty", text, 0)
    node = _Parser(state).expression()
    tok = state.tokens[state.i]
    if tok.kind != "end":
        raise _unexpected(state, tok, "the end of the expression")
    if _depth(node) > MAX_DEPTH:
        raise FeelSyntaxError(f"the expression nests deeper than {MAX_DEPTH} operations", text, 0)
    return node


def _depth(root: Node) -> int:
    # Iterative (post-order), so a deep chain cannot overflow Python's stack here.
    deepest = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in children(node))
    return deepest


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


def _unexpected(state: _State, tok: Token, wanted: str) -> FeelSyntaxError:
    return FeelSyntaxError(f"expected {wanted}, found {_describe(tok)}", state.text, tok.pos)


class _Parser:
    def __init__(self, state: _State):
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
            raise _unexpected(self.s, self.tok, wanted or repr(op))
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise _unexpected(self.s, self.tok, repr(word))
        return self.advance()

    def enter(self, pos: int) -> None:
        self.s.nesting += 1
        if self.s.nesting > MAX_NESTING:
            raise FeelSyntaxError(f"the expression nests deeper than {MAX_NESTING} levels", self.s.text, pos)

    def leave(self) -> None:
        self.s.nesting -= 1

    # -- expressions

    def expression(self) -> Node:
        self.enter(self.tok.pos)
        saved, self.s.no_filter = self.s.no_filter, False
        try:
            if self.at_word("if"):
                return self.if_()
            if self.at_word("some", "every") and self._binding_follows():
                return self.quantified()
            if self.at_word("for") and self._binding_follows():
                return self.for_()
            return self.disjunction()
        finally:
            self.s.no_filter = saved
            self.leave()

    def _binding_follows(self) -> bool:
        nxt, after = self.peek(), self.peek(2)
        return nxt.kind in ("word", "quoted") and after.kind == "word" and after.value == "in"

    def if_(self) -> Node:
        start = self.advance().pos
        condition = self.expression()
        self.expect_word("then")
        then = self.expression()
        self.expect_word("else")
        return If(start, condition, then, self.expression())

    def binding_name(self) -> str:
        tok = self.advance()
        if tok.kind == "quoted" or (tok.kind == "word" and tok.value not in KEYWORDS):
            return tok.value
        raise _unexpected(self.s, tok, "a name")

    def quantified(self) -> Node:
        start = self.advance()
        bindings = []
        while True:
            name = self.binding_name()
            self.expect_word("in")
            bindings.append((name, self.expression()))
            if not self.at_op(","):
                break
            self.advance()
        self.expect_word("satisfies")
        return Quantified(start.pos, start.value, tuple(bindings), self.expression())

    def for_(self) -> Node:
        start = self.advance().pos
        bindings: list[tuple[str, Node, Node | None]] = []
        while True:
            name = self.binding_name()
            self.expect_word("in")
            domain = self.expression()
            end = None
            if self.at_op(".."):
                self.advance()
                end = self.expression()
            bindings.append((name, domain, end))
            if not self.at_op(","):
                break
            self.advance()
        self.expect_word("return")
        return For(start, tuple(bindings), self.expression())

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.at_word("or"):
            pos = self.advance().pos
            node = Or(pos, node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.comparison()
        while self.at_word("and"):
            pos = self.advance().pos
            node = And(pos, node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        tok = self.tok
        if self.at_op("=", "!=", "<", "<=", ">", ">="):
            self.advance()
            return Compare(tok.pos, tok.value, node, self.additive())
        if self.at_word("between"):
            self.advance()
            low = self.additive()
            self.expect_word("and")
            return Between(tok.pos, node, low, self.additive())
        if self.at_word("in"):
            self.advance()
            return In(tok.pos, node, self.tests())
        if self.at_word("instance"):
            raise FeelSyntaxError("'instance of' is outside Baton's FEEL subset", self.s.text, tok.pos)
        return node

    def tests(self) -> tuple[Test, ...]:
        if not self.at_op("("):
            return (self.test(),)
        open_ = self.advance()
        self.enter(open_.pos)
        try:
            first = self.test()
            if self.at_op("..") and first.op is None:  # x in (1..10): a range open at its start
                return (Test(open_.pos, None, self.range_rest(open_.pos, False, first.operand)),)
            tests = [first]
            while self.at_op(","):
                self.advance()
                tests.append(self.test())
            self.expect_op(")", "',' or ')'")
            return tuple(tests)
        finally:
            self.leave()

    def test(self) -> Test:
        tok = self.tok
        if self.at_op("<", "<=", ">", ">="):
            self.advance()
            return Test(tok.pos, tok.value, self.additive())
        return Test(tok.pos, None, self.expression())

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at_op("+", "-"):
            tok = self.advance()
            node = Arithmetic(tok.pos, tok.value, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while self.at_op("*", "/"):
            tok = self.advance()
            node = Arithmetic(tok.pos, tok.value, node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        while self.at_op("**"):
            tok = self.advance()
            node = Arithmetic(tok.pos, "**", node, self.unary())
        return node

    def unary(self) -> Node:
        minuses: list[int] = []
        while self.at_op("-"):
            minuses.append(self.advance().pos)
        node = self.postfix()
        for pos in reversed(minuses):
            node = Negate(pos, node)
        return node

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at_op("."):
                dot = self.advance()
                tok = self.advance()
                if tok.kind not in ("word", "quoted"):
                    raise _unexpected(self.s, tok, "a name after '.'")
                node = Path(dot.pos, node, tok.value)
            elif self.at_op("[") and not self.s.no_filter:
                open_ = self.advance()
                condition = self.expression()
                self.expect_op("]", "']' closing the filter")
                node = Filter(open_.pos, node, condition)
            else:
                return node

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
                raise _unexpected(self.s, lit, 'a string after @ (@"2024-01-31")')
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
        raise _unexpected(self.s, tok, "a value, a name or '('")

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
            raise _unexpected(self.s, tok, "a value, a name or '('")
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
            raise _unexpected(self.s, close, "']', ')' or '[' closing the range")
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
                    raise _unexpected(self.s, tok, "a context key (a name or a string)")
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
