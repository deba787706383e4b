"""Hostile XML is refused quickly, clearly and completely: through engine.deploy, the API and the CLI.

Each case is refused in under a second with a reason naming what is wrong, nothing is deployed,
and the web app keeps serving. Entity declarations and oversized files never reach lxml.
"""

from __future__ import annotations

import io
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import DeploymentError, Engine
from engine._bpmn import xmlsafe
from tests.auth_helpers import csrf, login, use_token
from tests.conftest import PROCESSES, baton_cli

HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_SECONDS = 1.0


def diagram(body: bytes = b"", doctype: bytes = b"", head: bytes = HEAD) -> bytes:
    """A diagram that would deploy, with ``body`` inside its process and ``doctype`` before it."""
    return (head + doctype
            + b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
            + b'<bpmn:process id="hostile" isExecutable="true">' + body
            + b'<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
            + b"</bpmn:process></bpmn:definitions>")


def laughs() -> bytes:
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
    return diagram(b"<bpmn:documentation>&lol9;</bpmn:documentation>", b"<!DOCTYPE d [" + entities + b"]>")


def quadratic() -> bytes:
    entity = b'<!DOCTYPE d [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
    return diagram(b"<bpmn:documentation>" + b"&a;" * 10_000 + b"</bpmn:documentation>", entity)


def fifty_megabytes() -> bytes:
    return HEAD + b"<!--" + b"x" * (50 * 1024 * 1024) + b"-->" + diagram(head=b"")


@dataclass(frozen=True)
class Case:
    name: str
    make: object  # () -> bytes
    reason: str  # words the one reason must contain
    reaches_lxml: bool = True

    def data(self) -> bytes:
        return self.make()  # type: ignore[operator]


