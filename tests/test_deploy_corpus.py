"""Every reference diagram either deploys or is refused with reasons a user can act on.

The corpus is ``../shared/bpmn``: the BPMN MIWG test suite (reference models and the exports of
bpmn.io/Camunda Modeler, SAP Signavio and the Camunda Eclipse plugin) and Camunda 7's examples.
Each file is deployed on its own, three ways: ``engine.deploy`` in-process (timed: under 2 s),
the REST API (Flask test client) and the ``baton deploy`` command: every file through click in
this process, and a sample (``BATON_TEST_CLI_ALL=1``: every file) through a ``baton`` subprocess,
whose 0.7 s start-up per file would otherwise make this the slowest test of the suite. Each file's
outcome is in the failure message; a summary table is written to ``artifacts/deploy-corpus.txt``.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from engine import DeploymentError, Engine, Problem
from engine import juel as engine_juel
from tests.auth_helpers import use_token
from tests.conftest import IN_CI, PROCESSES, ROOT, SHARED, baton_cli

CORPUS = SHARED / "bpmn"
MIWG = CORPUS / "miwg"
CAMUNDA = CORPUS / "camunda"
FILES = (sorted(p for p in MIWG.rglob("*") if p.is_file())
         + sorted(p for p in CAMUNDA.iterdir() if p.suffix in (".bpmn", ".dmn"))) if CORPUS.is_dir() else []
ARTIFACT = ROOT / "artifacts" / "deploy-corpus.txt"
MAX_SECONDS = 2.0

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
# Diagrams Baton can run as they are: refusing one of them is a regression.
RUNNABLE = {
    "miwg/bpmn.io_Camunda_Modeler_18.6.1/A.4.0-export.bpmn",
    "miwg/bpmn.io_Camunda_Modeler_18.6.1/A.4.1-export.bpmn",
    "camunda/clients__java__order-handling__order-handling.bpmn",  # Quartz cron cycle, JUEL conditional event
    "camunda/dmn-engine__dmn-engine-drgorg__camunda__bpm__example__drg__dinnerDecisions.dmn",  # a DMN file alone
    "camunda/multi-tenancy__schema-isolationprocesses__tenant1__tenant1_process.bpmn",
    "camunda/multi-tenancy__tenant-identifier-shared-definitionsprocesses__tenant2__subProcess.bpmn",
    "camunda/process-engine-plugin__bpmn-parse-listenerbpmnParseListenerOnUserTask.bpmn",
    "camunda/testing__junit5__camunda-bpm-junit-asserttestProcess.bpmn",
}
# (camunda/servicetask__rest-serviceinvokeRestService.bpmn is refused since engine/dialects.py: its
# http-connector sends an Accept header and computes isHoliday with a JavaScript resource, which
# Baton dropped silently before.)
# (The task-camunda-forms and task-form-embedded examples are refused since engine/forms/_camunda7.py: their
# camunda:formKey "camunda-forms:app:..." / "embedded:app:..." names a form served by their Java web
# application, which Baton dropped silently before.)
# Every Camunda 7 example is deployed or refused only for Java (delegates, beans, listeners, a Java web
# application's forms) or a script language Baton does not run:
CAMUNDA_REASONS = ("needs a Java runtime", "bean or method calls", "Java/JUEL hook", "Baton runs Python scripts only",
                   "a Java web application Baton does not run", "which Baton cannot run")
# Reasons that mean Baton fell back on a library message instead of explaining
LIBRARY_LEAKS = ("Traceback", "cannot be read", "<Element", " object at 0x", "XML_PARSE_HUGE", "KeyError")

if not FILES:
    if IN_CI:
        pytest.fail(f"the reference corpus {CORPUS} is missing; CI needs it", pytrace=False)
    pytest.skip(f"the reference corpus {CORPUS} is missing", allow_module_level=True)


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


@dataclass
class Outcome:
    """What one way of deploying one file did."""

    deployed: list[str] = field(default_factory=list)  # "deployed KEY vN" / "unchanged KEY vN"
    problems: list[str] = field(default_factory=list)  # "file:line: element: reason"
    seconds: float = 0.0
    note: str = ""

    @property
    def verdict(self) -> str:
        return "deployed" if self.deployed else "refused"


REPORT: dict[str, dict[str, Outcome]] = {}


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    """Writes the table of what each way of deploying did with each file, after the tests."""
    yield
    if not REPORT:
        return
    ARTIFACT.parent.mkdir(exist_ok=True)
    lines = ["Deploying every file of ../shared/bpmn (miwg/, camunda/) on its own", ""]
    ways = ["engine", "api", "cli", "subprocess"]
    lines.append(f"{'file':<100} {'engine':<9} {'api':<9} {'cli':<9} {'process':<9} {'seconds':>7}  "
                 "first reason / result (seconds: engine.deploy)")
    for name in sorted(REPORT):
        outcomes = REPORT[name]
        engine_outcome = outcomes.get("engine")
        first = ""
        if engine_outcome is not None:
            first = "; ".join(engine_outcome.deployed) if engine_outcome.deployed else (
                _reason(engine_outcome.problems[0]) if engine_outcome.problems else engine_outcome.note)
        verdicts = [outcomes[w].verdict if w in outcomes else "-" for w in ways]
        seconds = f"{engine_outcome.seconds:.3f}" if engine_outcome else "-"
        lines.append(f"{name:<100} {verdicts[0]:<9} {verdicts[1]:<9} {verdicts[2]:<9} {verdicts[3]:<9} {seconds:>7}  "
                     f"{first}")
    for folder in ("miwg/Reference", "miwg/bpmn.io_Camunda_Modeler_18.6.1", "miwg/SAP_Signavio_Process_Manager_19.9.0",
                   "miwg/Camunda_Eclipse_Plugin_3.0.0", "camunda"):
        outcomes = [o["engine"] for n, o in REPORT.items() if n.startswith(folder + "/") and "engine" in o]
        deployed = sum(1 for o in outcomes if o.deployed)
        lines.insert(1, f"  {folder}: {deployed} deployed, {len(outcomes) - deployed} refused")
    lines += ["", "Every reason, per file (engine.deploy):", ""]
    for name in sorted(REPORT):
        outcome = REPORT[name].get("engine")
        if outcome is None:
            continue
        lines.append(f"{name}: {outcome.verdict} in {outcome.seconds:.3f} s")
        lines += [f"    {line}" for line in outcome.deployed + outcome.problems]
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _reason(problem_line: str) -> str:
    return problem_line.split(": ", 2)[-1]


def record(name: str, way: str, outcome: Outcome) -> None:
    REPORT.setdefault(name, {})[way] = outcome


@pytest.fixture(scope="module")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Settings

    settings = Settings(home=tmp_path_factory.mktemp("corpus"), endpoints=PROCESSES / "endpoints.toml")
    migrations.upgrade(settings.database_url)
    return settings


@pytest.fixture(scope="module")
def engine_outcomes(corpus_settings) -> dict[str, tuple[Outcome, list[Problem]]]:  # type: ignore[no-untyped-def]
    """Every file through ``engine.deploy``, one at a time, timed."""
    engine = Engine(corpus_settings)
    results: dict[str, tuple[Outcome, list[Problem]]] = {}
    try:
        for path in FILES:
            name = rel(path)
            data = path.read_bytes()
            started = time.perf_counter()
            outcome, problems = Outcome(), []
            try:
                outcome.deployed = [r.describe() for r in engine.deploy([(name, data)])]
            except DeploymentError as exc:
                problems = exc.problems
                outcome.problems = [str(p) for p in problems]
            except Exception as exc:  # recorded, then reported by the test
                outcome.note = f"CRASHED {type(exc).__name__}: {exc}"
            outcome.seconds = time.perf_counter() - started
            results[name] = (outcome, problems)
            record(name, "engine", outcome)
    finally:
        engine.close()
    return results


def executable_processes(path: Path) -> list[etree._Element]:
    root = etree.parse(str(path)).getroot()
    return [p for p in root.iterfind(f"{{{BPMN}}}process") if p.get("isExecutable") == "true"]


def test_every_file_deploys_or_is_refused_with_reasons_in_under_2s(engine_outcomes):  # type: ignore[no-untyped-def]
    failures: list[str] = []
    for name, (outcome, problems) in engine_outcomes.items():
        if outcome.note:
            failures.append(f"{name}: {outcome.note}")
            continue
        if outcome.seconds >= MAX_SECONDS:
            failures.append(f"{name}: took {outcome.seconds:.2f} s")
        if bool(outcome.deployed) == bool(problems):
            failures.append(f"{name}: neither deployed nor refused ({outcome})")
        for problem in problems:
            if problem.file != name:
                failures.append(f"{name}: a problem names another file: {problem}")
            if not problem.reason.strip() or any(leak in problem.reason for leak in LIBRARY_LEAKS):
                failures.append(f"{name}: a reason a user cannot act on: {problem}")
            if not problem.element_id:
                failures.append(f"{name}: a refusal names no element: {problem}")
    assert not failures, "\n".join(failures)


def test_diagrams_baton_can_run_are_deployed(engine_outcomes):  # type: ignore[no-untyped-def]
    refused = {name: outcome.problems for name in RUNNABLE for outcome, _ in [engine_outcomes[name]]
               if not outcome.deployed}
    assert not refused, "\n".join(f"{name}: {problems}" for name, problems in refused.items())


def test_files_without_an_executable_process_are_refused_saying_so(engine_outcomes):  # type: ignore[no-untyped-def]
    failures = []
    for path in FILES:
        if path.suffix != ".bpmn" or executable_processes(path):
            continue
        outcome, problems = engine_outcomes[rel(path)]
        if len(problems) != 1 or "no executable process" not in problems[0].reason \
                or 'isExecutable="true"' not in problems[0].reason:
            failures.append(f"{rel(path)}: {outcome.deployed or outcome.problems}")
    assert not failures, "\n".join(failures)


def _owner(el: etree._Element) -> str | None:
    """The id of the element a modeller shows around ``el`` (a task, an event, a flow)."""
    inner = {"conditionExpression", "extensionElements", "script", "timeDuration", "timeDate", "timeCycle",
             "multiInstanceLoopCharacteristics", "loopCardinality", "completionCondition"}
    node: etree._Element | None = el
    while node is not None:
        if etree.QName(node).namespace == BPMN and node.get("id"):
            local = etree.QName(node).localname
            if local not in inner and not local.endswith("EventDefinition"):
                return node.get("id")
        node = node.getparent()
    return None


# Where Baton evaluates JUEL (issue 10): these are refused only when the expression is outside the subset.
JUEL_TEXTS = {"loopCardinality", "completionCondition", "timeDuration", "timeDate", "timeCycle"}
JUEL_CONDITIONS = {("conditionExpression", "sequenceFlow"), ("condition", "conditionalEventDefinition")}
JUEL_ATTRIBUTES = {"assignee", "candidateUsers", "candidateGroups"}


def expected_camunda_refusals(path: Path) -> list[tuple[str, str]]:
    """(element id, words the reason must contain) for each construct Baton cannot run."""
    expected: list[tuple[str, str]] = []
    for process in executable_processes(path):
        for el in process.iter():
            if not isinstance(el.tag, str):
                continue
            ns, local = etree.QName(el).namespace, etree.QName(el).localname
            for attr in ("class", "delegateExpression", "expression"):
                if ns == BPMN and el.get(f"{{{CAMUNDA_NS}}}{attr}") is not None:
                    expected.append((el.get("id"), f"camunda:{attr}"))
            if ns == CAMUNDA_NS and local in ("executionListener", "taskListener"):
                expected.append((_owner(el), f"camunda:{local}"))
            if ns == BPMN and local == "scriptTask" and (el.get("scriptFormat") or "").lower() not in ("", "python"):
                expected.append((el.get("id"), f"script format '{el.get('scriptFormat').lower()}'"))
            inside_java = any(etree.QName(a).localname in ("executionListener", "taskListener", "field")
                              for a in el.iterancestors())
            juel = [(k, v) for k, v in el.attrib.items() if ("${" in v or "#{" in v)
                    and etree.QName(k).localname not in ("class", "delegateExpression", "expression")]
            parent = etree.QName(el.getparent()).localname if el.getparent() is not None else ""
            evaluated_text = (ns == BPMN and (local in JUEL_TEXTS or (local, parent) in JUEL_CONDITIONS)) or (
                ns == CAMUNDA_NS and local in ("inputParameter", "outputParameter", "value", "entry"))
            text = el.text or ""
            if evaluated_text and ("${" in text or "#{" in text) and engine_juel.check(text.strip()) is not None:
                expected.append((_owner(el), "JUEL expression"))  # a place Baton evaluates, outside the subset
            elif not inside_java and not evaluated_text and ("${" in text or "#{" in text):
                expected.append((_owner(el), "JUEL expression"))
            juel = [(k, v) for k, v in juel
                    if (etree.QName(k).localname == "collection" and not re.fullmatch(r"\s*[$#]\{\s*\w+\s*\}\s*", v))
                    or (etree.QName(k).localname not in JUEL_ATTRIBUTES | {"collection"})
                    or (etree.QName(k).localname in JUEL_ATTRIBUTES and engine_juel.check(v.strip()) is not None)]
            if not inside_java and juel:
                expected.append((_owner(el), "JUEL expression" if etree.QName(juel[0][0]).localname != "collection"
                                 else "camunda:collection"))
    return expected


def test_camunda_constructs_baton_cannot_run_are_refused_naming_element_and_construct(engine_outcomes):  # type: ignore[no-untyped-def]
    failures = []
    checked = 0
    for path in FILES:
        if path.parent != CAMUNDA or path.suffix != ".bpmn":
            continue
        outcome, problems = engine_outcomes[rel(path)]
        for element_id, words in expected_camunda_refusals(path):
            checked += 1
            if not any(p.element_id == element_id and words in p.reason for p in problems):
                failures.append(f"{rel(path)}: expected a refusal of {element_id} mentioning {words!r}; "
                                f"got {outcome.deployed or outcome.problems}")
    assert checked > 20  # the corpus does hold Java delegates, JUEL, scripts and listeners
    assert not failures, "\n".join(failures)


def test_a_dmn_file_alone_deploys_its_decisions(engine_outcomes):  # type: ignore[no-untyped-def]
    dmn = [rel(p) for p in FILES if p.suffix == ".dmn"]
    assert dmn
    for name in dmn:  # as Camunda 7 deploys one (tests/test_camunda7_lone_decisions.py runs a diagram with it)
        outcome, problems = engine_outcomes[name]
        assert not problems and all(d.startswith("deployed decision ") for d in outcome.deployed), outcome


@pytest.fixture
def api_client(corpus_settings, monkeypatch):  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.delenv("BATON_API_TOKEN", raising=False)
    settings = corpus_settings.replace(home=Path(tempfile.mkdtemp(dir=corpus_settings.home)), database_url="",
                                       broker_url="")
    import migrations

    migrations.upgrade(settings.database_url)
    engine = Engine(settings)
    app = create_app(settings, engine=engine)
    client = app.test_client()
    use_token(client, "admin")
    yield client
    engine.close()


def test_every_file_through_the_rest_api(api_client, engine_outcomes):  # type: ignore[no-untyped-def]
    failures = []
    for path in FILES:
        name = rel(path)
        started = time.perf_counter()
        response = api_client.post("/api/v1/deployments", data={"files": (io.BytesIO(path.read_bytes()), name)},
                                   content_type="multipart/form-data")
        outcome = Outcome(seconds=time.perf_counter() - started)
        body = response.get_json(silent=True) or {}
        if response.status_code == 201:
            outcome.deployed = [f"{'deployed' if d['created'] else 'unchanged'} {d['key']} v{d['version']}"
                                for d in body.get("deployed", [])]
            if not outcome.deployed:
                failures.append(f"{name}: 201 with nothing deployed: {body}")
        elif response.status_code == 422:
            problems = body.get("problems") or []
            if response.mimetype != "application/problem+json" or not problems:
                failures.append(f"{name}: 422 is not problem+json with problems: {response.mimetype} {body}")
            for p in problems:
                if p.get("file") != name or "element_id" not in p or not p.get("reason"):
                    failures.append(f"{name}: malformed problem {p}")
            outcome.problems = [str(Problem(p.get("file"), p.get("line"), p.get("element_id"), p.get("reason")))
                                for p in problems]
        else:
            failures.append(f"{name}: HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")
        record(name, "api", outcome)
        expected, _ = engine_outcomes[name]
        if outcome.problems != expected.problems or bool(outcome.deployed) != bool(expected.deployed):
            failures.append(f"{name}: the API did not do what engine.deploy did:\n"
                            f"  api: {outcome.deployed or outcome.problems}\n"
                            f"  engine: {expected.deployed or expected.problems}")
    assert not failures, "\n".join(failures)
    assert api_client.get("/api/v1/health").status_code == 200


DEPLOYED_LINE = re.compile(r"^(deployed|unchanged) (decision )?\S+ v\d+$")
CLI_TIMEOUT = 60.0


def check_cli_result(name: str, path: Path, code: int, stdout: str, stderr: str, expected: Outcome,
                     failures: list[str]) -> Outcome:
    """What ``baton deploy PATH`` printed, checked against its contract and against engine.deploy."""
    outcome = Outcome()
    out = [line for line in stdout.splitlines() if line.strip()]
    err = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr:
        failures.append(f"{name}: exit {code} with a traceback:\n{stderr[-2000:]}")
        return outcome
    if code == 0:
        outcome.deployed = out
        if not out or not all(DEPLOYED_LINE.match(line) for line in out):
            failures.append(f"{name}: exit 0 but stdout is {out}")
    elif code == 1:
        outcome.problems = [line.replace(str(path), name, 1) for line in err]
        shape = re.compile(rf"^{re.escape(str(path))}(:\d+)?: \S+: \S.*$")
        bad = [line for line in err if not shape.match(line)]
        if not err or bad:
            failures.append(f"{name}: exit 1 but stderr lines are not 'file[:line]: element: reason': {bad or err}")
    else:
        failures.append(f"{name}: exit {code}: {stderr[-500:]}")
    if bool(outcome.deployed) != bool(expected.deployed) or (
            outcome.problems and outcome.problems != expected.problems):
        failures.append(f"{name}: the CLI did not do what engine.deploy did:\n"
                        f"  cli: {outcome.deployed or outcome.problems}\n"
                        f"  engine: {expected.deployed or expected.problems}")
    return outcome


def cli_env(home: Path) -> dict[str, str]:
    return {"BATON_HOME": str(home), "BATON_ENDPOINTS": str(PROCESSES / "endpoints.toml"),
            "BATON_DATABASE_URL": "", "BATON_BROKER_URL": "", "BATON_API_TOKEN": ""}


def test_every_file_through_the_cli_command(engine_outcomes, tmp_path):  # type: ignore[no-untyped-def]
    """``baton deploy FILE`` for every file, run by click in this process: the command's own code
    (argument handling, engine, exit code, output) without 175 interpreter start-ups."""
    from click.testing import CliRunner

    from web.cli import main

    env = cli_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    failures: list[str] = []
    for path in FILES:
        name = rel(path)
        started = time.perf_counter()
        result = runner.invoke(main, ["deploy", str(path)], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{name}: {type(result.exception).__name__}: {result.exception}")
            continue
        outcome = check_cli_result(name, path, result.exit_code, result.stdout, result.stderr,
                                   engine_outcomes[name][0], failures)
        outcome.seconds = time.perf_counter() - started
        record(name, "cli", outcome)
    assert not failures, "\n".join(failures)


def subprocess_sample() -> list[Path]:
    """Per folder, the first file that deploys and the first that is refused, and the DMN file;
    ``BATON_TEST_CLI_ALL=1`` runs every file (about 0.7 s of interpreter start-up each)."""
    if os.environ.get("BATON_TEST_CLI_ALL"):
        return FILES
    sample: dict[tuple[Path, bool], Path] = {}
    for path in FILES:
        key = (path.parent, rel(path) in RUNNABLE)
        sample.setdefault(key, path)
    return sorted(set(sample.values()) | {p for p in FILES if p.suffix == ".dmn"})


def _cli_worker(paths: list[Path]) -> list[tuple[Path, subprocess.CompletedProcess[str] | str, float]]:
    """Deploy ``paths`` one at a time through ``baton`` subprocesses, on a database of this worker's own."""
    env = cli_env(Path(tempfile.mkdtemp(prefix="baton-cli-")))
    upgraded = baton_cli("db", "upgrade", env=env, timeout=CLI_TIMEOUT)
    if upgraded.returncode != 0:
        return [(p, f"db upgrade failed: {upgraded.stderr}", 0.0) for p in paths]
    results: list[tuple[Path, subprocess.CompletedProcess[str] | str, float]] = []
    for path in paths:
        started = time.perf_counter()
        try:
            done: subprocess.CompletedProcess[str] | str = baton_cli("deploy", str(path), env=env,
                                                                     timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            done = f"no answer within {CLI_TIMEOUT:.0f} s"
        results.append((path, done, time.perf_counter() - started))
    return results


def test_files_through_the_baton_subprocess(engine_outcomes):  # type: ignore[no-untyped-def]
    """The real door: ``python -m web.cli deploy FILE`` in a subprocess, one file at a time."""
    files = subprocess_sample()
    workers = min(len(files), max(2, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        batches = list(pool.map(_cli_worker, [files[i::workers] for i in range(workers)]))
    failures: list[str] = []
    for path, done, seconds in (item for batch in batches for item in batch):
        name = rel(path)
        if isinstance(done, str):
            failures.append(f"{name}: {done}")
            continue
        outcome = check_cli_result(name, path, done.returncode, done.stdout, done.stderr, engine_outcomes[name][0],
                                   failures)
        outcome.seconds = seconds
        record(name, "subprocess", outcome)
    assert not failures, "\n".join(failures)


# -- deployments of several files, and what the corpus holds no example of --------------------

DISH_DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dish_defs" name="Dish"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="dish" name="Dish">
    <decisionTable id="table" hitPolicy="UNIQUE">
      <input id="in1" label="Season"><inputExpression id="ie1" typeRef="string"><text>season</text></inputExpression>
      </input>
      <output id="out1" label="Dish" name="dish" typeRef="string"/>
      <rule id="r1"><inputEntry id="e1"><text>"Winter"</text></inputEntry><outputEntry id="o1"><text>"Roastbeef"</text>
      </outputEntry></rule>
      <rule id="r2"><inputEntry id="e2"><text>"Summer"</text></inputEntry><outputEntry id="o2"><text>"Salad"</text>
      </outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

DINNER = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="dinner" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="dish"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def engine(settings_factory):  # type: ignore[no-untyped-def]
    import migrations

    settings = settings_factory()
    migrations.upgrade(settings.database_url)
    engine = Engine(settings)
    yield engine
    engine.close()


def refused(engine: Engine, files: list[tuple[str, bytes]]) -> list[str]:
    with pytest.raises(DeploymentError) as caught:
        engine.deploy(files)
    return [str(p) for p in caught.value.problems]


def test_a_dmn_decision_deploys_with_the_bpmn_that_uses_it_and_runs(engine):  # type: ignore[no-untyped-def]
    assert [r.describe() for r in engine.deploy([("dinner.bpmn", DINNER), ("dish.dmn", DISH_DMN)])] == [
        "deployed dinner v1"]
    instance_id = engine.start("dinner", {"season": "Winter"})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["dish"] == "Roastbeef"

    # a decision deployed earlier is found, as Camunda 7 finds a decisionRef in its repository
    assert [r.describe() for r in engine.deploy([("dinner.bpmn", DINNER)])] == ["deployed dinner v2"]
    # with the deployment binding the decision must come with the diagram (the latest is looked up
    # when the task is reached: tests/test_camunda7_late_binding.py)
    [problem] = refused(engine, [("dinner.bpmn", DINNER.replace(
        b'camunda:decisionRef="dish"', b'camunda:decisionRef="dish" camunda:decisionRefBinding="deployment"'))])
    assert problem.startswith("dinner.bpmn:6: decide: camunda:decisionRefBinding=\"deployment\" evaluates "
                              "decision 'dish' as deployed with this diagram, and this deployment has no such")
    camunda_dmn = next(p for p in FILES if p.suffix == ".dmn")  # a decision graph: beverages requires dish
    deployed = engine.deploy([("dinner.bpmn", DINNER), (camunda_dmn.name, camunda_dmn.read_bytes())])
    assert [r.describe() for r in deployed] == ["deployed dinner v3"]


def test_a_call_activity_finds_its_process_when_the_call_is_reached(engine):  # type: ignore[no-untyped-def]
    """Camunda 7 resolves calledElement at run time: a caller deploys before the process it calls
    (tests/test_camunda7_late_binding.py: a process still missing then is an incident naming it)."""
    caller = (MIWG / "Reference" / "C.9.2.bpmn").read_bytes()
    problems = refused(engine, [("C.9.2.bpmn", caller)])  # refused for other reasons, not for the call
    assert problems and not any("CallActivity_RequestDocument" in p for p in problems)


MIXED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="runs" isExecutable="true">
    <bpmn:startEvent id="s1"/><bpmn:endEvent id="e1"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s1" targetRef="e1"/>
  </bpmn:process>
  <bpmn:process id="describes">
    <bpmn:startEvent id="s2"/><bpmn:exclusiveGateway id="g2"/><bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f2" sourceRef="s2" targetRef="g2"/>
    <bpmn:sequenceFlow id="f3" sourceRef="g2" targetRef="e2">
      <bpmn:conditionExpression>${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>"""


def test_only_processes_marked_executable_are_deployed(engine):  # type: ignore[no-untyped-def]
    """SpiffWorkflow treats a process without isExecutable as executable: Baton must not deploy
    what it never checked (here a JUEL condition)."""
    assert [r.describe() for r in engine.deploy([("mixed.bpmn", MIXED)])] == ["deployed runs v1"]
    assert [d["key"] for d in engine.list_definitions()] == ["runs"]


SEND = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:message id="m1" name="documentRequested"/>
  <bpmn:process id="send" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sendTask id="notify" camunda:type="external" camunda:topic="audit-log"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="notify"/>
    <bpmn:sequenceFlow id="f2" sourceRef="notify" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_send_task_with_a_topic_runs_as_a_job(inline_engine):  # type: ignore[no-untyped-def]
    """Camunda 7 and 8 run a send task like a service task; SpiffWorkflow alone would skip it.
    Its endpoint here is in-process: the call runs inside the advance, or as a job when the
    diagram says asyncBefore."""
    inline_engine.deploy([("send.bpmn", SEND)])
    instance_id = inline_engine.start("send", {"x": 1})
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["audited"] is True and doc["jobs"] == []
    inline_engine.deploy([("send.bpmn", SEND.replace(b'id="notify"', b'id="notify" camunda:asyncBefore="true"'))])
    instance_id = inline_engine.start("send", {"x": 1})
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert [(j["element_id"], j["topic"], j["status"]) for j in doc["jobs"]] == [("notify", "audit-log", "done")]


def test_camunda_7_examples_are_refused_only_for_java_or_scripts(engine_outcomes):  # type: ignore[no-untyped-def]
    other = [f"{name}: {problem.element_id}: {problem.reason}" for name, (_, problems) in engine_outcomes.items()
             if name.startswith("camunda/") for problem in problems
             if not any(reason in problem.reason for reason in CAMUNDA_REASONS)]
    assert not other, "\n".join(other)
