"""The sandbox is ready before its clock starts: scripts, conditions and loop cardinalities run
without incident on a machine whose cores are all busy, a killed sandbox is replaced, and a
sandbox that cannot start is the infrastructure's failure (retried), not the script's."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from bench.burn import start_burners, stop_burners
from engine import SandboxUnavailable
from engine._bpmn import sandbox
from engine._bpmn.sandbox_pool import SandboxPool, ScriptError, child_command

SAFETY_TIMEOUT = 120.0  # how long anything may take before the test calls it hung (not a speed target)

BUSY_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="busy" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="prepare" scriptFormat="python"><bpmn:script>total = amount * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="approved_gate" default="rejected_flow"/>
    <bpmn:scriptTask id="each" scriptFormat="python">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true">
        <bpmn:loopCardinality>5</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
      <bpmn:script>visited = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="big_gate" default="small_flow"/>
    <bpmn:endEvent id="big"/>
    <bpmn:endEvent id="small"/>
    <bpmn:endEvent id="rejected"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="approved_gate"/>
    <bpmn:sequenceFlow id="approved_flow" sourceRef="approved_gate" targetRef="each">
      <bpmn:conditionExpression>approved == True</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="rejected_flow" sourceRef="approved_gate" targetRef="rejected"/>
    <bpmn:sequenceFlow id="f3" sourceRef="each" targetRef="big_gate"/>
    <bpmn:sequenceFlow id="big_flow" sourceRef="big_gate" targetRef="big">
      <bpmn:conditionExpression>len([total]) == 1 and total &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small_flow" sourceRef="big_gate" targetRef="small"/>
  </bpmn:process>
</bpmn:definitions>"""

_SCRIPT_AFTER_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="compute" scriptFormat="python">
      <bpmn:script>total = sum([1, 2, 3])</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute"/>
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""
SCRIPT_AFTER_TIMER = _SCRIPT_AFTER_TIMER.format(key="later", duration="PT0S")
SCRIPT_AFTER_1S = _SCRIPT_AFTER_TIMER.format(key="later", duration="PT1S")


