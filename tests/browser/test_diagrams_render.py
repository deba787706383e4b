"""Every MIWG reference diagram (real editors' exports) renders in the viewer with no JS error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED

MIWG = SHARED / "bpmn" / "miwg"
DIAGRAMS = sorted(MIWG.rglob("*.bpmn")) if MIWG.is_dir() else []


def test_every_miwg_diagram_renders_without_a_javascript_error(page, live):
    if not DIAGRAMS:
        pytest.skip(f"no diagrams under {MIWG}")
    page.goto("/render")
    page.wait_for_selector("body[data-ready]")
    failures, warned = [], set()
    for path in DIAGRAMS:
        before = len(live.console_errors)
        xml = path.read_text(encoding="utf-8", errors="replace")
        result = page.evaluate("xml => window.batonRender(xml)", xml)
        drawn = page.evaluate("document.querySelectorAll('#render .djs-shape').length")
        errors = live.console_errors[before:]
        # Some exports are an empty process on an empty plane: nothing to draw is right there.
        if not result["ok"] or errors or (drawn == 0 and "BPMNShape" in xml):
            failures.append(f"{_name(path)}: {result.get('error') or ''} {errors} ({drawn} elements drawn)")
        if result.get("warnings"):
            warned.add(_name(path))
    assert failures == [], "\n".join(failures)
    assert len(DIAGRAMS) > 100  # the whole suite was there, not a stray folder
    # A file bpmn-js cannot fully draw says so (flows without a sourceRef in this export).
    broken = "SAP_Signavio_Process_Manager_19.9.0/B.2.0-roundtrip.bpmn"
    assert broken in warned or not (MIWG / broken).exists()


def _name(path: Path) -> str:
    return str(path.relative_to(MIWG))
