"""What the FEEL subset raises. Evaluation itself never raises for bad data: FEEL answers null.

    FeelError                 (a ValueError) the expression, the position, a message
    ├── FeelSyntaxError       not an expression of the subset's grammar (parse)
    ├── FeelUnsupported       parses, but calls something outside the subset (check, at deploy)
    └── FeelLimitError        evaluation went past a bound (items, steps, text size): a hostile
                              or runaway expression, stopped rather than answered
"""

from __future__ import annotations


class FeelError(ValueError):
    """A FEEL expression Baton cannot take, with where in its text (``position``, 0-based)."""

    def __init__(self, message: str, text: str, position: int):
        self.message = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        before = text[:self.position]
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"line {self.line}, column {self.column}" if "\n" in self.text else f"column {self.column}"
        rest = self.text[self.position:].split("\n", 1)[0]
        if not rest.strip():
            return f"{self.message} (at {where}, the end)"
        shown = rest if len(rest) <= 24 else rest[:24] + "..."
        return f"{self.message} (at {where}: {shown!r})"


class FeelSyntaxError(FeelError):
    """The text is not an expression of Baton's FEEL subset."""


class FeelUnsupported(FeelError):
    """The expression parses but uses something outside the subset (an unknown function...)."""


class FeelLimitError(FeelError):
    """Evaluation passed a bound: too many items, steps, or too long a string."""