@pytest.fixture
def own_pool(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install a pool of this test's own as the process's shared one (made by ``make``)."""
    made: list[SandboxPool] = []

    def make(**options: object) -> SandboxPool:
        pool = SandboxPool(**options)  # type: ignore[arg-type]
        made.append(pool)
        monkeypatch.setattr(sandbox, "_shared", pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def test_scripts_conditions_and_cardinalities_run_without_incident_while_every_core_is_busy(
        bare_engine, own_pool):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("busy.bpmn", BUSY_PROCESS.encode())])
    burners = start_burners(2 * (os.cpu_count() or 2), SAFETY_TIMEOUT)
    try:
        time.sleep(0.5)  # the burners have the cores before the pool starts: every start is a slow one
        own_pool(size=2)  # cold: started on first need, under load
        for amount in (3, 7, 20):
            instance_id = bare_engine.start("busy", {"amount": amount, "approved": True})
            doc = bare_engine.get_instance(instance_id)
            assert doc["incidents"] == [], doc["incidents"]
            assert doc["status"] == "completed", doc["history"]
            ends = {h["element_id"] for h in doc["history"] if h["element_id"] in ("big", "small", "rejected")}
            assert ends == {"big" if amount * 2 > 10 else "small"}
            assert sum(1 for h in doc["history"] if h["element_id"] == "each" and h["event"] == "completed") >= 5
        rejected = bare_engine.get_instance(bare_engine.start("busy", {"amount": 1, "approved": False}))
        assert rejected["status"] == "completed" and rejected["incidents"] == []
    finally:
        stop_burners(burners)


def test_a_killed_sandbox_is_replaced_and_the_next_script_runs(bare_engine, own_pool):  # type: ignore[no-untyped-def]
    pool = own_pool(size=1)
    assert pool.wait_ready(SAFETY_TIMEOUT)
    [victim] = [child.pid for child in pool._idle]
    os.kill(victim, signal.SIGKILL)
    bare_engine.deploy([("later.bpmn", SCRIPT_AFTER_TIMER.encode())])
    instance_id = bare_engine.start("later")
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["total"] == 6, doc
    assert victim not in [child.pid for child in pool._idle]
    assert pool.stats()["started"] >= 2


def test_a_sandbox_killed_mid_script_is_replaced_and_the_script_runs_again(own_pool):  # type: ignore[no-untyped-def]
    pool = own_pool(size=1, time_limit=SAFETY_TIMEOUT)  # the limit is not what this is about
    assert pool.wait_ready(SAFETY_TIMEOUT)
    [victim] = [child.pid for child in pool._idle]

    def kill_once_busy() -> None:
        deadline = time.monotonic() + SAFETY_TIMEOUT
        while pool.stats()["busy"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_once_busy)
    killer.start()
    # the first child dies under it; the request goes to a replacement and finishes there
    assert pool.run("exec", "n = 0\nfor i in range(5000000):\n    n = n + 1", {})["n"] == 5000000
    killer.join()
    assert pool.stats()["started"] == 2


def test_a_sandbox_that_cannot_start_is_retried_not_an_incident_on_the_script(bare_engine, own_pool):  # type: ignore[no-untyped-def]
    broken = [sys.executable, "-c", "import sys; sys.exit(3)"]
    pool = own_pool(size=1, command=broken, start_attempts=2, retry_delay=0.01)
    bare_engine.deploy([("now.bpmn", SCRIPT_AFTER_TIMER.encode())])
    with pytest.raises(SandboxUnavailable):  # no job to retry: the caller hears it, nothing is stored
        bare_engine.start("later")
    assert bare_engine.list_instances()["total"] == 0

    bare_engine.deploy([("later.bpmn", SCRIPT_AFTER_1S.encode())])
    instance_id = bare_engine.start("later")
    [ticket] = list(bare_engine.driver.queue)
    bare_engine.driver.queue.clear()
    time.sleep(ticket.eta_seconds)

    from adapters.runner import run_job

    assert run_job(bare_engine, ticket.id, "test") == "failed"
    doc = bare_engine.get_instance(instance_id)
    assert doc["incidents"] == [] and doc["status"] != "incident"
    [job] = doc["jobs"]
    assert job["status"] == "pending" and job["attempts"] == 1
    assert "SandboxUnavailable" in job["last_error"] and "script:" not in job["last_error"]
    assert [h["event"] for h in doc["history"] if h["element_id"] == "wait"][-1] == "retrying"

    pool.command = child_command(sandbox.MEMORY_LIMIT_BYTES)  # the machine recovers
    bare_engine.driver.drain()  # the retry the failure scheduled
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["total"] == 6
    assert doc["incidents"] == []


def test_a_sandbox_that_never_starts_ends_as_an_incident_naming_the_sandbox_after_the_last_attempt(
        bare_engine, own_pool):  # type: ignore[no-untyped-def]
    own_pool(size=1, command=[sys.executable, "-c", "import sys; sys.exit(3)"], start_attempts=1)
    bare_engine.deploy([("later.bpmn", SCRIPT_AFTER_1S.encode())])
    instance_id = bare_engine.start("later")
    bare_engine.driver.drain()  # every attempt, with its backoff
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [job] = doc["jobs"]
    assert job["status"] == "failed" and job["attempts"] == job["max_attempts"]
    [incident] = doc["incidents"]
    assert "SandboxUnavailable" in incident["message"] and "script:" not in incident["message"]


def test_a_result_too_large_to_keep_is_refused_and_the_sandbox_replaced(own_pool):  # type: ignore[no-untyped-def]
    pool = own_pool(size=1, time_limit=SAFETY_TIMEOUT)  # building 80 MiB is slow on a busy machine
    with pytest.raises(ScriptError, match="too large"):
        pool.run("exec", "x = 'a' * (80 * 2 ** 20)", {})
    assert pool.run("eval", "sum([1, 2])", {}) == 3
