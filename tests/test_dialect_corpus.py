"""Camunda 8 and SpiffArena diagrams from public repositories deploy and run, or are refused cleanly.

Every ``.bpmn`` under ``../shared/bpmn/camunda8`` and ``../shared/bpmn/spiffarena`` is deployed
through ``engine.deploy`` together with the forms, JSON Schemas and decisions in its folder, every
job topic bound to ``tests/dialect_handlers.py:corpus_job`` (a canned answer per topic). A
diagram that deploys must have a happy path below and run it to the end: open user tasks are
completed with values their own form accepts, the messages and signals the happy path waits for
are published. A diagram that is refused must be refused with reasons that name an element and
the construct, never a library message. The counts and every reason are written to
``artifacts/dialect-corpus.txt``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine import DeploymentError, Endpoint, EndpointMap, TaskNotFound
from tests.conftest import IN_CI, ROOT, SHARED

CORPUS = SHARED / "bpmn"
FOLDERS = ("camunda8", "spiffarena")
FILES = sorted(p for folder in FOLDERS for p in (CORPUS / folder).rglob("*.bpmn")) if CORPUS.is_dir() else []
SIDE = (".dmn", ".form", ".json")
ARTIFACT = ROOT / "artifacts" / "dialect-corpus.txt"
LIBRARY_LEAKS = ("Traceback", "cannot be read", "<Element", " object at 0x", "KeyError", "NoneType")

if not FILES:
    if IN_CI:
        pytest.fail(f"the reference corpus {CORPUS} is missing; CI needs it", pytrace=False)
    pytest.skip(f"the reference corpus {CORPUS} is missing", allow_module_level=True)


@dataclass
class HappyPath:
    start: dict[str, Any] = field(default_factory=dict)
    start_message: tuple[str, dict[str, Any], dict[str, Any]] | None = None  # name, correlation, variables
    messages: list[tuple[Any, ...]] = field(default_factory=list)  # name, correlation[, variables]
    signals: list[str] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)  # variables the end must hold
    absent: list[str] = field(default_factory=list)  # variables the end must not hold
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # element id -> what a person enters there
    leave: list[str] = field(default_factory=list)  # tasks a person leaves open (a "cancel" offered alongside)
    also: list[str] = field(default_factory=list)  # corpus files deployed before the run (a called process)


C8 = "camunda8/"
CHAOS_ACTION = {"name": "probe", "provider": {"path": "chaos-action"}}
CHAOS_EXPERIMENT = {"steadyState": {"probes": [CHAOS_ACTION]}, "method": [CHAOS_ACTION]}
SPIFF = "spiffarena/"
HAPPY: dict[str, HappyPath] = {
    C8 + "berndruecker__ticket-booking-camunda-8/booking-service-java/src/main/resources/ticket-booking.bpmn":
        HappyPath(messages=[("msg-payment-received", {"paymentRequestId": "pay-1"})], expect={"ticketId": "t-1"}),
    C8 + "camunda-community-hub__bpmn-driven-testing/impl-8/src/main/resources/simulate-sub-process.bpmn":
        HappyPath(),
    C8 + "camunda-community-hub__camunda-8-benchmark/src/main/resources/bpmn/msg_process.bpmn":
        HappyPath(start_message=("ORDER", {"orderId": "o-1"}, {"orderId": "o-1", "items": ["parcel-1"]}),
                  messages=[("INTRANSIT", {"item": "parcel-1"}), ("DELIVERED", {"item": "parcel-1"})]),
    C8 + "camunda-community-hub__camunda-process-test-coverage/extension/junit5-platform-8/src/test/resources/"
         "eventBasedGateway.bpmn":
        HappyPath(messages=[("Message_1", {"1": 1})]),  # correlationKey "=1": a FEEL key, named by its text
    C8 + "camunda__camunda-8-js-sdk/src/__tests__/testdata/Client-DeployWorkflow.bpmn":
        HappyPath(start={"uniqueId": "u-1"}, messages=[("Message_In", {"uniqueId": "u-1"})],
                  expect={"ran_process_message": True}),
    C8 + "camunda__camunda-8-js-sdk/src/__tests__/testdata/Signal.bpmn":
        HappyPath(signals=["test-signal"], expect={"ran_signal_service_task": True}),
    C8 + "camunda-community-hub__camunda-8-benchmark/src/main/resources/bpmn/typical_process.bpmn":
        # every task's type is FEEL ("benchmark-task-" + benchmark_starter_id): each runs the job it names
        HappyPath(start={"benchmark_starter_id": "b1", "var2": False}, expect={"ran_benchmark_task_b1": True}),
    C8 + "camunda__zeebe-chaos/go-chaos/internal/bpmn/chaos/actionRunner.bpmn":
        # the task's type is FEEL (=action.provider.path); the process starts with the action to run
        HappyPath(start={"action": {"name": "probe", "provider": {"path": "chaos-action"}}},
                  expect={"ran_chaos_action": True, "successfulRun": True}),
    C8 + "camunda__zeebe-chaos/go-chaos/internal/bpmn/chaos/chaosExperiment.bpmn":
        # calls actionRunner (deployed before it here) per probe and per method action
        HappyPath(start={"experiment": {"title": "t"}, **CHAOS_EXPERIMENT},
                  expect={"successfulExperiment": True, "ran_chaos_action": True}),
    C8 + "camunda__zeebe-chaos/go-chaos/internal/bpmn/chaos/chaosToolkit.bpmn":
        # reads the experiments (dialect_handlers.py), calls chaosExperiment for each
        HappyPath(expect={"ran_readExperiments": True}),
    C8 + "camunda__zeebe-chaos/go-chaos/internal/bpmn/multi-version/multiVersionModel.bpmn":
        HappyPath(expect={"out": "yolo"}),  # zeebe:calledDecision resultVariable: the decision's one output
    C8 + "camunda__zeebe-process-test/examples/src/test/resources/automated-tests.bpmn":
        # a loop over a FEEL list literal: evaluated into a variable of the loop's own, gone at its end
        HappyPath(expect={"ran_runTests": True}, absent=["loop_items_Activity_1kq2g9a"]),
    C8 + "camunda__zeebe-process-test/examples/src/test/resources/pr-created.bpmn":
        # calls automated-tests (deployed before it here) with propagateAllChildVariables="false"
        HappyPath(start_message=("prCreated", {}, {"prId": "pr-1"}),
                  messages=[("reviewReceived", {"prId": "pr-1"}, {"reviewResult": "approved"})],
                  expect={"ran_deploySnapshot": True}, absent=["ran_runTests"]),
    C8 + "camunda__zeebe-process-test/qa/abstracts/src/main/resources/looping-servicetask.bpmn":
        HappyPath(start={"totalLoops": 2}, expect={"loopAmount": 2}),
    C8 + "camunda__zeebe-process-test/qa/abstracts/src/main/resources/test_timer_events.bpmn": HappyPath(),
    C8 + "quarkiverse__quarkus-zeebe/integration-tests/bpmn/src/main/resources/bpmn/gateway.bpmn":
        HappyPath(start={"name": "test"}),
    C8 + "camunda-community-hub__zeebe-cherry-runtime/src/test/resources/loadtest/LoadTest.bpmn":
        HappyPath(expect={"listOfColors": []}),  # its task headers (names with spaces) reach Python handlers
    SPIFF + "sartography__SpiffWorkflow/tests/SpiffWorkflow/spiff/data/correlation.bpmn":
        # proc_1's two sub-process instances each ask a proc_2 (started by their message, source_task holds the
        # payload); each answer carries the asker's correlation value back to the instance that waits for it
        HappyPath(values={"configure": {"task_num": 7, "task_name": "subprocess 7"},
                          "prepare_response": {"response": "OK"}}),
    SPIFF + "sartography__SpiffWorkflow/tests/SpiffWorkflow/spiff/data/escalation_event_payload.bpmn":
        # the escalation's payloadExpression reaches the boundary event's variableName
        HappyPath(start={"escalation": True, "payload": "ERROR!"}, expect={"result": "ERROR!"}),
    SPIFF + "sartography__SpiffWorkflow/tests/SpiffWorkflow/spiff/data/script_on_mi.bpmn":
        # a loop over loopDataInputRef with scripts on each instance; its post-script reads output_item,
        # which a person enters on the plain task (a manual task in SpiffArena)
        HappyPath(start={"input_data": [1, 2, 3]}, values={"any_task": {"output_item": 5}},
                  expect={"input_data": [1, 2, 3], "output_data": [4, 4, 4]}),
    SPIFF + "sartography__example-process-models/examples/2-in-depth/2-4-messages/chef/simple-message-chef.bpmn":
        # started by the waiter's order: its body lands in messageVariable order_to_cook, and goes back as
        # the payload of order_dispatch (no waiter is deployed yet: unrouted)
        HappyPath(start_message=("order_accept", {}, {"table_number": 3, "drink": "tea", "meal": "soup"}),
                  expect={"order_to_cook": {"table_number": 3, "drink": "tea", "meal": "soup"}}),
    SPIFF + "sartography__example-process-models/examples/2-in-depth/2-4-messages/waiter/simple-message-waiter.bpmn":
        # its order starts the chef deployed before it; the chef's answer for its table comes back into order
        HappyPath(values={"Activity_0mg4xyf": {"order": {"table_number": 1, "drink": "tea", "meal": "soup"}}},
                  messages=[("order_dispatch", {"table_number": 1}, {"table_number": 1, "meal": "soup"})],
                  expect={"order": {"table_number": 1, "meal": "soup"}}),
    SPIFF + "sartography__example-process-models/examples/1-basic-concepts/understanding-data-part-1/python.bpmn":
        HappyPath(),
    SPIFF + "sartography__sample-process-models/misc/shared/build-enum-list-from-aws/"
            "shared-build-enum-list-from-aws.bpmn":
        HappyPath(start={"addNew": True, "whichSubject": "color"},
                  expect={"enumerations_list": [{"label": "Add New", "value": "add"},
                                                {"label": "Red", "value": "red"}]}),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/sample/sample.bpmn": HappyPath(),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/service_task/service_task.bpmn":
        HappyPath(expect={"response": {"do_not_fail": True, "ran_ed_GetFiles": True}}),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/manual_task_with_subprocesses/"
            "manual_task_with_subprocesses.bpmn":
        # loops until the process it calls has set its variable (the second round), then ends
        HappyPath(also=[SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/"
                                "manual_task_with_subprocesses/test_process_to_call.bpmn"],
                  expect={"we_move_on": True, "set_top_level_process_script_after_gate": 1}),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/manual_task_with_subprocesses/"
            "test_process_to_call.bpmn":
        HappyPath(expect={"set_in_test_process_to_call_script": 1}),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/multiinstance_with_data/"
            "multiinstance_with_data.bpmn":
        HappyPath(expect={"i": 0}),
    SPIFF + "sartography__spiff-arena/spiffworkflow-backend/tests/data/multiinstance_with_inner_error_boundary_event/"
            "multiinstance_with_inner_error_boundary_event.bpmn":
        HappyPath(),
    SPIFF + "sartography__spiff-example-cli/bpmn/tutorial/top_level_multi.bpmn":
        # calls customize_product (call_activity_multi.bpmn); the order is placed, and the multi-instance
        # "Retrieve Product" over loopDataInputRef products collects each product_available into availability
        HappyPath(values={"Activity_0h1938t": {"place_order": "Y"}}, leave=["Activity_1f7q7oz"],
                  also=[SPIFF + "sartography__spiff-example-cli/bpmn/tutorial/call_activity_multi.bpmn"],
                  expect={"place_order": "Y", "availability": ["Y"], "product_shipped": "Y"}),
    SPIFF + "sartography__spiff-example-cli/bpmn/tutorial/call_activity_multi.bpmn":
        HappyPath(start={"products": []}),
}


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def side_files(path: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(path.parent.rglob("*")) if p.suffix in SIDE and p.is_file()]


# The job types the corpus's FEEL task types give on the happy paths below (bound like static ones).
FEEL_TOPICS = {"benchmark-task-b1", "benchmark-task-b1-completed", "chaos-action"}


def topics() -> dict[str, Endpoint]:
    found: set[str] = set(FEEL_TOPICS)
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        found |= set(re.findall(r'taskDefinition type="([^"=][^"]*)"', text))
        found |= set(re.findall(r'serviceTaskOperator id="([^"]+)"', text))
    return {t: Endpoint(topic=t, url=None, method="POST", timeout=5.0, retries=1,
                        python="tests.dialect_handlers:corpus_job") for t in found}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import migrations
    from adapters.endpoints import call_in_process
    from adapters.runner import InlineDriver
    from engine import Engine, Settings

    settings = Settings(home=tmp_path_factory.mktemp("dialect-corpus"), endpoints=None)
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, endpoints=EndpointMap(topics(), "tests/dialect_handlers.py"), notifier=driver.notify,
                    in_process=call_in_process)
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    yield engine
    engine.close()


OUTCOMES: dict[str, tuple[str, list[str]]] = {}


@pytest.fixture(scope="module", autouse=True)
def report():  # type: ignore[no-untyped-def]
    yield
    if not OUTCOMES:
        return
    lines = ["Deploying and running every diagram of ../shared/bpmn/camunda8 and ../shared/bpmn/spiffarena", ""]
    for folder in FOLDERS:
        mine = {k: v for k, v in OUTCOMES.items() if k.startswith(folder + "/")}
        ran = sum(1 for verdict, _ in mine.values() if verdict == "ran")
        lines.append(f"  {folder}: {ran} deployed and ran their happy path, {len(mine) - ran} refused")
    reasons = Counter(re.sub(r"'[^']*'", "'…'", r.split(": ", 2)[-1])[:140]
                      for verdict, rs in OUTCOMES.values() if verdict == "refused" for r in rs)
    lines += ["", "Refusal reasons (how often):"] + [f"  {n:3d}  {r}" for r, n in reasons.most_common()]
    lines += ["", "Per file:"]
    for name in sorted(OUTCOMES):
        verdict, details = OUTCOMES[name]
        lines.append(f"{name}: {verdict}")
        lines += [f"    {d}" for d in details]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def drain_due(engine: Any) -> None:
    """Run the jobs that are due now; a timer's job waits only when nothing else can move."""
    from adapters.runner import run_job

    driver = engine.driver
    later = []
    for _ in range(200):
        if not driver.queue:
            break
        ticket = driver.queue.popleft()
        if ticket.eta_seconds > 0:
            later.append(ticket)
            continue
        run_job(engine, ticket.id, "inline")
    driver.queue.extend(later)


