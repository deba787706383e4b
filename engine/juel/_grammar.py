"""The Unified EL (JUEL) grammar: a recursive-descent parser from tokens
(:mod:`._tokens`) to a tree (:mod:`._ast`).

This follows the Unified Expression Language (JSR-245, now Jakarta Expression Language) as
Camunda 7 reads it with its JUEL fork, for every construct Camunda 7 accepts; what Baton
then evaluates is a subset, decided on this tree by ``_subset.check_subset``. Parsing the
whole language (method calls, functions) rather than only the subset lets a refusal name the
part it refuses (``method call customer.prop("age")``) instead of a bare "unexpected '('".

A template (the text of an attribute or element) is literal text with embedded evaluations::

    template       = [ text ] , { eval , [ text ] } ;      (* every eval of one template opens
                                                              with the same "${" or "#{" *)
    text           = { ? any character ? - ( "${" | "#{" ) | "\\${" | "\\#{" } ;
    eval           = ( "${" | "#{" ) , expression , "}" ;

    expression     = or , [ "?" , expression , ":" , expression ] ;
    or             = and , { ( "||" | "or" ) , and } ;
    and            = equality , { ( "&&" | "and" ) , equality } ;
    equality       = relational , { ( "==" | "eq" | "!=" | "ne" ) , relational } ;
    relational     = additive , { ( "<" | "lt" | ">" | "gt" | "<=" | "le" | ">=" | "ge" ) , additive } ;
    additive       = multiplicative , { ( "+" | "-" ) , multiplicative } ;
    multiplicative = unary , { ( "*" | "/" | "div" | "%" | "mod" ) , unary } ;
    unary          = ( "-" | "!" | "not" | "empty" ) , unary | value ;
    value          = ( literal | nonliteral ) ,
                     { "." , identifier , [ arguments ] | "[" , expression , "]" , [ arguments ] } ;
    nonliteral     = identifier , [ arguments ]                 (* a function call f(...) *)
                   | identifier , ":" , identifier , arguments  (* a function ns:f(...) *)
                   | "(" , expression , ")" ;
    arguments      = "(" , [ expression , { "," , expression } ] , ")" ;
    literal        = "true" | "false" | "null" | integer | float | string ;
    integer        = digit , { digit } ;                         (* a Java long *)
    float          = digit , { digit } , "." , { digit } , [ exponent ]
                   | "." , digit , { digit } , [ exponent ]
                   | digit , { digit } , exponent ;
    exponent       = ( "e" | "E" ) , [ "+" | "-" ] , digit , { digit } ;
    string         = "'" , { ? any character ? - ( "'" | "\\" ) | escape } , "'"
                   | '"' , { ? any character ? - ( '"' | "\\" ) | escape } , '"' ;
    escape         = "\\'" | '\\"' | "\\\\" ;
    identifier     = letter , { letter | digit } - keyword ;    (* letter: a Java letter, "_", "$" *)
    keyword        = "and" | "or" | "not" | "eq" | "ne" | "lt" | "gt" | "le" | "ge" | "true"
                   | "false" | "null" | "empty" | "div" | "mod" | "instanceof" ;

Whitespace separates tokens inside an eval and is kept in text. The precedence, lowest first:
``?:``, ``|| or``, ``&& and``, ``== != eq ne``, ``< > <= >= lt gt le ge``, ``+ -``,
``* / div % mod``, unary ``- ! not empty``, then ``.`` and ``[]``. ``\\${`` in text is a
literal ``${``; any other backslash in text is kept as it is.

Refused here, with the reason, because Camunda 7's JUEL refuses them too (EL 3.0 and later
added them): the assignment ``=``, the concatenation ``+=``, the separator ``;``, lambdas
``->``, collection literals ``[1, 2]`` / ``{...}``, and ``instanceof`` (a reserved word).

Bounds: a template longer than ``MAX_TEXT`` characters, nested more than ``MAX_NESTING`` deep
(parentheses, brackets, arguments, ternaries, unary chains) or making more than ``MAX_NODES``
nodes is refused, so neither parsing nor evaluating can exhaust the stack or loop long.
"""

from __future__ import annotations

from typing import Any

from ._ast import (
    Binary,
    Bracket,
    Call,
    Choice,
    Composite,
    Dot,
    Eval,
    Function,
    Identifier,
    Literal,
    Nested,
    Node,
    Text,
    Unary,
)
from ._errors import JuelError, JuelSyntaxError, JuelUnsupported
from ._tokens import Scanner, Token

