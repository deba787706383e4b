"""In-process service tasks run inside the advance; the transaction ends at the next real wait.

Python-callable endpoints make no job of their own (unless ``camunda:asyncBefore``/``asyncAfter``
or ``BATON_COMMIT_EVERY_STEP`` say so); a failure there becomes a job, retried, then an incident;
a worker killed between two in-process steps loses nothing and applies no effect twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT
from tests.ledger_handlers import effects

LEDGER_ENDPOINTS = ROOT / "tests" / "endpoints_ledger.toml"
STRAIGHT_TEN = ROOT / "bench" / "straight_ten.bpmn"
BENCH_ENDPOINTS = ROOT / "bench" / "endpoints.toml"


def diagram(process_id: str, steps: list[tuple[str, str, str]], before: str = "") -> bytes:
    """A straight line: start, ``before`` (raw XML of a first element ``wait`` or nothing), then
    one service task per (id, topic, extra attributes), then the end."""
    ids = (["wait"] if before else []) + [s[0] for s in steps]
    tasks = "".join(f'<bpmn:serviceTask id="{i}" camunda:type="external" camunda:topic="{t}" {extra}/>'
                    for i, t, extra in steps)
    chain = ["start", *ids, "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>'
                    for n, (a, b) in enumerate(zip(chain, chain[1:], strict=False)))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"/>{before}{tasks}<bpmn:endEvent id="end"/>{flows}
  </bpmn:process>
</bpmn:definitions>""".encode()


TIMER = ('<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
         '<bpmn:timeDuration>PT0.5S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')


