"""The bundled diagrams' labels wrap between words, never inside one ("Approve d"): the words of
the lines bpmn-js draws are exactly the words of the element's name."""

from __future__ import annotations

from lxml import etree

from tests.conftest import PROCESSES

LINES = """() => Array.from(document.querySelectorAll('#render .djs-element')).map((el) => ({
  id: el.dataset.elementId.replace(/_label$/, ''),
  lines: Array.from(el.querySelectorAll('text tspan')).map((t) => t.textContent),
})).filter((e) => e.lines.length)"""


def _names(path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    tree = etree.parse(str(path))
    return {el.get("id"): el.get("name") for el in tree.iter() if el.get("id") and el.get("name")}


def test_no_label_of_a_bundled_diagram_breaks_inside_a_word(page, live):
    page.goto("/render")
    page.wait_for_selector("body[data-ready]")
    broken, checked = [], 0
    for path in sorted(PROCESSES.glob("*.bpmn")):
        names = _names(path)
        result = page.evaluate("xml => window.batonRender(xml)", path.read_text(encoding="utf-8"))
        assert result["ok"], (path.name, result)
        for label in page.evaluate(LINES):
            name = names.get(label["id"])
            if name is None:
                continue
            checked += 1
            drawn = " ".join(label["lines"]).split()
            if drawn != name.split():
                broken.append(f"{path.name} {label['id']}: {name!r} drawn as {label['lines']}")
    assert checked > 30
    assert broken == []
