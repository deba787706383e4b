"""A called instance ends with its call activity, as in Camunda 7: an interrupting boundary event,
the caller cancelled, a terminate end event or the sub-process around the call ending cancels the
child (and its own children); a child that ends after its call was cancelled changes nothing."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import outcomes

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
        '20100524/MODEL" id="d" targetNamespace="t">')


def process(key: str, body: str) -> bytes:
    return (HEAD + f'<bpmn:process id="{key}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>').encode()


def flow(name: str, source: str, target: str) -> str:
    return f'<bpmn:sequenceFlow id="{name}" sourceRef="{source}" targetRef="{target}"/>'


def timer(element: str, attached: str, target: str) -> str:
    """An interrupting boundary timer an hour away (the test makes it due: :func:`fire_timers`)."""
    return (f'<bpmn:boundaryEvent id="{element}" attachedToRef="{attached}"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            + flow(f"{element}_f", element, target))


def fire_timers(engine: Any, instance_id: str) -> None:
    """The hour has passed: the instance's waiting timers are due and fire in this advance."""

    def due_now(session: Any, instance: Any, workflow: Any, step: Any) -> None:
        for task in workflow.get_tasks(state=TaskState.WAITING):
            if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
                task._set_internal_data(event_value="2000-01-01T00:00:00+00:00")
        workflow.refresh_timers()

    engine.advance(instance_id, due_now)


# vet: a person checks; screen: calls vet (a grandchild for the tests that call screen)
VET = process("vet", '<bpmn:startEvent id="s"/><bpmn:userTask id="check"/><bpmn:endEvent id="e"/>'
              + flow("f1", "s", "check") + flow("f2", "check", "e"))
SCREEN = process("screen", '<bpmn:startEvent id="s"/><bpmn:callActivity id="inner" calledElement="vet"/>'
                 '<bpmn:endEvent id="e"/>' + flow("f1", "s", "inner") + flow("f2", "inner", "e"))


def caller(called: str = "vet", extra: str = "") -> bytes:
    """Calls ``called`` at ``vetting``; a boundary timer ``overdue`` on it leads to ``late``."""
    return process("caller", f'<bpmn:startEvent id="s"/><bpmn:callActivity id="vetting" calledElement="{called}"/>'
                   + timer("overdue", "vetting", "late") + '<bpmn:userTask id="late"/><bpmn:userTask id="after"/>'
                   '<bpmn:endEvent id="e"/>' + flow("f1", "s", "vetting") + flow("f2", "vetting", "after")
                   + flow("f3", "after", "e") + extra)


def take(engine: Any, kind: str) -> list[Any]:
    """Take the queued jobs of ``kind`` out of the driver's queue (to run them when the test says)."""
    queue = engine.driver.queue
    taken = [t for t in queue if t.kind == kind]
    for ticket in taken:
        queue.remove(ticket)
    return taken


def jobs(engine: Any, instance_id: str) -> list[tuple[str, str, str]]:
    return [(j["kind"], j["element_id"], j["status"]) for j in engine.get_instance(instance_id, history=False)["jobs"]]


def history(engine: Any, instance_id: str) -> list[tuple[str, str]]:
    return [(h["element_id"], h["event"]) for h in engine.get_instance(instance_id)["history"]]


def cancelled_row(engine: Any, instance_id: str) -> dict[str, Any]:
    [row] = [h for h in engine.get_instance(instance_id)["history"]
             if (h["element_id"], h["event"]) == ("process", "cancelled")]
    return row["details"]


def open_tasks(engine: Any, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in engine.list_user_tasks(instance_id=instance_id))


def deploy_and_call(engine: Any, caller_xml: bytes, *callees: bytes) -> tuple[str, str]:
    engine.deploy([(f"callee{n}.bpmn", xml) for n, xml in enumerate(callees)])
    engine.deploy([("caller.bpmn", caller_xml)])
    parent_id = engine.start("caller")
    engine.driver.drain()
    [child] = engine.get_instance(parent_id)["children"]
    return parent_id, child["id"]