DOCTYPE = "a DOCTYPE is not accepted"
CASES = [
    Case("external-entity-file.bpmn", lambda: diagram(b"<bpmn:documentation>&x;</bpmn:documentation>",
                                                      b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
         DOCTYPE, reaches_lxml=False),
    Case("external-entity-http.bpmn", lambda: diagram(b"<bpmn:documentation>&x;</bpmn:documentation>",
                                                      b'<!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'),
         DOCTYPE, reaches_lxml=False),
    Case("billion-laughs.bpmn", laughs, DOCTYPE, reaches_lxml=False),
    Case("quadratic-blowup.bpmn", quadratic, DOCTYPE, reaches_lxml=False),
    Case("fifty-megabytes.bpmn", fifty_megabytes, "bytes; the limit is 10485760", reaches_lxml=False),
    Case("deep-nesting.bpmn", lambda: diagram(b"<x>" * 10_000 + b"</x>" * 10_000),
         "nested more than 256 levels deep"),
    Case("invalid-utf8.bpmn", lambda: diagram(b'<bpmn:task id="t" name="caf\xe9 \xff\xfe"/>'),
         "not valid in the document's encoding"),
    Case("not-xml.bpmn", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
         "not an XML document"),
    Case("empty.bpmn", lambda: b"", "file is empty", reaches_lxml=False),
]
IDS = [c.name.removesuffix(".bpmn") for c in CASES]


@pytest.fixture
def engine(settings_factory) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    import migrations

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    engine = Engine(settings)
    yield engine
    engine.close()


@pytest.fixture
def guard_lxml(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``guard_lxml(False)``: fail the test if the document reaches lxml's parser."""

    def arm(reaches: bool) -> None:
        if not reaches:
            def refuse_to_parse() -> None:
                raise AssertionError("this document must be refused before lxml parses it")

            monkeypatch.setattr(xmlsafe, "_parser", refuse_to_parse)

    return arm


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_deploy_refuses(engine, guard_lxml, case: Case):  # type: ignore[no-untyped-def]
    data = case.data()
    guard_lxml(case.reaches_lxml)
    started = time.perf_counter()
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([(case.name, data)])
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"{case.name} took {elapsed:.2f} s"
    [problem] = caught.value.problems
    assert problem.file == case.name and case.reason in problem.reason, problem
    assert engine.list_definitions() == []


@pytest.fixture
def client(engine, monkeypatch):  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.delenv("BATON_API_TOKEN", raising=False)
    client = create_app(engine.settings, engine=engine).test_client()
    use_token(client, "admin")
    return client


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_refuses_and_keeps_serving(client, guard_lxml, case: Case):  # type: ignore[no-untyped-def]
    body = {"files": (io.BytesIO(case.data()), case.name)}
    guard_lxml(case.reaches_lxml)
    started = time.perf_counter()
    response = client.post("/api/v1/deployments", data=body, content_type="multipart/form-data")
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"{case.name} took {elapsed:.2f} s"
    if response.status_code == 413:  # Flask's MAX_CONTENT_LENGTH (4x the XML limit) stopped it first
        assert case.name == "fifty-megabytes.bpmn"
        assert response.mimetype == "application/problem+json"
        assert "larger than" in response.get_json()["detail"]
    else:
        assert response.status_code == 422, response.get_data(as_text=True)[:500]
        assert response.mimetype == "application/problem+json"
        [problem] = response.get_json()["problems"]
        assert problem["file"] == case.name and case.reason in problem["reason"], problem
    assert client.get("/api/v1/health").get_json() == {"ok": True}
    assert client.get("/api/v1/process-definitions").get_json()["items"] == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ui_upload_shows_the_refusal_and_keeps_serving(engine, guard_lxml, monkeypatch, case: Case):  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.delenv("BATON_API_TOKEN", raising=False)
    browser = create_app(engine.settings, engine=engine).test_client()
    login(browser, "admin")
    token = csrf(browser, "/definitions")
    guard_lxml(case.reaches_lxml)
    started = time.perf_counter()
    response = browser.post("/definitions/deploy", data={"files": (io.BytesIO(case.data()), case.name),
                                                          "csrf_token": token}, content_type="multipart/form-data")
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"{case.name} took {elapsed:.2f} s"
    page = response.get_data(as_text=True)
    assert response.status_code in (413, 422) and response.mimetype == "text/html", response.status_code
    assert "Traceback" not in page and ("larger than" in page or case.name in page), page[:500]
    assert browser.get("/definitions").status_code == 200
    assert engine.list_definitions() == []


def test_cli_refuses_every_case(tmp_path: Path):
    env = {"BATON_HOME": str(tmp_path / "home"), "BATON_ENDPOINTS": str(PROCESSES / "endpoints.toml"),
           "BATON_DATABASE_URL": "", "BATON_BROKER_URL": ""}
    assert baton_cli("db", "upgrade", env=env).returncode == 0
    paths = []
    for case in CASES:
        path = tmp_path / case.name
        path.write_bytes(case.data())
        paths.append(path)

    def deploy(path: Path) -> subprocess.CompletedProcess[str] | str:
        try:
            return baton_cli("deploy", str(path), env=env, timeout=60)
        except subprocess.TimeoutExpired:
            return "no answer within 60 s"

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(deploy, paths))
    failures = []
    for case, path, done in zip(CASES, paths, results, strict=True):
        if isinstance(done, str):
            failures.append(f"{case.name}: {done}")
            continue
        lines = done.stderr.splitlines()
        if done.returncode != 1 or "Traceback" in done.stderr or len(lines) != 1 \
                or not lines[0].startswith(f"{path}") or case.reason not in lines[0]:
            failures.append(f"{case.name}: exit {done.returncode}, stdout {done.stdout!r}, "
                            f"stderr {done.stderr[-800:]!r}")
    assert not failures, "\n".join(failures)

    from engine import Settings

    check = Engine(Settings.from_env(env))
    try:
        assert check.list_definitions() == []
    finally:
        check.close()


def test_an_external_entity_or_dtd_never_reaches_the_network(engine):  # type: ignore[no-untyped-def]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    try:
        for doctype in (b'<!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:%d/x">]>' % port,
                        b'<!DOCTYPE d SYSTEM "http://127.0.0.1:%d/d.dtd">' % port,
                        b'<!DOCTYPE d [<!ENTITY %% p SYSTEM "http://127.0.0.1:%d/p"> %%p;]>' % port):
            with pytest.raises(DeploymentError) as caught:
                engine.deploy([("net.bpmn", diagram(b"<bpmn:documentation>&x;</bpmn:documentation>", doctype))])
            assert DOCTYPE in caught.value.problems[0].reason
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_a_doctype_is_refused_whatever_the_encoding(engine):  # type: ignore[no-untyped-def]
    text = diagram(b"<bpmn:documentation>&x;</bpmn:documentation>",
                   b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                   head=b'<?xml version="1.0" encoding="UTF-16"?>\n').decode()
    for data in (text.encode("utf-16"), text.encode("utf-16-le"), b"<!-- a comment -->\n" + text.encode()):
        with pytest.raises(DeploymentError) as caught:
            engine.deploy([("utf16.bpmn", data)])
        assert "DOCTYPE" in caught.value.problems[0].reason


def test_diagrams_in_other_encodings_deploy_and_are_stored_as_text(engine):  # type: ignore[no-untyped-def]
    body = '<bpmn:documentation>Café, naïve</bpmn:documentation>'
    for encoding in ("UTF-16", "ISO-8859-1"):
        head = f'<?xml version="1.0" encoding="{encoding}"?>\n'
        text = diagram(body.encode(), head=head.encode()).decode()
        [result] = engine.deploy([(f"{encoding}.bpmn", text.encode(encoding.lower()))])
        stored = engine.definition_xml("hostile", result.version)
        assert "Café, naïve" in stored and "encoding=" not in stored, stored[:200]


def test_nesting_within_the_limit_is_no_problem(engine):  # type: ignore[no-untyped-def]
    [result] = engine.deploy([("nested.bpmn", diagram(
        b"<bpmn:extensionElements>" + b"<x>" * 200 + b"</x>" * 200 + b"</bpmn:extensionElements>"))])
    assert result.describe() == "deployed hostile v1"
