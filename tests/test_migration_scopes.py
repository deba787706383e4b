"""Migration moves an active activity in place (Camunda 7's semantics), and tokens inside embedded
sub-processes can be moved and migrated.

A migrated task is not entered again: a user task keeps its row and claim, a service call that is
in flight is made once and its job keeps its idempotency key, a message wait keeps its
subscription; the boundary events become the target version's (a mapped timer keeps its due date,
an added one is armed, a removed one goes with its job). Inside a sub-process, modification starts
and cancels tokens in the running sub-process (or instantiates it), and migration keeps the
sub-process and its local data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
        '20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">\n')


def _timer(element: str, attached: str, duration: str, *, interrupting: bool = True) -> str:
    cancel = "" if interrupting else ' cancelActivity="false"'
    return (f'<bpmn:boundaryEvent id="{element}" attachedToRef="{attached}"{cancel}><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            f'<bpmn:endEvent id="{element}_end"/>'
            f'<bpmn:sequenceFlow id="{element}_f" sourceRef="{element}" targetRef="{element}_end"/>')


def review(boundary: str = "") -> bytes:
    """A review (user task), with the boundary events given, then a script noting the version."""
    return (HEAD + '<bpmn:process id="review" isExecutable="true"><bpmn:startEvent id="start"/>'
            '<bpmn:userTask id="check" name="Check"/>' + boundary +
            '<bpmn:scriptTask id="note" scriptFormat="python"><bpmn:script>noted = "v"</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="done"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="note"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="note" targetRef="done"/>'
            '</bpmn:process></bpmn:definitions>').encode()


def _history(engine: Any, instance_id: str) -> list[tuple[str, str]]:
    return [(h["element_id"], h["event"]) for h in engine.get_instance(instance_id)["history"]]


def _timers(engine: Any, instance_id: str) -> list[dict[str, Any]]:
    return [j for j in engine.get_instance(instance_id, history=False)["jobs"] if j["kind"] == "timer"]


def _migrate(engine: Any, key: str, instance_id: str, mapping: dict[str, Any] | None = None) -> None:
    result = engine.migrate_instances(engine.migration_plan(key, 1, 2, mapping), [instance_id], by="test")
    assert result["migrated"] == 1, result
    engine._remember_workflow(instance_id, -1, None)  # what follows restores the stored state


def test_a_claimed_user_task_with_a_boundary_timer_migrates_in_place_keeping_claim_and_due_date(bare_engine):
    engine = bare_engine
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "PT1H")))])
    instance_id = engine.start("review", {"amount": 5})
    [task] = engine.list_user_tasks(instance_id=instance_id)
    engine.claim_user_task(task["id"], "alice")
    [timer] = _timers(engine, instance_id)
    # v2: the reminder is a day, and a second (non-interrupting) timer is new
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "P1D")
                                          + _timer("escalate", "check", "PT2H", interrupting=False)))])
    _migrate(engine, "review", instance_id)
    doc = engine.get_instance(instance_id)
    assert doc["definition"]["version"] == 2
    after = doc["history"][[h["event"] for h in doc["history"]].index("migrated"):]
    assert not [h for h in after if h["element_id"] == "check"]  # not cancelled, not entered again
    [same] = engine.list_user_tasks(instance_id=instance_id)
    assert same["id"] == task["id"] and same["claimed_by"] == "alice"
    assert (same["created_at"], same["form"], same["name"]) == (task["created_at"], task["form"], task["name"])
    pending = {j["element_id"]: j for j in _timers(engine, instance_id) if j["status"] == "pending"}
    assert set(pending) == {"remind", "escalate"}
    assert pending["remind"]["id"] == timer["id"] and pending["remind"]["next_run_at"] == timer["next_run_at"]
    engine.complete_user_task(instance_id, "check", {"ok": True})
    done = engine.get_instance(instance_id, history=False)
    assert done["status"] == "completed" and done["variables"]["ok"] is True


def test_a_boundary_timer_the_target_removes_goes_with_its_job(bare_engine):
    engine = bare_engine
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "PT1H")))])
    instance_id = engine.start("review")
    engine.deploy([("review.bpmn", review())])
    _migrate(engine, "review", instance_id)
    assert engine.get_instance(instance_id, history=False)["status"] == "waiting"
    engine.complete_user_task(instance_id, "check")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


CALLS: list[dict[str, Any]] = []
ON_CALL: list[Any] = []


def charge(variables: dict[str, Any]) -> dict[str, Any]:
    """The endpoint the migrated service task calls; counts its calls (bound in the test's map)."""
    CALLS.append(dict(variables))
    while ON_CALL:
        ON_CALL.pop(0)()
    return {"charged": variables.get("amount")}


def payment(error_boundary: bool) -> bytes:
    boundary = ('<bpmn:boundaryEvent id="declined" attachedToRef="charge"><bpmn:errorEventDefinition '
                'errorRef="e1"/></bpmn:boundaryEvent><bpmn:endEvent id="refused"/>'
                '<bpmn:sequenceFlow id="f9" sourceRef="declined" targetRef="refused"/>') if error_boundary else ""
    return (HEAD + '<bpmn:error id="e1" errorCode="DECLINED"/><bpmn:process id="payment" isExecutable="true">'
            '<bpmn:startEvent id="start"/><bpmn:serviceTask id="charge" camunda:type="external" '
            'camunda:topic="charge"/>' + boundary + '<bpmn:endEvent id="paid"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="paid"/>'
            '</bpmn:process></bpmn:definitions>').encode()


@pytest.fixture
def job_engine(settings_factory, inline_engine_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Service calls as jobs (one commit per step), the charge topic bound to :func:`charge`."""
    endpoints = tmp_path / "endpoints.toml"
    endpoints.write_text('[topics.charge]\npython = "tests.test_migration_scopes:charge"\n')
    CALLS.clear()
    ON_CALL.clear()
    return inline_engine_factory(settings_factory(endpoints=endpoints, commit_every_step=True))


@pytest.mark.parametrize("in_flight", [True, False], ids=["claimed", "pending"])
def test_a_service_call_with_a_boundary_error_is_made_once_across_a_migration(job_engine, in_flight):
    engine = job_engine
    engine.deploy([("payment.bpmn", payment(error_boundary=True))])
    instance_id = engine.start("payment", {"amount": 12})
    [job] = [j for j in engine.get_instance(instance_id, history=False)["jobs"] if j["element_id"] == "charge"]
    engine.deploy([("payment.bpmn", payment(error_boundary=True).replace(b'id="paid"', b'id="paid" name="Paid"'))])
    if in_flight:  # the worker has claimed the job and is calling when the instance migrates
        ON_CALL.append(lambda: _migrate(engine, "payment", instance_id))
    else:
        _migrate(engine, "payment", instance_id)
    engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)
    assert len(CALLS) == 1 and doc["variables"]["charged"] == 12
    calls = [j for j in doc["jobs"] if j["element_id"] == "charge"]
    assert [(j["id"], j["idempotency_key"], j["status"]) for j in calls] == [
        (job["id"], job["idempotency_key"], "done")]
    events = _history(engine, instance_id)
    assert ("charge", "entered") not in events[events.index(("process", "migrated")):]


def test_an_external_task_keeps_its_lock_across_a_migration(bare_engine):
    from engine import TopicRequest

    engine = bare_engine
    engine.deploy([("payment.bpmn", payment(error_boundary=False))])
    instance_id = engine.start("payment", {"amount": 3})
    [locked] = engine.fetch_and_lock("worker-1", [TopicRequest("charge", 60.0)], 1)
    engine.deploy([("payment.bpmn", payment(error_boundary=True))])
    _migrate(engine, "payment", instance_id)
    assert engine.complete_external_task(locked.id, "worker-1", {"charged": 3}) == "completed"
    assert engine.get_instance(instance_id, history=False)["definition"]["version"] == 2


def order(boundary: str) -> bytes:
    """A receive task waiting for ``payment``, with the boundary events given."""
    return (HEAD + '<bpmn:message id="m1" name="payment"/><bpmn:message id="m2" name="cancel_order"/>'
            '<bpmn:process id="order" isExecutable="true"><bpmn:startEvent id="start"/>'
            '<bpmn:receiveTask id="await_payment" messageRef="m1"/>' + boundary + '<bpmn:endEvent id="paid"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="await_payment"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="await_payment" targetRef="paid"/>'
            '</bpmn:process></bpmn:definitions>').encode()


CANCEL = ('<bpmn:boundaryEvent id="cancelled" attachedToRef="await_payment"><bpmn:messageEventDefinition '
          'messageRef="m2"/></bpmn:boundaryEvent><bpmn:endEvent id="withdrawn"/>'
          '<bpmn:sequenceFlow id="f3" sourceRef="cancelled" targetRef="withdrawn"/>')


def _subscriptions(engine: Any) -> set[tuple[str, str, str]]:
    from sqlalchemy import select

    from engine.models import MessageSubscription

    with engine.db.reading() as session:
        return {(s.id, s.element_id, s.name) for s in session.scalars(select(MessageSubscription))}


def test_a_message_wait_with_a_boundary_message_keeps_its_subscriptions_and_gains_a_timer(bare_engine):
    engine = bare_engine
    engine.deploy([("order.bpmn", order(CANCEL))])
    instance_id = engine.start("order", business_key="o-1")
    before = _subscriptions(engine)
    assert {name for _, _, name in before} == {"payment", "cancel_order"}
    engine.deploy([("order.bpmn", order(CANCEL + _timer("too_late", "await_payment", "P7D")))])
    _migrate(engine, "order", instance_id)
    assert _subscriptions(engine) == before  # the same rows: nothing subscribed again
    assert [(j["element_id"], j["status"]) for j in _timers(engine, instance_id)] == [("too_late", "pending")]
    engine.correlate("payment", business_key="o-1", variables={"paid": True})
    doc = engine.get_instance(instance_id, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)


# -- tokens inside embedded sub-processes -------------------------------------------------------------

def nested(inner: str = "", *, extra: str = "") -> bytes:
    """A sub-process ``sub`` (with local input ``limit``) holding two user tasks in a row, then ``after``."""
    return (HEAD + '<bpmn:process id="nested" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
            '<bpmn:scriptTask id="prepare" scriptFormat="python"><bpmn:script>limit = 10</bpmn:script>'
            '</bpmn:scriptTask><bpmn:userTask id="first"/><bpmn:userTask id="second"/>' + inner +
            '<bpmn:endEvent id="se"/>'
            '<bpmn:sequenceFlow id="i1" sourceRef="ss" targetRef="prepare"/>'
            '<bpmn:sequenceFlow id="i2" sourceRef="prepare" targetRef="first"/>'
            '<bpmn:sequenceFlow id="i3" sourceRef="first" targetRef="second"/>'
            '<bpmn:sequenceFlow id="i4" sourceRef="second" targetRef="se"/></bpmn:subProcess>' + extra +
            '<bpmn:userTask id="after"/><bpmn:endEvent id="e"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/>'
            '</bpmn:process></bpmn:definitions>').encode()


def test_modification_moves_a_token_inside_a_running_sub_process_keeping_its_local_data(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    instance_id = engine.start("nested", {"who": "x"})
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "first"},
                                         {"type": "start_before", "element": "second", "variables": {"k": 1}}],
                           by="test")
    events = _history(engine, instance_id)
    assert ("first", "cancelled") in events and ("second", "entered") in events
    assert ("sub", "cancelled") not in events and events.count(("sub", "entered")) == 1
    engine.complete_user_task(instance_id, "second")
    doc = engine.get_instance(instance_id, history=False)
    assert doc["status"] == "waiting" and doc["variables"]["limit"] == 10 and doc["variables"]["k"] == 1
    engine.complete_user_task(instance_id, "after")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_modification_starts_inside_a_sub_process_that_is_not_running_by_instantiating_it(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    instance_id = engine.start("nested")
    engine.complete_user_task(instance_id, "first")
    engine.complete_user_task(instance_id, "second")  # the sub-process ended; "after" waits
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "after"},
                                         {"type": "start_before", "element": "second"}], by="test")
    events = _history(engine, instance_id)
    at = events.index(("process", "modified"))
    assert events[at + 1:] == [("after", "cancelled"), ("sub", "entered"), ("second", "entered")]
    engine.complete_user_task(instance_id, "second")
    engine.complete_user_task(instance_id, "after")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_cancelling_the_last_token_of_a_sub_process_ends_it_and_two_running_ones_are_ambiguous(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    instance_id = engine.start("nested")
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "first"},
                                         {"type": "start_before", "element": "after"}], by="test")
    assert ("sub", "cancelled") in _history(engine, instance_id)
    engine.modify_instance(instance_id, [{"type": "start_before", "element": "sub"},
                                         {"type": "start_before", "element": "sub"}], by="test")
    from engine import InvalidRequest

    with pytest.raises(InvalidRequest, match="sub runs 2 times"):
        engine.modify_instance(instance_id, [{"type": "start_before", "element": "second"}], by="test")


def test_a_token_inside_a_sub_process_migrates_with_the_sub_process_and_its_boundary_timer(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    instance_id = engine.start("nested")
    # v2: a timer on the inner task and one on the sub-process; "second" renamed
    v2 = nested(_timer("inner_late", "first", "PT1H"), extra=_timer("sub_late", "sub", "P1D"))
    engine.deploy([("nested.bpmn", v2.replace(b'"second"', b'"second_v2"'))])
    _migrate(engine, "nested", instance_id, {"second": "second_v2"})
    doc = engine.get_instance(instance_id)
    assert doc["definition"]["version"] == 2
    after = doc["history"][[h["event"] for h in doc["history"]].index("migrated"):]
    assert [h for h in after if h["event"] in ("entered", "cancelled")] == []
    assert {j["element_id"] for j in _timers(engine, instance_id) if j["status"] == "pending"} == {
        "inner_late", "sub_late"}
    engine.complete_user_task(instance_id, "first")
    engine.complete_user_task(instance_id, "second_v2")
    doc = engine.get_instance(instance_id, history=False)
    assert doc["variables"]["limit"] == 10  # the sub-process's own data came through
    engine.complete_user_task(instance_id, "after")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_a_plan_that_takes_a_token_out_of_its_mapped_sub_process_is_refused_naming_it(bare_engine):
    from engine import InvalidRequest

    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    renamed = nested().replace(b'<bpmn:userTask id="after"/>', b'<bpmn:userTask id="after" name="After"/>')
    engine.deploy([("nested.bpmn", renamed)])
    with pytest.raises(InvalidRequest, match="first -> after: first is inside the sub-process sub"):
        engine.migration_plan("nested", 1, 2, {"first": "after"})


def flat() -> bytes:
    """``nested`` without its sub-process: prepare, first and second at the top level."""
    return (HEAD + '<bpmn:process id="nested" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:userTask id="first"/><bpmn:userTask id="second"/><bpmn:userTask id="after"/>'
            '<bpmn:endEvent id="e"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="first"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="after"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="e"/>'
            '</bpmn:process></bpmn:definitions>').encode()


def test_a_sub_process_the_target_adds_is_instantiated_around_the_migrated_token(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", flat())])
    instance_id = engine.start("nested")
    [task] = engine.list_user_tasks(instance_id=instance_id)
    engine.deploy([("nested.bpmn", nested())])
    _migrate(engine, "nested", instance_id, {"first": "first"})  # by id it would stay outside: say so
    events = _history(engine, instance_id)
    assert events[events.index(("process", "migrated")):] == [("process", "migrated"), ("sub", "entered")]
    assert [t["id"] for t in engine.list_user_tasks(instance_id=instance_id)] == [task["id"]]
    for element in ("first", "second", "after"):
        engine.complete_user_task(instance_id, element)
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_a_sub_process_the_target_removes_ends_and_its_token_moves_out(bare_engine):
    engine = bare_engine
    engine.deploy([("nested.bpmn", nested())])
    instance_id = engine.start("nested")
    [task] = engine.list_user_tasks(instance_id=instance_id)
    engine.deploy([("nested.bpmn", flat())])
    plan = engine.migration_plan("nested", 1, 2, {"first": "first", "second": "second"})
    assert "sub" in plan["unmapped"]
    result = engine.migrate_instances(plan, [instance_id], by="test")
    assert result["migrated"] == 1, result
    events = _history(engine, instance_id)
    assert events[events.index(("process", "migrated")):] == [("process", "migrated"), ("sub", "cancelled")]
    assert [t["id"] for t in engine.list_user_tasks(instance_id=instance_id)] == [task["id"]]
    for element in ("first", "second", "after"):
        engine.complete_user_task(instance_id, element)
    doc = engine.get_instance(instance_id, history=False)
    assert doc["status"] == "completed" and doc["variables"]["limit"] == 10


def approvals(boundary: str = "") -> bytes:
    """Three parallel approvals (a multi-instance user task)."""
    return (HEAD + '<bpmn:process id="approvals" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:userTask id="approve"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3'
            '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>' + boundary +
            '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="e"/></bpmn:process></bpmn:definitions>').encode()


def test_a_multi_instance_activity_migrates_with_its_iterations_done_and_open(bare_engine):
    engine = bare_engine
    engine.deploy([("approvals.bpmn", approvals())])
    instance_id = engine.start("approvals")
    engine.complete_user_task(instance_id, "approve")
    open_before = {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)}
    engine.deploy([("approvals.bpmn", approvals(_timer("late", "approve", "PT1H")))])
    _migrate(engine, "approvals", instance_id)
    assert {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)} == open_before
    engine.complete_user_task(instance_id, "approve")
    assert engine.get_instance(instance_id, history=False)["status"] == "waiting"
    engine.complete_user_task(instance_id, "approve")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_a_boundary_event_maps_only_along_with_its_activity(bare_engine):
    from engine import InvalidRequest

    engine = bare_engine
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "PT1H")))])
    engine.deploy([("review.bpmn", review(_timer("remind", "note", "PT1H")))])  # v2: on another task
    assert "remind" in engine.migration_plan("review", 1, 2)["unmapped"]  # by id it is left out
    with pytest.raises(InvalidRequest, match="remind -> remind: the boundary event is attached to check"):
        engine.migration_plan("review", 1, 2, {"remind": "remind"})


def test_a_kept_boundary_timer_fires_at_its_first_due_time_and_interrupts_on_the_target(bare_engine):
    engine = bare_engine
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "PT1S")))])
    instance_id = engine.start("review")
    engine.deploy([("review.bpmn", review(_timer("remind", "check", "PT1H")))])  # v2 would wait an hour
    _migrate(engine, "review", instance_id)
    engine.driver.drain()  # sleeps until the kept timer (a second after the start) is due
    doc = engine.get_instance(instance_id, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)
    events = _history(engine, instance_id)
    assert ("check", "cancelled") in events and ("remind_end", "completed") in events
