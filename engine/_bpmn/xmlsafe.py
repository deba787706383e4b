"""The one way Baton reads XML: lxml with entities, DTDs and the network off, and a size limit.

SpiffWorkflow's own ``add_bpmn_file``/``add_bpmn_str`` parse with lxml's defaults, so Baton never
calls them: it parses here and hands the tree to ``add_bpmn_xml``.
"""

from __future__ import annotations

from lxml import etree

from ..errors import Problem


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


def parse_document(data: bytes, file_name: str, max_bytes: int) -> tuple[etree._Element | None, Problem | None]:
    """Parse ``data``; return the root element, or the problem that refused it."""
    if len(data) > max_bytes:
        return None, Problem(file_name, None, None, f"file is {len(data)} bytes; the limit is {max_bytes}")
    if not data.strip():
        return None, Problem(file_name, None, None, "file is empty")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        return None, Problem(file_name, line, None, f"not well-formed XML: {exc.msg}")
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        return None, Problem(file_name, None, None, f"not readable XML: {exc}")
    if root is None:
        return None, Problem(file_name, None, None, "no XML root element")
    for node in root.iter(etree.Entity):
        return None, Problem(file_name, node.sourceline, None, "XML entity references are not accepted")
    if root.getroottree().docinfo.internalDTD is not None:
        return None, Problem(file_name, 1, None, "a DOCTYPE with an internal DTD is not accepted")
    return root, None