def wait_for_first_timer(engine: Any) -> None:
    """Only timers are left: wait for the one due first (a boundary timer the happy path beats
    stays queued), then run it."""
    from adapters.runner import run_job

    driver = engine.driver
    if not driver.queue:
        return
    first = min(driver.queue, key=lambda t: t.eta_seconds)
    driver.queue.remove(first)
    time.sleep(min(first.eta_seconds, 5.0))
    run_job(engine, first.id, "inline")


def sample(field: dict[str, Any]) -> Any:
    """A value the field's own form accepts: its default, else the first choice, else a plain one."""
    if field.get("default") is not None:
        return field["default"]
    kind = field.get("type")
    if kind == "enum":
        return field["options"][0]["id"]
    return {"boolean": True, "long": 1, "number": 1, "date": "2026-01-01", "json": []}.get(kind, "text")


def family(engine: Any, instance_id: str) -> list[str]:
    """The instance and the instances its call activities started (their user tasks are part of its path)."""
    found, queue = [], [instance_id]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue += [c["id"] if isinstance(c, dict) else c
                  for c in engine.get_instance(current, history=False).get("children") or []]
    return found


def run_happy_path(engine: Any, key: str, happy: HappyPath, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run ``key``'s happy path; ``keys`` are the file's other processes, whose tasks are part of it."""
    if happy.start_message:
        name, correlation, variables = happy.start_message
        instance_id = engine.correlate(name, correlation=correlation, variables=variables)["instance_id"]
    else:
        instance_id = engine.start(key, dict(happy.start))
    messages, signals = list(happy.messages), list(happy.signals)
    for _ in range(30):
        drain_due(engine)
        doc = engine.get_instance(instance_id, history=False)
        if doc["status"] in ("completed", "cancelled", "terminated", "incident"):
            return doc
        mine = family(engine, instance_id) + [row["id"] for k in keys
                                              for row in engine.list_instances(definition=k)["items"]]
        tasks = [t for i in dict.fromkeys(mine) for t in engine.list_user_tasks(instance_id=i)
                 if t["element_id"] not in happy.leave]
        if tasks:
            for task in tasks:
                values = happy.values.get(task["element_id"]) or {
                    f["id"]: sample(f) for f in task["form"] if f.get("type") != "text"}
                try:
                    engine.complete_user_task_by_id(task["id"], values)
                except TaskNotFound:  # closed by completing another (a boundary event, a loop's end)
                    continue
        elif messages:
            name, correlation, *variables = messages.pop(0)
            engine.correlate(name, correlation=correlation, variables=variables[0] if variables else None)
        elif signals:
            engine.broadcast_signal(signals.pop(0))
        else:
            wait_for_first_timer(engine)
    return engine.get_instance(instance_id, history=False)


@pytest.mark.parametrize("path", FILES, ids=rel)
def test_each_diagram_runs_its_happy_path_or_is_refused_naming_element_and_construct(engine, path):  # type: ignore[no-untyped-def]
    name = rel(path)
    try:
        deployed = engine.deploy([(path.name, path.read_bytes()), *side_files(path)])
    except DeploymentError as exc:
        reasons = [str(p) for p in exc.problems]
        OUTCOMES[name] = ("refused", reasons)
        assert exc.problems
        for problem in exc.problems:
            assert problem.reason.strip() and not any(leak in problem.reason for leak in LIBRARY_LEAKS), problem
            assert problem.element_id or problem.file.endswith(SIDE), f"a refusal names no element: {problem}"
        return
    assert name in HAPPY, f"{name} deploys ({[d.key for d in deployed]}) but has no happy path in this test"
    happy = HAPPY[name]
    for other in happy.also:
        engine.deploy([(Path(other).name, (CORPUS / other).read_bytes()), *side_files(CORPUS / other)])
    doc = run_happy_path(engine, deployed[0].key, happy, tuple(d.key for d in deployed[1:]))
    OUTCOMES[name] = ("ran", [f"{doc['status']}: {sorted(doc['variables'])}"])
    open_incidents = [i for i in doc.get("incidents") or [] if i.get("status", "open") == "open"]
    assert doc["status"] == "completed", (doc["status"], open_incidents)
    assert not [v for v in happy.absent if v in doc["variables"]], doc["variables"]
    for variable, value in happy.expect.items():
        assert doc["variables"].get(variable) == value, (variable, doc["variables"].get(variable))
