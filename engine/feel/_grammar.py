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

from ._ast import (
    And,
    Arithmetic,
    Between,
    Compare,
    Filter,
    For,
    If,
    In,
    Negate,
    Node,
    Or,
    Path,
    Quantified,
    Test,
    children,
)
from ._cursor import MAX_NESTING, State, unexpected
from ._errors import FeelSyntaxError
from ._primaries import Primaries
from ._tokens import KEYWORDS, tokenize

MAX_DEPTH = 120
__all__ = ["MAX_DEPTH", "MAX_NESTING", "parse_ast"]


def parse_ast(text: str, function_names: frozenset[str]) -> Node:
    """The AST of ``text``; ``function_names`` are the multi-word names a call may use."""
    state = State(text, tokenize(text), function_names)
    if state.tokens[0].kind == "end":
        raise FeelSyntaxError("the expression is empty", text, 0)
    node = _Parser(state).expression()
    tok = state.tokens[state.i]
    if tok.kind != "end":
        raise unexpected(state, tok, "the end of the expression")
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


class _Parser(Primaries):
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
        raise unexpected(self.s, tok, "a name")

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
                    raise unexpected(self.s, tok, "a name after '.'")
                node = Path(dot.pos, node, tok.value)
            elif self.at_op("[") and not self.s.no_filter:
                open_ = self.advance()
                condition = self.expression()
                self.expect_op("]", "']' closing the filter")
                node = Filter(open_.pos, node, condition)
            else:
                return node