MAX_TEXT = 10_000
MAX_NESTING = 32
MAX_NODES = 2_000
MAX_DEPTH = 3 * MAX_NESTING  # of the tree: a left-leaning a+b+c+... chain counts each operator


# --- the parser ----------------------------------------------------------------------------

_EQUALITY = ("==", "!=")
_RELATIONAL = ("<", ">", "<=", ">=")
_ADDITIVE = ("+", "-")
_MULTIPLICATIVE = ("*", "/", "%")
_EXPRESSION_START = "an expression (a name, a literal, '(', '-', '!', 'not' or 'empty')"


class _Parser:
    def __init__(self, text: str, position: int):
        self.text = text
        self.scanner = Scanner(text, position)
        self.token = self.scanner.next()
        self.ahead: list[Token] = []
        self.nesting = 0
        self.nodes = 0
        self.last_end = position  # where the last consumed token ended

    # token handling
    def advance(self) -> Token:
        current = self.token
        self.last_end = current.end
        self.token = self.ahead.pop(0) if self.ahead else self.scanner.next()
        return current

    def peek(self, index: int = 0) -> Token:
        while len(self.ahead) <= index:
            self.ahead.append(self.scanner.next())
        return self.ahead[index]

    def expect(self, kind: str, what: str) -> Token:
        if self.token.kind != kind:
            raise self.unexpected(what)
        return self.advance()

    def unexpected(self, expected: str) -> JuelError:
        token = self._lambda_ahead() or self.token
        if token.kind == "+=":
            return JuelUnsupported("the concatenation operator '+=' is not supported (Camunda 7 refuses it too)",
                                   token.start, self.text)
        if token.kind == "=":
            return JuelUnsupported("the assignment '=' is not supported (Camunda 7 refuses it too); "
                                   "to compare, write '=='", token.start, self.text)
        if token.kind == "->":
            return JuelUnsupported("lambda expressions '->' are not supported (Camunda 7 refuses them too)",
                                   token.start, self.text)
        if token.kind == "instanceof":
            return JuelUnsupported("'instanceof' is not supported", token.start, self.text)
        return JuelSyntaxError(f"found {token.describe(self.text)}, expected {expected}", token.start, self.text)

    def _lambda_ahead(self) -> Token | None:
        """The ``->`` of a lambda later in this eval: ``((x, y) -> x + y)(3, 4)`` fails to parse at
        the ``,`` first, and the lambda is the better reason to give."""
        seen = [self.token, *self.ahead]
        scanner = Scanner(self.text, self.scanner.pos)
        try:
            while seen[-1].kind not in ("end", "eof") and len(seen) < 1000:
                seen.append(scanner.next())
        except JuelError:
            pass
        return next((t for t in seen if t.kind == "->"), None)

    def node(self, cls: type, start: int, *fields: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise JuelUnsupported(f"the expression is too large (more than {MAX_NODES} parts)", start, self.text)
        return cls(start, self.last_end, *fields)

    def enter(self, position: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise JuelUnsupported(f"the expression is nested too deeply (more than {MAX_NESTING} levels)",
                                  position, self.text)

    # grammar
    def eval_body(self) -> Node:
        """``expression "}"``; leaves the scanner just after the ``}``."""
        expression = self.expression()
        if self.token.kind != "end":
            if self.token.kind == "eof":
                raise JuelSyntaxError("unterminated expression: no closing '}'", self.token.start, self.text)
            raise self.unexpected("an operator or '}'")
        return expression

    def expression(self) -> Node:
        start = self.token.start
        self.enter(start)
        condition = self.binary_or()
        if self.token.kind == "?":
            self.advance()
            yes = self.expression()
            self.expect(":", "':' of the conditional a ? b : c")
            no = self.expression()
            condition = self.node(Choice, start, condition, yes, no)
        self.nesting -= 1
        return condition

    def _left_chain(self, operators: tuple[str, ...], operand: Any) -> Node:
        start = self.token.start
        left = operand()
        while self.token.kind in operators:
            operator = self.advance().kind
            right = operand()
            left = self.node(Binary, start, operator, left, right)
        return left

    def binary_or(self) -> Node:
        return self._left_chain(("||",), self.binary_and)

    def binary_and(self) -> Node:
        return self._left_chain(("&&",), self.equality)

    def equality(self) -> Node:
        return self._left_chain(_EQUALITY, self.relational)

    def relational(self) -> Node:
        return self._left_chain(_RELATIONAL, self.additive)

    def additive(self) -> Node:
        return self._left_chain(_ADDITIVE, self.multiplicative)

    def multiplicative(self) -> Node:
        return self._left_chain(_MULTIPLICATIVE, self.unary)

    def unary(self) -> Node:
        token = self.token
        if token.kind in ("-", "!", "empty"):
            self.advance()
            self.enter(token.start)
            operand = self.unary()
            self.nesting -= 1
            return self.node(Unary, token.start, token.kind, operand)
        return self.value()

    def value(self) -> Node:
        start = self.token.start
        base = self.nonliteral()
        if base is None:
            base = self.literal()
        while True:
            if self.token.kind == ".":
                self.advance()
                name = self.expect("ident", "a property name after '.'")
                base = self.node(Dot, start, base, name.value)
            elif self.token.kind == "[":
                self.advance()
                index = self.expression()
                self.expect("]", "']'")
                base = self.node(Bracket, start, base, index)
            else:
                return base
            if self.token.kind == "(":
                arguments = self.arguments()
                base = self.node(Call, start, base, arguments)

    def nonliteral(self) -> Node | None:
        token = self.token
        if token.kind == "ident":
            self.advance()
            name = token.value
            if self.token.kind == ":" and self.peek(0).kind == "ident" and self.peek(1).kind == "(":
                self.advance()
                name += ":" + self.advance().value
            if self.token.kind == "(":
                arguments = self.arguments()
                return self.node(Function, token.start, name, arguments)
            return self.node(Identifier, token.start, name)
        if token.kind == "(":
            self.advance()
            inner = self.expression()  # counts as a level of nesting
            self.expect(")", "')'")
            return self.node(Nested, token.start, inner)
        return None

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(", "'('")
        found: list[Node] = []
        if self.token.kind != ")":
            found.append(self.expression())
            while self.token.kind == ",":
                self.advance()
                found.append(self.expression())
        self.expect(")", "',' or ')'")
        return tuple(found)

    def literal(self) -> Node:
        token = self.token
        values = {"true": True, "false": False, "null": None}
        if token.kind in values:
            value: Any = values[token.kind]
        elif token.kind in ("int", "float", "string"):
            value = token.value
        elif token.kind == "[":
            raise JuelUnsupported("list literals [...] are not supported (Camunda 7 refuses them too)",
                                  token.start, self.text)
        else:
            raise self.unexpected(_EXPRESSION_START)
        self.advance()
        return self.node(Literal, token.start, value)


def parse_template(text: str) -> Node:
    """The tree of a template: a ``Text``, one ``Eval``, or a ``Composite`` of both kinds.

    Raises :class:`JuelSyntaxError` or :class:`JuelUnsupported` with the position of the
    first problem."""
    if len(text) > MAX_TEXT:
        raise JuelUnsupported(f"the text is too long ({len(text)} characters, at most {MAX_TEXT})", MAX_TEXT, text)
    parts: list[Node] = []
    nodes = 0
    opener: str | None = None
    i, n = 0, len(text)
    while i < n:
        literal: list[str] = []
        start = i
        while i < n:
            c = text[i]
            if c == "\\" and text[i + 1:i + 2] in ("$", "#") and text[i + 2:i + 3] == "{":
                literal.append(text[i + 1])
                i += 2
            elif c in "$#" and text[i + 1:i + 2] == "{":
                break
            else:
                literal.append(c)
                i += 1
        if literal:
            parts.append(Text(start, i, "".join(literal)))
        if i >= n:
            break
        if opener is not None and text[i] != opener:
            raise JuelSyntaxError(f"'{text[i]}{{' after '{opener}{{': a text may not mix '${{' and '#{{' "
                                  "evaluations (Camunda 7 refuses it too)", i, text)
        opener = text[i]
        parser = _Parser(text, i + 2)
        parser.nodes = nodes
        expression = parser.eval_body()
        nodes = parser.nodes
        close = parser.token.end
        parts.append(Eval(i, close, expression, opener == "#"))
        i = close
    if not parts:
        return Text(0, 0, "")
    if len(parts) == 1:
        return parts[0]
    return Composite(0, n, tuple(parts))

