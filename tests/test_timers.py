"""Timers are durable jobs: a waiting timer gets a job due at its time, which wakes the instance."""

from __future__ import annotations

import time
from datetime import UTC, datetime

DEADLINE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="review_with_deadline" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:boundaryEvent id="deadline" attachedToRef="review">
      <bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reviewed"/>
    <bpmn:endEvent id="escalated"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="reviewed"/>
    <bpmn:sequenceFlow id="f3" sourceRef="deadline" targetRef="escalated"/>
  </bpmn:process>
</bpmn:definitions>"""


def deadline_diagram(duration: str) -> bytes:
    """A review (user task) with an interrupting boundary timer of ``duration`` that escalates."""
    return DEADLINE.format(duration=duration).encode()


def test_a_2s_boundary_timer_interrupts_a_waiting_task_within_a_second_of_due(inline_engine):
    inline_engine.deploy([("deadline.bpmn", deadline_diagram("PT2S"))])
    started = time.monotonic()
    instance_id = inline_engine.start("review_with_deadline")
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "waiting"
    [timer] = [j for j in doc["jobs"] if j["kind"] == "timer"]
    assert timer["status"] == "pending" and timer["element_id"] == "deadline"
    inline_engine.driver.drain()  # sleeps until the timer job is due, then runs it
    doc = inline_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    events = [(h["element_id"], h["event"]) for h in doc["history"]]
    assert ("review", "cancelled") in events and ("escalated", "completed") in events
    due = _naive(timer["next_run_at"])
    fired = _naive(next(h["at"] for h in doc["history"] if (h["element_id"], h["event"]) == ("deadline", "completed")))
    assert 0 <= (fired - due).total_seconds() < 1.0
    assert time.monotonic() - started >= 2.0


def _naive(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


REMINDERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="remind" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="pay_invoice" name="Pay invoice"/>
    <bpmn:boundaryEvent id="every_second" attachedToRef="pay_invoice" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="send_reminder" scriptFormat="python">
      <bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="reminder_sent"/>
    <bpmn:endEvent id="paid"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pay_invoice"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pay_invoice" targetRef="paid"/>
    <bpmn:sequenceFlow id="f3" sourceRef="every_second" targetRef="send_reminder"/>
    <bpmn:sequenceFlow id="f4" sourceRef="send_reminder" targetRef="reminder_sent"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_cycle_timer_fires_three_times(inline_engine):
    inline_engine.deploy([("remind.bpmn", REMINDERS)])
    instance_id = inline_engine.start("remind")
    inline_engine.driver.drain()
    doc = inline_engine.get_instance(instance_id)
    reminders = [h for h in doc["history"] if h["element_id"] == "send_reminder" and h["event"] == "completed"]
    assert len(reminders) == 3
    assert doc["status"] == "waiting"  # the invoice is still to be paid
    inline_engine.complete_user_task(instance_id, "pay_invoice")
    assert inline_engine.get_instance(instance_id)["status"] == "completed"


REMINDER = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="reminder" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review"/>
    <bpmn:boundaryEvent id="late" attachedToRef="review">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="file"/>
    <bpmn:endEvent id="end"/>
    <bpmn:endEvent id="late_end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="file"/>
    <bpmn:sequenceFlow id="f3" sourceRef="file" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="late_end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_boundary_timer_job_is_cancelled_when_its_activity_completes_first(bare_engine):
    bare_engine.deploy([("reminder.bpmn", REMINDER)])
    instance_id = bare_engine.start("reminder", {})
    assert [(j["kind"], j["status"]) for j in bare_engine.get_instance(instance_id)["jobs"]] == [("timer", "pending")]
    bare_engine.complete_user_task(instance_id, "review", {})
    doc = bare_engine.get_instance(instance_id)
    # the instance waits at the next task; the timer of the task that ended must not stay armed
    assert doc["status"] == "waiting"
    assert [(j["kind"], j["element_id"], j["status"]) for j in doc["jobs"]] == [("timer", "late", "cancelled")]
    assert not any(h["element_id"] == "late" for h in doc["history"])  # it never fired: no row
