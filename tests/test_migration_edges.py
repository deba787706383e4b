"""Modification and migration at the edges: multi-instance sub-processes, event sub-processes, call
activities and waiting catch events.

Each case either runs as Camunda 7 runs it or is refused naming the element and the reason; none
is accepted and then loses a token, does something twice or leaves a called instance behind.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import InvalidRequest
from tests.test_migration_scopes import HEAD, _history, _migrate


def _open(engine: Any, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in engine.list_user_tasks(instance_id=instance_id))


def _complete_all(engine: Any, instance_id: str, element_id: str) -> None:
    while element_id in _open(engine, instance_id):
        engine.complete_user_task(instance_id, element_id)


# -- multi-instance embedded sub-processes --------------------------------------------------------

def reviews(*, sequential: bool = False, second: str = "second", flat: bool = False) -> bytes:
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
    return (HEAD + '<bpmn:process id="reviews" isExecutable="true"><bpmn:startEvent id="s"/>' + body +
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


def test_cancelling_a_multi_instance_sub_process_ends_every_iteration_and_its_tasks(bare_engine):
    engine = bare_engine
    engine.deploy([("reviews.bpmn", reviews())])
    instance_id = engine.start("reviews")
    engine.modify_instance(instance_id, [{"type": "cancel", "element": "sub"},
                                         {"type": "start_before", "element": "after"}], by="test")
    assert _open(engine, instance_id) == ["after"]


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
    engine.deploy([("reviews.bpmn", reviews(second="second_v2"))])
    _migrate(engine, "reviews", instance_id, {"second": "second_v2"})
    assert {t["id"] for t in engine.list_user_tasks(instance_id=instance_id)} == before
    assert _open(engine, instance_id) == ["first", "first", "second_v2"]
    events = _history(engine, instance_id)
    assert [e for e in events[events.index(("process", "migrated")):] if e[1] in ("entered", "cancelled")] == []
    _complete_all(engine, instance_id, "first")
    _complete_all(engine, instance_id, "second_v2")
    assert _open(engine, instance_id) == ["after"]  # the three iterations completed the activity once
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
