"""No silent drops: every extension of the four dialects in ``../shared/bpmn`` runs or is refused.

The test walks every extension element and attribute of the Camunda 7, Camunda 8 (Zeebe),
SpiffArena and bpmn.io-metadata namespaces found in the reference corpus. Each must have a
treatment in ``engine/dialects.py`` (a new one fails the test until it is given one); what is
ignored on purpose must be on the documented list (``docs/dialects.md``); and a diagram whose
executable process carries a refused construct is refused at deploy, naming the element.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine import DeploymentError, EndpointMap, Engine, dialects
from tests.conftest import IN_CI, ROOT, SHARED

CORPUS = SHARED / "bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
FILES = sorted(CORPUS.rglob("*.bpmn")) if CORPUS.is_dir() else []

if not FILES:
    if IN_CI:
        pytest.fail(f"the reference corpus {CORPUS} is missing; CI needs it", pytrace=False)
    pytest.skip(f"the reference corpus {CORPUS} is missing", allow_module_level=True)


def _parse(path: Path) -> etree._Element:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)).getroot()


def found_names() -> dict[tuple[str, str], list[str]]:
    """(kind, prefix:local) -> the corpus files it appears in."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in FILES:
        root = _parse(path)
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            name = dialects.qualified(el.tag)
            if name:
                found.setdefault(("element", name), []).append(path.relative_to(CORPUS).as_posix())
            for attr in el.attrib:
                attr_name = dialects.qualified(attr)
                if attr_name:
                    found.setdefault(("attribute", attr_name), []).append(path.relative_to(CORPUS).as_posix())
    return found


FOUND = found_names()


def test_the_corpus_holds_every_dialect():
    prefixes = {name.split(":")[0] for _, name in FOUND}
    assert {"camunda", "zeebe", "spiffworkflow", "modeler", "bioc", "color"} <= prefixes
    assert len(FOUND) > 80


@pytest.mark.parametrize(("kind", "name"), sorted(FOUND))
def test_every_extension_in_the_corpus_runs_or_is_refused_or_ignored_on_purpose(kind, name):
    table = dialects.ELEMENTS if kind == "element" else dialects.ATTRIBUTES
    assert name in table, (f"{kind} {name} (in {FOUND[(kind, name)][:3]}) has no treatment in "
                           "engine/dialects.py: say whether Baton runs it, refuses it, or ignores it "
                           "as drawing/editing metadata")
    treatment = table[name]
    assert treatment.verdict in ("runs", "refused", "checked", "ignored") and treatment.note


def test_what_is_ignored_on_purpose_is_the_documented_short_list():
    doc = (ROOT / "docs" / "dialects.md").read_text(encoding="utf-8")
    ignored = sorted(name for table in (dialects.ELEMENTS, dialects.ATTRIBUTES)
                     for name, t in table.items() if t.verdict == "ignored")
    assert 0 < len(ignored) <= 30
    missing = [name for name in ignored if f"`{name}`" not in doc]
    assert not missing, f"ignored on purpose but not listed in docs/dialects.md: {missing}"


def test_a_name_no_table_knows_is_refused():
    assert dialects.element_treatment("zeebe:somethingNew").verdict == "refused"
    assert "Camunda 8 (Zeebe)" in dialects.element_treatment("zeebe:somethingNew").note
    assert dialects.attribute_treatment("spiffworkflow:newFlag").verdict == "refused"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Settings

    settings = Settings(home=tmp_path_factory.mktemp("dialects"), endpoints=None)
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, endpoints=EndpointMap())
    yield engine
    engine.close()


def _refused_in_executable_processes() -> list[tuple[str, str, str]]:
    """(file, element id, prefix:local) for each refused construct inside an executable process."""
    cases = []
    for path in FILES:
        root = _parse(path)
        for process in root.iterfind(f"{{{BPMN}}}process"):
            if process.get("isExecutable") != "true":
                continue
            for el in process.iter():
                if not isinstance(el.tag, str):
                    continue
                name = dialects.qualified(el.tag)
                if name and dialects.element_treatment(name).verdict == "refused":
                    cases.append((path.relative_to(CORPUS).as_posix(), name, etree.tostring(el)[:60].decode()))
                    break
    return cases


REFUSED_CASES = _refused_in_executable_processes()


def test_the_corpus_has_refused_constructs_to_show():
    assert len(REFUSED_CASES) >= 5


@pytest.mark.parametrize(("name", "construct", "_"), REFUSED_CASES)
def test_a_refused_construct_refuses_its_diagram_naming_it(engine, name, construct, _):
    path = CORPUS / name
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([(path.name, path.read_bytes())])
    reasons = [str(p) for p in caught.value.problems]
    assert any(construct in r for r in reasons), reasons
    assert all(p.element_id for p in caught.value.problems if construct in p.reason)