def test_an_interrupting_boundary_timer_on_the_call_activity_cancels_the_called_instance(bare_engine):
    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller(), VET)
    assert open_tasks(engine, child_id) == ["check"]
    fire_timers(engine, parent_id)  # vetting is interrupted...
    engine.driver.drain()  # ...and its child cancelled
    child = engine.get_instance(child_id, history=False)
    assert child["status"] == "cancelled" and open_tasks(engine, child_id) == []
    why = cancelled_row(engine, child_id)
    assert why["caller"] == parent_id and why["call_activity"] == "vetting"
    assert why["reason"] == (f"the call activity vetting of instance {parent_id} was cancelled: "
                             "the boundary event overdue interrupted it")
    parent = engine.get_instance(parent_id, history=False)
    assert parent["status"] == "waiting" and open_tasks(engine, parent_id) == ["late"] and not parent["incidents"]
    assert ("call", "vetting", "cancelled") in jobs(engine, parent_id)
    assert ("cancel_child", "vetting", "done") in jobs(engine, parent_id)
    assert ("return", "-", "done") in jobs(engine, parent_id)  # the child's return changed nothing
    assert ("vetting", "completed") not in history(engine, parent_id)


def test_cancelling_the_caller_cancels_its_children_and_grandchildren(bare_engine):
    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller("screen"), SCREEN, VET)
    [grandchild] = engine.get_instance(child_id)["children"]
    assert open_tasks(engine, grandchild["id"]) == ["check"]
    engine.cancel(parent_id, "customer withdrew")
    engine.driver.drain()
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert engine.get_instance(grandchild["id"], history=False)["status"] == "cancelled"
    assert open_tasks(engine, grandchild["id"]) == []
    assert cancelled_row(engine, child_id)["reason"] == (
        f"the call activity vetting of instance {parent_id} was cancelled: the instance was cancelled "
        "(customer withdrew)")
    assert cancelled_row(engine, grandchild["id"]) == {
        "reason": f"the call activity inner of instance {child_id} was cancelled: the instance was cancelled "
                  f"with its caller {parent_id}", "caller": child_id, "call_activity": "inner"}
    # the children's returns reached the cancelled caller: it stays cancelled (was flipped to completed)
    assert engine.get_instance(parent_id, history=False)["status"] == "cancelled"


def test_a_child_that_completes_after_its_call_was_interrupted_changes_nothing_in_the_caller(bare_engine):
    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller(), VET)
    fire_timers(engine, parent_id)  # vetting is interrupted
    held = take(engine, "cancel_child")
    assert len(held) == 1
    engine.complete_user_task(child_id, "check", {"verdict": "clean"})  # the child ends before its cancel runs
    engine.driver.drain()  # its return
    engine.driver.queue.extend(held)
    engine.driver.drain()  # the cancel finds the child ended
    assert engine.get_instance(child_id, history=False)["status"] == "completed"
    parent = engine.get_instance(parent_id, history=False)
    assert parent["status"] == "waiting" and open_tasks(engine, parent_id) == ["late"] and not parent["incidents"]
    assert "verdict" not in parent["variables"]
    events = history(engine, parent_id)
    assert ("vetting", "completed") not in events and ("after", "entered") not in events
    assert ("cancel_child", "vetting", "done") in jobs(engine, parent_id)


def test_a_child_started_while_its_call_activity_was_being_interrupted_is_cancelled(bare_engine, monkeypatch):
    engine = bare_engine
    engine.deploy([("vet.bpmn", VET)])
    engine.deploy([("caller.bpmn", caller())])
    parent_id = engine.start("caller")
    starting = outcomes.start

    def interrupted_meanwhile(*args: Any, **kwargs: Any) -> str:
        fire_timers(engine, parent_id)  # the worker read its call job; the timer interrupts vetting now,
        engine.driver.drain()  # and the cancel it makes finds no child yet
        return starting(*args, **kwargs)

    monkeypatch.setattr(outcomes, "start", interrupted_meanwhile)
    engine.driver.drain()
    [child] = engine.get_instance(parent_id)["children"]
    child_id = child["id"]
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert "was cancelled while this instance was being started" in cancelled_row(engine, child_id)["reason"]
    assert open_tasks(engine, parent_id) == ["late"]


def test_a_call_that_returns_normally_is_unaffected(bare_engine):
    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller(), VET)
    engine.complete_user_task(child_id, "check", {"verdict": "clean"})
    engine.driver.drain()
    parent = engine.get_instance(parent_id, history=False)
    assert open_tasks(engine, parent_id) == ["after"] and parent["variables"]["verdict"] == "clean"
    assert engine.get_instance(child_id, history=False)["status"] == "completed"
    kinds = [j[0] for j in jobs(engine, parent_id)]
    assert "cancel_child" not in kinds and ("call", "vetting", "done") in jobs(engine, parent_id)
    engine.complete_user_task(parent_id, "after")
    assert engine.get_instance(parent_id, history=False)["status"] == "completed"


