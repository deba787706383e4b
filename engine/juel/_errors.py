"""What can go wrong with a JUEL text, one type per thing a caller acts on differently::

    JuelError                 .message, .position (0-based offset in .expression), .expression
    ├── JuelSyntaxError       the text is not EL: an unterminated string, a stray character
    ├── JuelUnsupported       EL, but outside the subset Baton evaluates (a bean or method call,
    │                         a function, a lambda, '=', '+=', ';', too large or too deep)
    └── JuelEvaluationError   evaluating it over these variables failed (a coercion, 1 % 0)
        └── UnknownVariable   an identifier names no variable (.name); Camunda 7's
                              "Unknown property used in expression"

The first two are deploy-time refusals (``check``); the last two happen at run time and become
an incident on the task.
"""

from __future__ import annotations


class JuelError(Exception):
    """A problem with a JUEL text at a position (0-based) in it."""

    def __init__(self, message: str, position: int, expression: str):
        super().__init__(message, position, expression)
        self.message = message
        self.position = position
        self.expression = expression

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position} of {_quote(self.expression)})"


class JuelSyntaxError(JuelError):
    pass


class JuelUnsupported(JuelError):
    pass


class JuelEvaluationError(JuelError):
    pass


class UnknownVariable(JuelEvaluationError):
    def __init__(self, name: str, position: int, expression: str):
        super().__init__(f"Unknown property used in expression: cannot resolve identifier {name!r} "
                         "(no variable of that name)", position, expression)
        self.name = name


def _quote(expression: str, limit: int = 120) -> str:
    shown = expression if len(expression) <= limit else expression[:limit - 3] + "..."
    return repr(shown)
