"""Text shown on a task page: Markdown with ``{{ variable }}`` placeholders, rendered safely.

SpiffArena's ``instructionsForEndUser`` and Camunda Forms' text components are Markdown in which
``{{ name }}`` (Jinja in SpiffArena, templating in Camunda Forms) stands for a variable of the
task. The placeholders are filled by Jinja's *sandboxed* environment (no attribute of a Python
object beyond data, no calls into Python), then the Markdown is turned into HTML with raw HTML
switched off, so whatever a variable holds (``<script>``...) is shown as text, never run. A
template that cannot be rendered shows the error instead of the text, never a server error.
"""

from __future__ import annotations

from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import escape

# a missing variable shows as nothing, as in SpiffArena's Jinja
_JINJA = ImmutableSandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)
# "commonmark" with html=False: raw HTML in the text or in a variable is escaped, links are checked
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
MAX_TEXT = 20_000


def render(text: str, data: dict[str, Any]) -> str:
    """``text`` (Markdown with Jinja placeholders) filled from ``data``, as safe HTML."""
    try:
        filled = _JINJA.from_string(text[:MAX_TEXT]).render(**{k: v for k, v in data.items() if k.isidentifier()})
    except TemplateError as exc:
        return f'<p class="template-error">These instructions could not be filled in: {escape(str(exc))}</p>'
    return _MARKDOWN.render(filled)


def check(text: str) -> str | None:
    """Why ``text`` is not a template Baton can fill (at deploy), or None."""
    try:
        _JINJA.parse(text[:MAX_TEXT])
    except TemplateError as exc:
        return str(exc)
    return None