def test_a_terminate_end_event_in_the_caller_cancels_the_called_instance(bare_engine):
    engine = bare_engine
    terminating = process("caller", '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
                          '<bpmn:callActivity id="vetting" calledElement="vet"/><bpmn:userTask id="stop"/>'
                          '<bpmn:endEvent id="e"/><bpmn:endEvent id="kill"><bpmn:terminateEventDefinition/>'
                          '</bpmn:endEvent>' + flow("f1", "s", "fork") + flow("f2", "fork", "vetting")
                          + flow("f3", "fork", "stop") + flow("f4", "vetting", "e") + flow("f5", "stop", "kill"))
    parent_id, child_id = deploy_and_call(engine, terminating, VET)
    engine.complete_user_task(parent_id, "stop")
    engine.driver.drain()
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert cancelled_row(engine, child_id)["reason"].endswith("the terminate end event kill ended its scope")
    assert engine.get_instance(parent_id, history=False)["status"] == "completed"


def test_interrupting_the_sub_process_around_a_call_activity_cancels_the_called_instance(bare_engine):
    engine = bare_engine
    around = process("caller", '<bpmn:startEvent id="s"/><bpmn:subProcess id="stage"><bpmn:startEvent id="ss"/>'
                     '<bpmn:callActivity id="vetting" calledElement="vet"/><bpmn:endEvent id="se"/>'
                     + flow("g1", "ss", "vetting") + flow("g2", "vetting", "se") + '</bpmn:subProcess>'
                     + timer("overdue", "stage", "late") + '<bpmn:userTask id="late"/><bpmn:endEvent id="e"/>'
                     + flow("f1", "s", "stage") + flow("f2", "stage", "e"))
    parent_id, child_id = deploy_and_call(engine, around, VET)
    fire_timers(engine, parent_id)  # the timer on the sub-process
    engine.driver.drain()
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert open_tasks(engine, parent_id) == ["late"]


def test_a_modification_may_cancel_a_call_activity_whose_child_runs(bare_engine):
    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller(), VET)
    engine.modify_instance(parent_id, [{"type": "cancel", "element": "vetting"},
                                       {"type": "start_before", "element": "after"}], by="ops", reason="skip it")
    engine.driver.drain()
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    assert cancelled_row(engine, child_id)["reason"] == (
        f"the call activity vetting of instance {parent_id} was cancelled: a modification by ops (skip it)")
    assert open_tasks(engine, parent_id) == ["after"]


def test_cancelling_a_caller_cancels_every_iteration_of_a_multi_instance_call(bare_engine):
    engine = bare_engine
    looping = process("caller", '<bpmn:startEvent id="s"/><bpmn:callActivity id="vetting" calledElement="vet">'
                      '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>'
                      '</bpmn:multiInstanceLoopCharacteristics></bpmn:callActivity><bpmn:endEvent id="e"/>'
                      + flow("f1", "s", "vetting") + flow("f2", "vetting", "e"))
    engine.deploy([("vet.bpmn", VET)])
    engine.deploy([("caller.bpmn", looping)])
    parent_id = engine.start("caller")
    engine.driver.drain()
    children = [c["id"] for c in engine.get_instance(parent_id)["children"]]
    assert len(children) == 2
    engine.cancel(parent_id)
    engine.driver.drain()
    assert [engine.get_instance(c, history=False)["status"] for c in children] == ["cancelled", "cancelled"]


def test_a_cancel_that_fails_is_retried_until_the_child_is_cancelled(bare_engine, monkeypatch):
    from engine import instance_actions

    engine = bare_engine
    parent_id, child_id = deploy_and_call(engine, caller(), VET)
    cancelling, failures = instance_actions.cancel, ["the database went away"]

    def flaky(*args: Any, **kwargs: Any) -> str:
        if failures:
            raise RuntimeError(failures.pop())
        return cancelling(*args, **kwargs)

    monkeypatch.setattr(instance_actions, "cancel", flaky)
    fire_timers(engine, parent_id)
    engine.driver.drain()  # the first run fails, the retry (after its backoff) cancels the child
    assert engine.get_instance(child_id, history=False)["status"] == "cancelled"
    [job] = [j for j in engine.get_instance(parent_id, history=False)["jobs"] if j["kind"] == "cancel_child"]
    assert (job["status"], job["attempts"]) == ("done", 2)
    assert ("vetting", "retrying") in history(engine, parent_id)
