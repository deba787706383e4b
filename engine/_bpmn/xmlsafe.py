"""The one way Baton reads XML: lxml with entities, DTDs and the network off, and limits.

SpiffWorkflow's own ``add_bpmn_file``/``add_bpmn_str`` parse with lxml's defaults, so Baton never
calls them: it parses here and hands the tree to ``add_bpmn_xml``.

A diagram never needs a DOCTYPE, so one is refused before lxml reads the document: entity tricks
(external entities reading ``/etc/passwd`` or a URL, "billion laughs", quadratic blow-up) then
never reach the parser, and the user reads why instead of a libxml2 message. The size limit is
checked before parsing too, and libxml2's own limits (nesting depth, text node size, entity
amplification) stay on (``huge_tree=False``) as a second line.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from ..errors import Problem

# libxml2 refuses deeper documents unless XML_PARSE_HUGE (``huge_tree``) is set; a BPMN diagram
# nests a few dozen levels at most.
MAX_DEPTH = 256

# What may come before the root element: the XML declaration, comments, processing instructions.
_PROLOG_DOCTYPE = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL)
_HEAD_CHARS = 65536
_XML_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*\?>")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# libxml2 messages a user cannot act on, and what they mean
_LIBXML_MESSAGES = (
    ("Excessive depth in document", f"elements are nested more than {MAX_DEPTH} levels deep"),
    ("amplification factor", "entity expansion is not accepted"),
    ("Detected an entity reference loop", "entity expansion is not accepted"),
    ("huge text node", "a text or attribute value is larger than libxml2's 10 MB limit"),
    ("Text node too long", "a text or attribute value is larger than libxml2's 10 MB limit"),
    ("Buffer size limit exceeded", "a text or attribute value is larger than libxml2's 10 MB limit"),
    ("Start tag expected", "not an XML document: it does not start with an XML element"),
    ("Document is empty", "not an XML document: it does not start with an XML element"),
    ("Invalid bytes in character encoding", "the bytes are not valid in the document's encoding (UTF-8 unless "
                                            "the XML declaration names another)"),
)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _head_text(data: bytes, limit: int) -> str:
    """The start of ``data`` as text, good enough to look at markup before the root element."""
    head = data[:limit]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, "ignore")
    if head[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a byte order mark
        return head.decode("utf-16-le" if head[0] else "utf-16-be", "ignore")
    return head.decode("latin-1")  # every ASCII-compatible encoding spells markup the same way


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    message = exc.msg or str(exc)
    for needle, reason in _LIBXML_MESSAGES:
        if needle in message:
            return reason
    return f"not well-formed XML: {message.strip()}"


def parse_document(data: bytes, file_name: str, max_bytes: int) -> tuple[etree._Element | None, Problem | None]:
    """Parse ``data``; return the root element, or the problem that refused it."""
    if len(data) > max_bytes:
        return None, Problem(file_name, None, None, f"file is {len(data)} bytes; the limit is {max_bytes}")
    head = _head_text(data, _HEAD_CHARS)
    if len(data) <= _HEAD_CHARS and not head.strip("\x00 \t\r\n\ufeff"):
        return None, Problem(file_name, None, None, "file is empty")
    if _PROLOG_DOCTYPE.match(head):
        return None, Problem(file_name, 1, None, "a DOCTYPE is not accepted: a BPMN diagram needs no DTD, and DTD "
                                                 "entities can read local files or URLs, or expand without bound")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        return None, Problem(file_name, line, None, _syntax_reason(exc))
    except (ValueError, LookupError) as exc:  # e.g. an encoding Python or libxml2 does not know
        return None, Problem(file_name, None, None, f"not readable XML: {exc}")
    if root is None:
        return None, Problem(file_name, None, None, "no XML root element")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        return None, Problem(file_name, 1, None, "a DOCTYPE is not accepted: a BPMN diagram needs no DTD")
    for node in root.iter(etree.Entity):
        return None, Problem(file_name, node.sourceline, None, "XML entity references are not accepted")
    return root, None


def document_text(data: bytes, root: etree._Element) -> str:
    """The document as text, decoded with its own encoding, as it is stored and served.

    A document in another encoding than UTF-8 loses its XML declaration: the text is stored and
    served as Unicode, and a declaration naming, say, UTF-16 would then be a lie.
    """
    encoding = root.getroottree().docinfo.encoding or "utf-8"
    try:
        text = data.decode(encoding).lstrip("\ufeff")
        utf8_compatible = codecs.lookup(encoding).name in ("utf-8", "ascii")
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")
    if not utf8_compatible:
        text = _XML_DECLARATION.sub("", text, count=1).lstrip()
    return text
