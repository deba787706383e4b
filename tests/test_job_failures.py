"""Any exception in running a job ends as retries and then an incident: attempts never pass
their maximum, and no job is sent again and again because its running raised."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from adapters.runner import run_job
from engine import Engine
from engine.models import Job, utcnow

TIMER_THEN_THROW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="msg_shipped" name="OrderShipped"/>
  <bpmn:correlationProperty id="order_id" name="order_id">
    <bpmn:correlationPropertyRetrievalExpression messageRef="msg_shipped">
      <bpmn:messagePath>{retrieval}</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateThrowEvent id="announce"><bpmn:messageEventDefinition messageRef="msg_shipped"/>
    </bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="announce"/>
    <bpmn:sequenceFlow id="f3" sourceRef="announce" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def deploy(engine: Engine, key: str, retrieval: str = "order_id") -> None:
    engine.deploy([(f"{key}.bpmn", TIMER_THEN_THROW.format(key=key, retrieval=retrieval).encode())])


@pytest.fixture
def quick_engine(settings_factory):  # type: ignore[no-untyped-def]
    """``bare_engine`` with retries a few milliseconds apart (a publish job has 10 attempts)."""
    import migrations
    from adapters.runner import InlineDriver
    from engine import EndpointMap

    settings = settings_factory(retry_base_seconds=0.002)
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, notifier=driver.notify, endpoints=EndpointMap())
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    yield engine
    engine.close()


def test_a_job_whose_processing_raises_is_retried_then_an_incident_with_attempts_at_max(
        quick_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    deploy(quick_engine, "flaky")
    instance_id = quick_engine.start("flaky", {"order_id": "o-1"})

    def broken(self: Engine, job_id: str, result: object) -> None:
        raise RuntimeError("the engine tripped")

    monkeypatch.setattr(Engine, "finish_publish", broken)  # after the message was handed on
    quick_engine.driver.drain()  # the timer, then every attempt of the publish, with backoff; nothing escapes
    doc = quick_engine.get_instance(instance_id)
    [job] = [j for j in doc["jobs"] if j["kind"] == "publish"]
    assert job["status"] == "failed" and job["attempts"] == job["max_attempts"] > 1
    [incident] = doc["incidents"]
    assert "RuntimeError: the engine tripped" in incident["message"] and incident["resolved_at"] is None
    retrying = [h for h in doc["history"] if h["event"] == "retrying"]
    assert len(retrying) == job["max_attempts"] - 1
    assert run_job(quick_engine, job["id"], "late-redelivery") == "skipped"  # a late message changes nothing

    monkeypatch.undo()  # fixed: the operator retries the incident
    quick_engine.retry_incident(incident["id"])
    quick_engine.driver.drain()
    doc = quick_engine.get_instance(instance_id)
    [job] = [j for j in doc["jobs"] if j["kind"] == "publish"]
    assert job["status"] == "done" and doc["incidents"][0]["resolved_at"]


def test_a_job_left_claimed_with_its_attempts_used_up_becomes_an_incident_not_another_run(
        bare_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    deploy(bare_engine, "abandoned")
    instance_id = bare_engine.start("abandoned", {"order_id": "o-1"})
    [ticket] = list(bare_engine.driver.queue)
    bare_engine.driver.queue.clear()
    # its worker died during the last attempt: running, lease over, attempts at the maximum
    with bare_engine.db.transaction() as session:
        session.execute(update(Job).where(Job.id == ticket.id).values(
            status="running", attempts=Job.max_attempts, locked_until=utcnow() - timedelta(seconds=1),
            next_run_at=utcnow() - timedelta(seconds=1), lock_owner="dead-worker"))
    fired: list[str] = []
    monkeypatch.setattr(Engine, "fire_timer", lambda self, job_id: fired.append(job_id))
    assert bare_engine.due_jobs(0.0)  # the relay finds it
    assert run_job(bare_engine, ticket.id, "another-worker") == "skipped"
    assert fired == []
    doc = bare_engine.get_instance(instance_id)
    [job] = doc["jobs"]
    assert job["status"] == "failed" and job["attempts"] == job["max_attempts"]
    [incident] = doc["incidents"]
    assert "gave up after" in incident["message"]
    assert doc["status"] == "incident"


def test_a_correlation_expression_that_fails_is_an_incident_not_an_escape(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy(bare_engine, "bad_key", retrieval="order['id']")
    instance_id = bare_engine.start("bad_key", {"order": {"number": 7}})
    bare_engine.driver.drain()  # the timer fires, the throw evaluates the key, and fails
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert "KeyError" in incident["message"]
    [job] = doc["jobs"]
    assert job["status"] == "done" and job["attempts"] <= job["max_attempts"]


def test_a_correlation_expression_that_works_is_evaluated(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy(bare_engine, "good_key", retrieval="order['id']")
    instance_id = bare_engine.start("good_key", {"order": {"id": "o-7"}})
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["incidents"] == []
    publishes = [j for j in doc["jobs"] if j["kind"] == "publish"]
    assert publishes, doc["jobs"]
