"""``camunda:asyncBefore`` / ``asyncAfter`` are commit points on every element, as in Camunda 7.

The advance that reaches a marked element commits there with a job of kind ``continue``; the job
(any worker, the inline driver here, or a fresh engine that loads the instance from the database)
goes on from that point. A failure after the commit point is that job's: retried, then an
incident, and retrying the incident goes on from the commit point again.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from adapters.runner import run_job
from engine import DeploymentError, EndpointMap, Engine
from engine.models import Job, utcnow
from tests.conftest import ROOT
from tests.ledger_handlers import effects
from tests.test_in_process import LEDGER_ENDPOINTS
from tests.test_in_process import diagram as ledger_diagram

DIAGRAMS = ROOT / "tests" / "diagrams"
BEFORE_SCRIPT = DIAGRAMS / "async_before_script.bpmn"
AFTER_CHAIN = DIAGRAMS / "async_after_chain.bpmn"
JOIN = DIAGRAMS / "async_join.bpmn"
SUBPROCESS = DIAGRAMS / "async_subprocess.bpmn"


def deploy(engine: Engine, path, text: bytes | None = None) -> None:  # type: ignore[no-untyped-def]
    engine.deploy([(path.name, text if text is not None else path.read_bytes())])


def jobs(doc: dict) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(j["element_id"], j["kind"], j["status"]) for j in doc["jobs"]]


def events(doc: dict, element_id: str) -> list[str]:  # type: ignore[type-arg]
    return [h["event"] for h in sorted(doc["history"], key=lambda h: h["seq"]) if h["element_id"] == element_id]


def pending(engine: Engine, instance_id: str) -> list[str]:
    return sorted(j[0] for j in jobs(engine.get_instance(instance_id)) if j[2] == "pending")


def run_one(engine: Engine) -> None:
    """The next job, on its own (no same-worker continuation): each commit point shows."""
    ticket = engine.driver.queue.popleft()
    time.sleep(ticket.eta_seconds)
    call = engine.claim_job(ticket.id, "worker-1")
    assert call is not None
    if call.kind == "continue":
        engine.continue_job(call.job_id, owner="worker-1", attempt=call.attempt)
    else:
        engine.fire_timer(call.job_id)


def test_async_before_commits_before_the_script_and_a_fresh_engine_finishes_it(bare_engine):
    deploy(bare_engine, BEFORE_SCRIPT)
    instance_id = bare_engine.start("async_before_script", {"total": 10, "parts": 4})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "running" and jobs(doc) == [("split", "continue", "pending")]
    assert "share" not in doc["variables"]  # the script has not run: the commit came first
    assert events(doc, "split") == ["waiting"]
    assert bare_engine.instance_view(instance_id)["elements"]["split"]["state"] == "active"

    # Another process (a fresh engine, nothing cached) runs the job from the database.
    fresh = Engine(bare_engine.settings, notifier=bare_engine.driver.notify, endpoints=EndpointMap())
    try:
        bare_engine.driver.engine = fresh
        assert bare_engine.driver.drain() == 1
        doc = fresh.get_instance(instance_id)
    finally:
        bare_engine.driver.engine = bare_engine
        fresh.close()
    assert doc["status"] == "completed" and doc["variables"]["share"] == 2.5
    assert jobs(doc) == [("split", "continue", "done")]
    assert events(doc, "split") == ["waiting", "continued", "entered", "completed"]
    assert bare_engine.instance_view(instance_id)["elements"]["split"] == {
        **bare_engine.instance_view(instance_id)["elements"]["split"], "state": "completed", "runs": 1}


def test_a_worker_that_dies_holding_the_job_loses_it_at_its_lease_and_another_goes_on(bare_engine):
    deploy(bare_engine, BEFORE_SCRIPT)
    instance_id = bare_engine.start("async_before_script", {"total": 9, "parts": 3})
    ticket = bare_engine.driver.queue.popleft()
    assert bare_engine.claim_job(ticket.id, "dead-worker") is not None  # claimed, then SIGKILL: nothing ran
    assert bare_engine.due_jobs(0.0) == []  # leased: the relay leaves it alone
    with bare_engine.db.transaction() as session:  # the lease runs out
        session.execute(update(Job).where(Job.id == ticket.id).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert [t.id for t in bare_engine.due_jobs(0.0)] == [ticket.id]
    assert run_job(bare_engine, ticket.id, "worker-2") == "continued"
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["share"] == 3.0
    assert [(j["kind"], j["status"], j["attempts"]) for j in doc["jobs"]] == [("continue", "done", 2)]
    assert events(doc, "split") == ["waiting", "continued", "entered", "completed"]  # ran once


def test_without_the_attribute_the_same_diagram_runs_in_one_advance(bare_engine):
    deploy(bare_engine, BEFORE_SCRIPT, BEFORE_SCRIPT.read_bytes().replace(b' camunda:asyncBefore="true"', b""))
    instance_id = bare_engine.start("async_before_script", {"total": 10, "parts": 4})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["share"] == 2.5 and doc["jobs"] == []


def test_async_after_commits_after_a_user_task_a_script_and_a_gateway(bare_engine):
    deploy(bare_engine, AFTER_CHAIN)
    instance_id = bare_engine.start("async_after_chain", {})
    assert jobs(bare_engine.get_instance(instance_id)) == []  # a user task is a wait state of its own
    bare_engine.complete_user_task(instance_id, "review", {"approved": True})

    doc = bare_engine.get_instance(instance_id)  # review completed, committed; tally not run yet
    assert doc["status"] == "running" and jobs(doc) == [("review", "continue", "pending")]
    assert events(doc, "review")[-2:] == ["completed", "waiting"] and events(doc, "tally") == []

    steps = []
    while bare_engine.driver.queue:  # one job at a time, as separate workers would: each commit shows
        run_one(bare_engine)
        steps.append(pending(bare_engine, instance_id))
    doc = bare_engine.get_instance(instance_id)
    # tally ran and committed after itself; the gateway chose, committed; the throw event held before
    assert steps == [["tally"], ["route"], ["announce"], []]
    assert doc["status"] == "completed" and doc["variables"]["score"] == 1
    assert events(doc, "route") == ["entered", "completed", "waiting", "continued"]
    assert events(doc, "announce") == ["waiting", "continued", "entered", "completed"]
    assert events(doc, "approved_end") == ["entered", "completed"]
    assert all(j[1:] == ("continue", "done") for j in jobs(doc))


def test_async_before_a_user_task_makes_no_task_until_its_job_ran(bare_engine):
    deploy(bare_engine, AFTER_CHAIN, AFTER_CHAIN.read_bytes().replace(
        b'id="review" name="Review" camunda:asyncAfter="true"',
        b'id="review" name="Review" camunda:asyncBefore="true"'))
    instance_id = bare_engine.start("async_after_chain", {})
    assert bare_engine.list_user_tasks(instance_id=instance_id) == []
    view = bare_engine.instance_view(instance_id)
    assert view["elements"]["review"]["state"] == "active" and view["waiting_user_tasks"] == []
    run_one(bare_engine)
    assert [t["element_id"] for t in bare_engine.list_user_tasks(instance_id=instance_id)] == ["review"]
    assert bare_engine.instance_view(instance_id)["waiting_user_tasks"] == ["review"]
    assert bare_engine.get_instance(instance_id)["status"] == "waiting"


@pytest.fixture
def ledger(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("BATON_TEST_LEDGER", str(path))
    return path


def test_async_after_an_in_process_service_call_commits_after_the_call(settings_factory, inline_engine_factory,
                                                                        ledger):
    engine = inline_engine_factory(settings_factory(endpoints=LEDGER_ENDPOINTS))
    engine.deploy([("after.bpmn", ledger_diagram("after_step", [
        ("first", "ledger-reserve", 'camunda:asyncAfter="true"'), ("second", "ledger-reserve", "")]))])
    instance_id = engine.start("after_step", {})
    doc = engine.get_instance(instance_id)  # the call ran inside the advance; the commit came after it
    assert jobs(doc) == [("first", "continue", "pending")]
    assert sorted(element for element, _ in effects(str(ledger)).values()) == ["first"]
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and jobs(doc) == [("first", "continue", "done")]
    assert sorted(element for element, _ in effects(str(ledger)).values()) == ["first", "second"]


def test_a_worker_goes_on_from_each_commit_point_itself_without_the_broker(bare_engine):
    deploy(bare_engine, AFTER_CHAIN)
    instance_id = bare_engine.start("async_after_chain", {})
    bare_engine.complete_user_task(instance_id, "review", {"approved": False})
    [ticket] = bare_engine.driver.queue
    bare_engine.driver.queue.clear()
    assert run_job(bare_engine, ticket.id, "worker-1") == "continued"
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and not bare_engine.driver.queue  # nothing went to the broker
    assert [j[0] for j in jobs(doc)] == ["review", "tally", "route"]  # each its own commit, one worker
    assert events(doc, "declined_end") == ["entered", "completed"] and events(doc, "announce") == []


def test_a_join_marked_async_fires_once_whichever_arrival_runs_first(bare_engine):
    deploy(bare_engine, JOIN)
    instance_id = bare_engine.start("async_join", {"shipped": 0})
    assert pending(bare_engine, instance_id) == ["start"]  # committed right after the start event
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["shipped"] == 1  # the join fired once
    assert events(doc, "count") == ["entered", "completed"] and events(doc, "end")[-1] == "completed"
    assert events(doc, "join").count("completed") == 1 and events(doc, "pack")[-2:] == ["waiting", "continued"]


def test_commit_points_inside_an_embedded_sub_process_and_around_it(bare_engine):
    deploy(bare_engine, SUBPROCESS)
    instance_id = bare_engine.start("async_subprocess", {})
    seen = [pending(bare_engine, instance_id)]
    while bare_engine.driver.queue:
        run_one(bare_engine)
        seen.append(pending(bare_engine, instance_id))
    # before the sub-process; before the plain task (camunda:async); the timer; after the timer;
    # after the sub-process
    assert seen == [["handle"], ["note"], ["pause"], ["pause"], ["handle"], []]
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert events(doc, "handle") == ["waiting", "continued", "entered", "completed", "waiting", "continued"]


def test_a_failing_script_after_the_commit_is_retried_then_an_incident_and_retry_completes_it(bare_engine):
    deploy(bare_engine, BEFORE_SCRIPT)
    instance_id = bare_engine.start("async_before_script", {"total": 10, "parts": 0})
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [job] = doc["jobs"]
    assert (job["kind"], job["status"], job["attempts"], job["max_attempts"]) == ("continue", "failed", 3, 3)
    [incident] = doc["incidents"]
    assert incident["element_id"] == "split" and "division by zero" in incident["message"]
    assert events(doc, "split") == ["waiting", "retrying", "retrying", "failed"]  # rolled back each time

    bare_engine.edit_variables(instance_id, {"parts": 5}, by="operator", reason="five people")
    bare_engine.retry_incident(incident["id"])
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["share"] == 2.0
    assert events(doc, "split")[-3:] == ["continued", "entered", "completed"]


@pytest.mark.parametrize(("element", "reason"), [
    ('<bpmn:boundaryEvent id="late" attachedToRef="work" camunda:asyncBefore="true">'
     '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
     '</bpmn:boundaryEvent>', "on a boundary event is not supported"),
    ('<bpmn:sequenceFlow id="odd" sourceRef="work" targetRef="end" camunda:asyncAfter="true"/>',
     "is read on activities, gateways and events only"),
    ('<bpmn:userTask id="each"><bpmn:multiInstanceLoopCharacteristics camunda:asyncBefore="true">'
     '<bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
     "on the loop characteristics (a commit point per instance) is not supported"),
])
def test_a_commit_point_baton_cannot_honour_is_refused_naming_the_element(bare_engine, element, reason):
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="refused" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>{element}
    <bpmn:sequenceFlow id="a" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="b" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("refused.bpmn", xml)])
    assert reason in str(refused.value)


def held_join(gateway: str, *, held_first: bool, join: str = "") -> bytes:
    """fork -> pack (asyncAfter) and bill -> join -> count: the branch that arrives second is a user
    task, so a test says which arrival comes first."""
    def task(element_id: str, wait: bool, attrs: str = "") -> str:
        if wait:
            return f'<bpmn:userTask id="{element_id}" {attrs}/>'
        return (f'<bpmn:scriptTask id="{element_id}" scriptFormat="python" {attrs}>'
                f'<bpmn:script>{element_id}ed = True</bpmn:script></bpmn:scriptTask>')
    both = "<bpmn:conditionExpression>True</bpmn:conditionExpression>" if gateway == "inclusiveGateway" else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="held_join" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:{gateway} id="fork"/><bpmn:{gateway} id="join" {join}/>
    {task("pack", not held_first, 'camunda:asyncAfter="true"')}{task("bill", held_first)}
    <bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>shipped = shipped + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="a" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="b" sourceRef="fork" targetRef="pack">{both}</bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="c" sourceRef="fork" targetRef="bill">{both}</bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="d" sourceRef="pack" targetRef="join"/>
    <bpmn:sequenceFlow id="e" sourceRef="bill" targetRef="join"/>
    <bpmn:sequenceFlow id="f" sourceRef="join" targetRef="count"/>
    <bpmn:sequenceFlow id="g" sourceRef="count" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
@pytest.mark.parametrize("held_first", [True, False], ids=["held-arrives-first", "held-arrives-last"])
def test_a_join_waits_for_the_branch_held_after_an_async_after_element(bare_engine, gateway, held_first):
    bare_engine.deploy([("held_join.bpmn", held_join(gateway, held_first=held_first))])
    instance_id = bare_engine.start("held_join", {"shipped": 0})
    bare_engine.complete_user_task(instance_id, "bill" if held_first else "pack", {})

    doc = bare_engine.get_instance(instance_id)  # both branches done; pack's token not at the join yet
    assert doc["status"] == "running" and jobs(doc) == [("pack", "continue", "pending")]
    assert events(doc, "pack")[-2:] == ["completed", "waiting"]
    assert "completed" not in events(doc, "join") and events(doc, "count") == []

    run_one(bare_engine)  # the continue job takes pack's flow: now the join has both and fires once
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["shipped"] == 1
    assert jobs(doc) == [("pack", "continue", "done")] and events(doc, "pack")[-1] == "continued"
    assert events(doc, "join").count("completed") == 1 and events(doc, "count") == ["entered", "completed"]


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_a_join_marked_async_before_fires_once_at_the_job_of_its_last_arrival(bare_engine, gateway):
    xml = held_join(gateway, held_first=True, join='camunda:asyncBefore="true"')
    bare_engine.deploy([("held_join.bpmn", xml.replace(b' camunda:asyncAfter="true"', b""))])
    instance_id = bare_engine.start("held_join", {"shipped": 0})
    assert pending(bare_engine, instance_id) == ["join"]  # pack's arrival waits before the join
    bare_engine.complete_user_task(instance_id, "bill", {})
    assert pending(bare_engine, instance_id) == ["join", "join"]  # bill's too: a job per arrival

    run_one(bare_engine)  # one arrival let go: the other is still before the join, which waits
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "running" and pending(bare_engine, instance_id) == ["join"]
    assert "completed" not in events(doc, "join") and events(doc, "count") == []

    run_one(bare_engine)
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["shipped"] == 1
    assert events(doc, "join").count("completed") == 1 and events(doc, "count") == ["entered", "completed"]


def test_an_in_process_call_failing_after_the_commit_point_fails_the_continue_job(settings_factory,
                                                                                   inline_engine_factory, ledger):
    engine = inline_engine_factory(settings_factory(endpoints=LEDGER_ENDPOINTS))
    engine.deploy([("mended.bpmn", ledger_diagram("after_then_down", [
        ("first", "ledger-reserve", 'camunda:asyncAfter="true"'), ("second", "ledger-reserve", ""),
        ("stock", "ledger-mended", "")]))])
    instance_id = engine.start("after_then_down", {})
    engine.driver.drain()
    doc = engine.get_instance(instance_id)  # rolled back to after 'first' each time, as in Camunda 7
    assert doc["status"] == "incident" and "second_done" not in doc["variables"]
    assert [(j["element_id"], j["kind"], j["status"], j["attempts"]) for j in doc["jobs"]] == [
        ("first", "continue", "failed", 3)]  # no service job of its own
    [incident] = doc["incidents"]
    assert incident["element_id"] == "first" and incident["message"].startswith("first: stock: ")
    assert "the stock service is down" in incident["message"]
    assert events(doc, "second") == [] and events(doc, "first")[-4:] == ["waiting", "retrying", "retrying", "failed"]

    ledger.with_name(ledger.name + ".mended").touch()
    engine.retry_incident(incident["id"])
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["stock"] == "reserved"
    # 'second' was called on every run of the job, with one idempotency key: its effect applied once
    assert sorted(effects(str(ledger)).values()) == [("first", 1), ("second", 4)]
