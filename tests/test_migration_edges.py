"""Modification and migration at the edges: multi-instance sub-processes, event sub-processes, call
activities and waiting catch events.

Each case either runs as Camunda 7 runs it or is refused naming the element and the reason; none
is accepted and then loses a token, does something twice or leaves a called instance behind.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import InvalidRequest
from tests.test_migration_scopes import HEAD, _history, _migrate, _timer, _timers


def _open(engine: Any, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in engine.list_user_tasks(instance_id=instance_id))


def _complete_all(engine: Any, instance_id: str, element_id: str) -> None:
    while element_id in _open(engine, instance_id):
        engine.complete_user_task(instance_id, element_id)


# -- multi-instance embedded sub-processes --------------------------------------------------------

def reviews(*, sequential: bool = False, second: str = "second", flat: bool = False, extra: str = "") -> bytes:
    """Three iterations of a sub-process ``sub`` (``first`` then ``second``), then ``after``; ``flat``:
    ``first`` alone at the top level instead."""
    marker = ' isSequential="true"' if sequential else ""
    if flat:
        body = '<bpmn:userTask id="first"/>'
        flows = '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="first"/>' \
                '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="after"/>'
    else:
        body = (f'<bpmn:subProcess id="sub"><bpmn:multiInstanceLoopCharacteristics{marker}><bpmn:loopCardinality>3'
                '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics><bpmn:startEvent id="ss"/>'
                f'<bpmn:userTask id="first"/><bpmn:userTask id="{second}"/><bpmn:endEvent id="se"/>'
                '<bpmn:sequenceFlow id="i1" sourceRef="ss" targetRef="first"/>'
                f'<bpmn:sequenceFlow id="i2" sourceRef="first" targetRef="{second}"/>'
                f'<bpmn:sequenceFlow id="i3" sourceRef="{second}" targetRef="se"/></bpmn:subProcess>')
        flows = '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>' \
                '<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>'
    return (HEAD + '<bpmn:process id="reviews" isExecutable="true"><bpmn:startEvent id="s"/>' + body + extra +
            '<bpmn:userTask id="after"/><bpmn:endEvent id="e"/>' + flows +
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/></bpmn:process></bpmn:definitions>').encode()


def test_a_start_inside_parallel_iterations_is_ambiguous_and_cancelling_every_iteration_ends_the_activity(
        bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews())])
    instance_id = engine.start("reviews")
    assert _open(engine, instance_id) == ["first"] * 3
    with pytest.raises(InvalidRequest, match="sub runs 3 times as iterations of a multi-instance sub-process"):
        engine.modify_instance(instance_id, [{"type": "start_before", "element": "second"}], by="test")
    engine.complete_user_task(instance_id, "first")  # one iteration at second, two at first
    with pytest.raises(InvalidRequest, match="one iteration of the multi-instance sub-process sub without a token "
                                             "while 2 other"):
        engine.modify_instance(instance_id, [{"type": "cancel", "element": "second"}], by="test")
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "first"},
                                         {"type": "cancel", "element": "second"},
                                         {"type": "start_before", "element": "after"}], by="test")
    assert _open(engine, instance_id) == ["after"]  # no iteration's task left behind
    events = _history(engine, instance_id)
    assert ("sub", "cancelled") in events
    with pytest.raises(InvalidRequest, match="inside the multi-instance sub-process sub, which is not running"):
        engine.modify_instance(instance_id, [{"type": "start_before", "element": "first"}], by="test")
    engine.complete_user_task(instance_id, "after")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_cancelling_a_multi_instance_sub_process_ends_every_iteration_and_starting_it_makes_them_again(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews())])
    instance_id = engine.start("reviews")
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "sub"},
                                         {"type": "start_before", "element": "after"}], by="test")
    assert _open(engine, instance_id) == ["after"]
    engine.modify_instance(instance_id, [{"type": "start_before", "element": "sub"}], by="test")
    assert _open(engine, instance_id) == ["after", "first", "first", "first"]  # the whole activity again


def test_a_sequential_iteration_is_modified_in_place_and_the_loop_goes_on(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews(sequential=True))])
    instance_id = engine.start("reviews")
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "first"},
                                         {"type": "start_before", "element": "second"}], by="test")
    assert _open(engine, instance_id) == ["second"]
    engine.complete_user_task(instance_id, "second")
    for _ in range(2):  # the two iterations left run as modelled
        engine.complete_user_task(instance_id, "first")
        engine.complete_user_task(instance_id, "second")
    assert _open(engine, instance_id) == ["after"]
    engine.complete_user_task(instance_id, "after")
    assert engine.get_instance(instance_id, history=False)["status"] == "completed"


def test_running_iterations_of_a_multi_instance_sub_process_migrate_in_place(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews())])
    instance_id = engine.start("reviews")
    engine.complete_user_task(instance_id, "first")
    before = {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)}
    engine.deploy([("reviews.bpmn", reviews(second="second_v2", extra=_timer("late", "sub", "P1D")))])
    _migrate(engine, "reviews", instance_id, {"second": "second_v2"})
    assert {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)} == before
    assert [(j["element_id"], j["status"]) for j in _timers(engine, instance_id)] == [("late", "pending")]
    assert _open(engine, instance_id) == ["first", "first", "second_v2"]
    events = _history(engine, instance_id)
    assert [e for e in events[events.index(("process", "migrated")):] if e[1] in ("entered", "cancelled")] == []
    _complete_all(engine, instance_id, "first")
    _complete_all(engine, instance_id, "second_v2")
    assert _open(engine, instance_id) == ["after"]  # the three iterations completed the activity once
    assert [(j["element_id"], j["status"]) for j in _timers(engine, instance_id)] == [("late", "cancelled")]
    engine.complete_user_task(instance_id, "after")
    doc = engine.get_instance(instance_id, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)


def test_a_plan_refuses_to_move_a_token_into_iterations_or_between_kinds_of_multi_instance(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews(flat=True))])
    engine.deploy([("reviews.bpmn", reviews())])
    engine.deploy([("reviews.bpmn", reviews(sequential=True))])
    with pytest.raises(InvalidRequest, match="first -> first: first is inside the multi-instance sub-process sub"):
        engine.migration_plan("reviews", 1, 2, {"first": "first"})
    assert "first" in engine.migration_plan("reviews", 1, 2)["unmapped"]  # by id it is left out
    with pytest.raises(InvalidRequest, match=r"sub -> sub: a CamundaParallelLoop\(SubProcess\) cannot become a "
                                             r"CamundaSequentialLoop\(SubProcess\)"):
        engine.migration_plan("reviews", 2, 3, {"sub": "sub"})


# -- event sub-processes ------------------------------------------------------------------------------

def _event_sub(element: str, start: str, task: str, duration: str) -> str:
    return (f'<bpmn:subProcess id="{element}" triggeredByEvent="true"><bpmn:startEvent id="{start}" '
            f'isInterrupting="false"><bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration>'
            f'</bpmn:timerEventDefinition></bpmn:startEvent><bpmn:userTask id="{task}"/>'
            f'<bpmn:endEvent id="{element}_end"/>'
            f'<bpmn:sequenceFlow id="{element}_1" sourceRef="{start}" targetRef="{task}"/>'
            f'<bpmn:sequenceFlow id="{element}_2" sourceRef="{task}" targetRef="{element}_end"/></bpmn:subProcess>')


def claim(*event_subs: str) -> bytes:
    """``work`` (a user task) with the non-interrupting timer event sub-processes given."""
    return (HEAD + '<bpmn:process id="claim" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
            '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e"/>' + "".join(event_subs) +
            '</bpmn:process></bpmn:definitions>').encode()


def test_a_waiting_event_sub_process_keeps_its_timer_one_the_target_adds_is_armed_and_neither_is_entered(
        bare_engine):
    engine = bare_engine
    engine.deploy([("claim.bpmn", claim(_event_sub("chase", "chase_start", "chase_up", "P1D")))])
    instance_id = engine.start("claim")
    [timer] = _timers(engine, instance_id)
    for instructions, reason in (
            ([{"type": "start_before", "element": "chase_up"}], "the event sub-process chase has not been triggered"),
            ([{"type": "cancel", "element": "chase"}], "chase has not been triggered; it waits for its event"),
            ([{"type": "start_before", "element": "chase"}], "chase is an event sub-process, which its event starts"),
            ([{"type": "cancel", "element": "work"}], "without a token")):
        with pytest.raises(InvalidRequest, match=reason):
            engine.modify_instance(instance_id, instructions, by="test")
    engine.deploy([("claim.bpmn", claim(_event_sub("chase", "chase_start", "chase_up", "P1D"),
                                        _event_sub("escalate", "escalate_start", "escalate_up", "P2D")))])
    _migrate(engine, "claim", instance_id)
    pending = {j["element_id"]: j for j in _timers(engine, instance_id) if j["status"] == "pending"}
    assert set(pending) == {"chase_start", "escalate_start"}
    assert (pending["chase_start"]["id"], pending["chase_start"]["next_run_at"]) == (timer["id"], timer["next_run_at"])
    assert _open(engine, instance_id) == ["work"]
    events = _history(engine, instance_id)  # only what v2 added is entered
    assert {e for e in events[events.index(("process", "migrated")):] if e[1] in ("entered", "cancelled")} == {
        ("escalate", "entered"), ("escalate_start", "entered")}
    with pytest.raises(InvalidRequest, match="work -> escalate_up: escalate_up is inside the event sub-process "
                                             "escalate, which no sub-process around work maps to"):
        engine.migration_plan("claim", 1, 2, {"work": "escalate_up"})


def test_a_triggered_event_sub_process_migrates_with_its_token_and_is_not_armed_again(bare_engine):
    engine = bare_engine
    engine.deploy([("claim.bpmn", claim(_event_sub("chase", "chase_start", "chase_up", "PT1S")))])
    instance_id = engine.start("claim")
    engine.driver.drain()  # a second later the event sub-process runs beside work
    assert _open(engine, instance_id) == ["chase_up", "work"]
    before = {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)}
    engine.deploy([("claim.bpmn", claim(_event_sub("chase", "chase_start", "chase_up_v2", "PT1S")))])
    _migrate(engine, "claim", instance_id, {"chase_up": "chase_up_v2"})
    assert {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)} == before
    assert not [j for j in _timers(engine, instance_id) if j["status"] == "pending"]  # it fired once, in v1
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "chase_up_v2"}], by="test")
    assert ("chase", "cancelled") in _history(engine, instance_id)  # emptied, the event sub-process ends
    engine.complete_user_task(instance_id, "work")
    doc = engine.get_instance(instance_id, history=False)
    assert (doc["status"], doc["definition"]["version"]) == ("completed", 2)


# -- call activities -----------------------------------------------------------------------------------

CALLEE = (HEAD + '<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:userTask id="check"/>'
          '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>'
          '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/></bpmn:process></bpmn:definitions>')


def caller(element: str, called: str, boundary: str = "") -> bytes:
    return (HEAD + f'<bpmn:process id="caller" isExecutable="true"><bpmn:startEvent id="s"/>'
            f'<bpmn:callActivity id="{element}" calledElement="{called}"/>{boundary}<bpmn:userTask id="after"/>'
            f'<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="{element}"/>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="{element}" targetRef="after"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/></bpmn:process></bpmn:definitions>').encode()


def _migrated_call(engine: Any) -> tuple[str, str]:
    """A caller whose running call activity ``vetting`` was migrated to ``vetting_v2`` (another called
    process, a boundary timer added); returns the caller's and the running child's ids."""
    engine.deploy([("callee.bpmn", CALLEE.format(key="vet").encode()),
                   ("callee2.bpmn", CALLEE.format(key="vet_v2").encode())])
    engine.deploy([("caller.bpmn", caller("vetting", "vet"))])
    parent_id = engine.start("caller")
    engine.driver.drain()
    [child] = engine.get_instance(parent_id)["children"]
    # v2 calls another process from another element; the running child is not changed (Camunda)
    engine.deploy([("caller.bpmn", caller("vetting_v2", "vet_v2", _timer("overdue", "vetting_v2", "P1D")))])
    _migrate(engine, "caller", parent_id, {"vetting": "vetting_v2"})
    [same] = engine.get_instance(parent_id)["children"]
    assert same["id"] == child["id"] and same["element_id"] == "vetting_v2"
    assert [(j["element_id"], j["status"]) for j in _timers(engine, parent_id)] == [("overdue", "pending")]
    return parent_id, child["id"]


def test_a_call_activity_mapped_to_another_keeps_its_running_child(bare_engine):
    engine = bare_engine
    parent_id, child_id = _migrated_call(engine)
    engine.complete_user_task(child_id, "check")
    engine.driver.drain()
    assert _open(engine, parent_id) == ["after"]
    events = _history(engine, parent_id)
    assert ("vetting_v2", "completed") in events and ("vetting_v2", "entered") not in events
    assert len(engine.get_instance(parent_id)["children"]) == 1  # not called again
    assert [(j["element_id"], j["status"]) for j in _timers(engine, parent_id)] == [("overdue", "cancelled")]


def test_a_modification_that_cancels_a_migrated_call_activity_cancels_its_running_child(bare_engine):
    engine = bare_engine  # Camunda ends the called instance with its call (call_cancellation.py)
    parent_id, child_id = _migrated_call(engine)
    engine.modify_instance(parent_id, [{"type": "cancel", "element": "vetting_v2"},
                                       {"type": "start_before", "element": "after"}], by="test")
    engine.driver.drain()
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert _open(engine, parent_id) == ["after"]
    assert [(j["element_id"], j["status"]) for j in _timers(engine, parent_id)] == [("overdue", "cancelled")]
    assert ("vetting_v2", "completed") not in _history(engine, parent_id)  # the child's return changed nothing


# -- waiting catch events -------------------------------------------------------------------------------

def pause(element: str, duration: str) -> bytes:
    return (HEAD + f'<bpmn:process id="pause" isExecutable="true"><bpmn:startEvent id="s"/>'
            f'<bpmn:intermediateCatchEvent id="{element}"><bpmn:timerEventDefinition><bpmn:timeDuration>{duration}'
            '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="{element}"/>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="{element}" targetRef="e"/></bpmn:process></bpmn:definitions>'
            ).encode()


def test_a_waiting_timer_catch_mapped_to_another_element_keeps_its_job_and_due_time(bare_engine):
    engine = bare_engine
    engine.deploy([("pause.bpmn", pause("cool_off", "PT1H"))])
    instance_id = engine.start("pause")
    [timer] = _timers(engine, instance_id)
    engine.deploy([("pause.bpmn", pause("settle", "P3D"))])
    _migrate(engine, "pause", instance_id, {"cool_off": "settle"})
    [same] = [j for j in _timers(engine, instance_id) if j["status"] == "pending"]
    assert (same["id"], same["next_run_at"], same["element_id"]) == (timer["id"], timer["next_run_at"], "settle")
    assert "settle" in same["idempotency_key"]


def test_an_event_maps_only_to_one_waiting_for_the_same_kind_of_trigger(bare_engine):
    from tests.test_migration_scopes import review

    engine = bare_engine
    timer = ('<bpmn:boundaryEvent id="remind" attachedToRef="check"><bpmn:timerEventDefinition><bpmn:timeDuration>'
             'PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>')
    message = ('<bpmn:boundaryEvent id="remind" attachedToRef="check"><bpmn:messageEventDefinition messageRef="m"/>'
               '</bpmn:boundaryEvent>')
    ends = '<bpmn:endEvent id="remind_end"/><bpmn:sequenceFlow id="r1" sourceRef="remind" targetRef="remind_end"/>'
    engine.deploy([("review.bpmn", review(timer + ends))])
    engine.deploy([("review.bpmn", review(message + ends).replace(b'<bpmn:process', b'<bpmn:message id="m" '
                                                                   b'name="nudge"/><bpmn:process'))])
    assert "remind" in engine.migration_plan("review", 1, 2)["unmapped"]  # by id it is left out
    with pytest.raises(InvalidRequest, match="remind -> remind: a timer BoundaryEvent cannot become a message one"):
        engine.migration_plan("review", 1, 2, {"remind": "remind"})
    engine.deploy([("pause.bpmn", pause("cool_off", "PT1H"))])
    engine.deploy([("pause.bpmn", pause("cool_off", "P1D").replace(b"timeDuration", b"timeCycle")
                    .replace(b">P1D<", b">R2/P1D<"))])
    assert engine.migration_plan("pause", 1, 2)["mapping"]["cool_off"] == "cool_off"  # a timer stays a timer


def test_an_armed_event_sub_process_keeps_no_scope_alive_and_an_instantiated_scope_arms_it(bare_engine):
    from tests.test_migration_scopes import nested

    engine = bare_engine
    engine.deploy([("nested.bpmn", nested(_event_sub("nag", "nag_start", "nag_up", "P1D")))])
    instance_id = engine.start("nested")
    assert [j["element_id"] for j in _timers(engine, instance_id) if j["status"] == "pending"] == ["nag_start"]
    # the armed event sub-process keeps no token: the emptied sub-process ends, its trigger with it
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "first"},
                                         {"type": "start_before", "element": "after"}], by="test")
    assert ("sub", "cancelled") in _history(engine, instance_id)
    assert not [j for j in _timers(engine, instance_id) if j["status"] == "pending"]
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "after"},
                                         {"type": "start_before", "element": "second"}], by="test")
    assert [j["element_id"] for j in _timers(engine, instance_id) if j["status"] == "pending"] == ["nag_start"]
    assert _open(engine, instance_id) == ["second"]


def test_a_sequential_multi_instance_sub_process_migrates_midway_and_runs_its_remaining_iterations(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews(sequential=True))])
    instance_id = engine.start("reviews")
    engine.complete_user_task(instance_id, "first")
    engine.complete_user_task(instance_id, "second")
    engine.complete_user_task(instance_id, "first")  # iteration 2 of 3 waits at second
    engine.deploy([("reviews.bpmn", reviews(sequential=True, second="second_v2"))])
    _migrate(engine, "reviews", instance_id, {"second": "second_v2"})
    assert _open(engine, instance_id) == ["second_v2"]
    engine.complete_user_task(instance_id, "second_v2")
    engine.complete_user_task(instance_id, "first")  # iteration 3 runs on v2
    engine.complete_user_task(instance_id, "second_v2")
    assert _open(engine, instance_id) == ["after"]