@pytest.fixture
def ledger(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("BATON_TEST_LEDGER", str(path))
    return path


def test_ten_in_process_steps_run_in_the_transaction_that_reached_them(settings_factory, inline_engine_factory):
    engine = inline_engine_factory(settings_factory(endpoints=BENCH_ENDPOINTS))
    engine.deploy([(STRAIGHT_TEN.name, STRAIGHT_TEN.read_bytes())])
    instance_id = engine.start("straight_ten", {})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["steps"] == 10
    assert doc["jobs"] == [] and not engine.driver.queue  # no job, no message
    completed = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
    assert [e for e in completed if e.startswith("step_")] == [f"step_{n}" for n in range(1, 11)]


def test_commit_every_step_makes_each_in_process_step_a_job(settings_factory, inline_engine_factory):
    engine = inline_engine_factory(settings_factory(endpoints=BENCH_ENDPOINTS, commit_every_step=True))
    engine.deploy([(STRAIGHT_TEN.name, STRAIGHT_TEN.read_bytes())])
    instance_id = engine.start("straight_ten", {})
    assert engine.get_instance(instance_id)["status"] == "running"
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["steps"] == 10
    assert len(doc["jobs"]) == 10 and all(j["status"] == "done" for j in doc["jobs"])


def test_async_before_makes_an_in_process_step_its_own_job(settings_factory, inline_engine_factory, ledger):
    engine = inline_engine_factory(settings_factory(endpoints=LEDGER_ENDPOINTS))
    engine.deploy([("async.bpmn", diagram("async_step", [
        ("first", "ledger-reserve", ""), ("second", "ledger-reserve", 'camunda:asyncBefore="true"'),
        ("third", "ledger-reserve", "")]))])
    instance_id = engine.start("async_step", {})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "running" and [j["element_id"] for j in doc["jobs"]] == ["second"]
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and [j["element_id"] for j in doc["jobs"]] == ["second"]
    assert sorted(element for element, _ in effects(str(ledger)).values()) == ["first", "second", "third"]


def test_a_failing_in_process_step_is_retried_as_a_job_then_an_incident(settings_factory, inline_engine_factory,
                                                                          ledger):
    engine = inline_engine_factory(settings_factory(endpoints=LEDGER_ENDPOINTS))
    engine.deploy([("broken.bpmn", diagram("broken_step", [
        ("reserve", "ledger-reserve", ""), ("stock", "ledger-broken", "")]))])
    instance_id = engine.start("broken_step", {})
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [job] = doc["jobs"]
    assert job["element_id"] == "stock" and job["status"] == "failed"
    assert job["attempts"] == job["max_attempts"] == 3
    assert "the stock service is down" in doc["incidents"][0]["message"]
    assert doc["variables"]["reserve_done"] is True  # the step before it committed with the wait


WORKER = textwrap.dedent("""
    import sys
    from adapters.endpoints import call_in_process
    from adapters.runner import run_job
    from engine import Engine, Settings

    engine = Engine(Settings.from_env(), in_process=call_in_process)
    run_job(engine, sys.argv[1], "doomed-worker")
    print("survived")
""")


def test_a_worker_killed_between_two_in_process_steps_loses_nothing_and_applies_nothing_twice(
        settings_factory, ledger, tmp_path, inline_engine_factory):
    settings = settings_factory(endpoints=LEDGER_ENDPOINTS, job_lease_seconds=1.0)
    engine = inline_engine_factory(settings)
    engine.deploy([("crash.bpmn", diagram("crash_between", [
        ("reserve", "ledger-reserve", ""), ("boom", "ledger-crash", ""), ("ship", "ledger-reserve", "")],
        before=TIMER))])
    instance_id = engine.start("crash_between", {})
    [timer] = engine.get_instance(instance_id)["jobs"]
    assert timer["kind"] == "timer"
    time.sleep(0.6)  # due

    flag = tmp_path / "crash.flag"
    flag.touch()
    env = {**os.environ, "BATON_TEST_CRASH": str(flag), "BATON_HOME": str(settings.home),
           "BATON_DATABASE_URL": settings.database_url, "BATON_ENDPOINTS": str(LEDGER_ENDPOINTS),
           "BATON_JOB_LEASE_SECONDS": "1"}
    worker = subprocess.run([sys.executable, "-c", WORKER, timer["id"]], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == -9 and "survived" not in worker.stdout, worker.stderr
    # the worker applied reserve, then died in boom: its transaction never committed
    assert [element for element, _ in effects(str(ledger)).values()] == ["reserve"]
    doc = engine.get_instance(instance_id)
    assert doc["status"] in ("waiting", "running") and doc["jobs"][0]["status"] == "running"
    assert not any(h["element_id"] == "reserve" for h in doc["history"])

    flag.unlink()
    deadline = time.monotonic() + 60
    while engine.get_instance(instance_id)["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.3)  # the dead worker's lease runs out; the relay hands the job to the next
        engine.driver.notify(engine.due_jobs(settings.relay_stale_seconds))
        engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed", doc["status"]
    ledger_rows = effects(str(ledger))
    by_element = sorted(element for element, _ in ledger_rows.values())
    assert by_element == ["boom", "reserve", "ship"], ledger_rows  # each effect once, by its key
    assert {element: calls for element, calls in ledger_rows.values()}["reserve"] == 2  # called again
    assert [h["element_id"] for h in doc["history"] if h["event"] == "completed"].count("reserve") == 1


def test_the_stored_state_of_a_long_loop_stays_the_same_size(settings_factory, inline_engine_factory):
    """Each turn commits (its own job here), and the stored tree holds the live tasks only."""
    from sqlalchemy import func, select

    from adapters.runner import run_job
    from engine.models import ProcessInstance

    # every turn its own job and run_job (no same-worker continuation), so each can be measured
    engine = inline_engine_factory(settings_factory(endpoints=BENCH_ENDPOINTS, commit_every_step=True,
                                                    continue_steps=0))
    loop = ROOT / "bench" / "long_loop.bpmn"
    engine.deploy([(loop.name, loop.read_bytes())])
    instance_id = engine.start("long_loop", {"i": 0, "n": 240})
    sizes: dict[int, int] = {}
    turns = 0
    while engine.driver.queue:
        run_job(engine, engine.driver.queue.popleft().id, "test")
        turns += 1
        if turns in (20, 120, 239):
            with engine.db.reading() as session:
                sizes[turns] = session.scalar(select(func.length(ProcessInstance.state))
                                              .where(ProcessInstance.id == instance_id))
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["i"] == 240 and turns == 240
    assert sizes[120] <= sizes[20] * 1.25 and sizes[239] <= sizes[20] * 1.25, sizes  # it does not grow


def test_a_python_calls_attempts_keep_its_input_and_its_answer_with_secrets_redacted(
        settings_factory, inline_engine_factory, ledger):
    from tests.auth_helpers import login
    from web import create_app

    engine = inline_engine_factory(settings_factory(endpoints=LEDGER_ENDPOINTS))
    engine.deploy([("mended.bpmn", diagram("mended_step", [("stock", "ledger-mended", "")]))])
    instance_id = engine.start("mended_step", {"sku": "s-42", "api_token": "s3cret", "order": {"password": "pw"}})
    engine.driver.drain()
    [incident] = engine.get_instance(instance_id)["incidents"]
    failed = engine.incident_detail(incident["id"])["attempts"]
    assert [a["outcome"] for a in failed] == ["retryable", "retryable"]  # the job's (the in-process try keeps none)
    request = failed[-1]["request"]
    assert request["kind"] == "python" and request["url"] == "python:tests.ledger_handlers:mended"
    assert '"sku": "s-42"' in request["body"] and "s3cret" not in request["body"] and "pw" not in request["body"]
    assert '"api_token": "[redacted]"' in request["body"] and failed[-1]["response"] is None
    assert "the stock service is down" in failed[-1]["error"]

    ledger.with_name(ledger.name + ".mended").touch()
    engine.set_incident_retries(incident["id"], 1, by="test")
    engine.driver.drain()
    assert engine.get_instance(instance_id, history=False)["variables"]["stock"] == "reserved"
    answered = engine.incident_detail(incident["id"])["attempts"][-1]
    assert answered["outcome"] == "ok" and answered["response"]["kind"] == "python"
    assert '"stock": "reserved"' in answered["response"]["body"] and "t0ps3cret" not in answered["response"]["body"]

    client = create_app(engine.settings, engine=engine).test_client()
    login(client, "viewer")
    page = client.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    assert "python:tests.ledger_handlers:mended" in page and "returned" in page
    assert "&#34;stock&#34;: &#34;reserved&#34;" in page or '"stock": "reserved"' in page
