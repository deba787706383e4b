"""Event sub-processes and event-based gateways run as Camunda 7 runs them.

An armed event sub-process (its start event waits) ends with its scope's main flow, its timer job
cancelled; a triggered one keeps its scope alive until it ends; an interrupting one cancels the
rest of its scope; message and signal start events are subscriptions while their scope is active;
a conditional one is refused at deploy. An event-based gateway's timer branch has a job.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError, MessageNotCorrelated

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="paid_msg" name="Paid"/>
  <bpmn:message id="note_msg" name="Note"/>
  <bpmn:message id="abort_msg" name="Abort"/>
  <bpmn:signal id="halt_sig" name="Halt"/>
"""


def _timer(duration: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>"


def _esp(esp_id: str, trigger: str, interrupting: bool, body: str = "") -> str:
    """An event sub-process: its start event (``trigger``), then ``body`` (a user task) or nothing."""
    flows = (f'<bpmn:sequenceFlow id="{esp_id}_f1" sourceRef="{esp_id}_start" targetRef="{esp_id}_work"/>'
             f'<bpmn:sequenceFlow id="{esp_id}_f2" sourceRef="{esp_id}_work" targetRef="{esp_id}_end"/>') if body else \
        f'<bpmn:sequenceFlow id="{esp_id}_f1" sourceRef="{esp_id}_start" targetRef="{esp_id}_end"/>'
    return (f'<bpmn:subProcess id="{esp_id}" triggeredByEvent="true">'
            f'<bpmn:startEvent id="{esp_id}_start" isInterrupting="{str(interrupting).lower()}">{trigger}'
            f'</bpmn:startEvent>{body}<bpmn:endEvent id="{esp_id}_end"/>{flows}</bpmn:subProcess>')


def _review_process(*esps: str) -> bytes:
    """start -> review (user task) -> done, with the given event sub-processes at the top level."""
    return (HEAD + """<bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:userTask id="review_task"/><bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review_task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review_task" targetRef="done"/>""" + "".join(esps)
            + "</bpmn:process></bpmn:definitions>").encode()


def _events(doc: dict) -> list[tuple[str, str]]:
    return [(h["element_id"], h["event"]) for h in doc["history"]]


def _jobs(doc: dict) -> list[tuple[str, str, str]]:
    return [(j["kind"], j["element_id"], j["status"]) for j in doc["jobs"]]


# -- event-based gateway -------------------------------------------------------------------------

GATEWAY = HEAD + """<bpmn:process id="pay_or_expire" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:eventBasedGateway id="which"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="paid_msg"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="expired">{timers}</bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/><bpmn:endEvent id="timed_out"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="which"/>
    <bpmn:sequenceFlow id="f2" sourceRef="which" targetRef="paid"/>
    <bpmn:sequenceFlow id="f3" sourceRef="which" targetRef="expired"/>
    <bpmn:sequenceFlow id="f4" sourceRef="paid" targetRef="done"/>
    <bpmn:sequenceFlow id="f5" sourceRef="expired" targetRef="timed_out"/>{more}
  </bpmn:process></bpmn:definitions>"""


def test_an_event_based_gateway_timer_branch_fires_at_its_due_time_when_no_message_came(bare_engine):
    bare_engine.deploy([("gw.bpmn", GATEWAY.format(timers=_timer("PT1S"), more="").encode())])
    instance_id = bare_engine.start("pay_or_expire", {}, business_key="order-1")
    assert _jobs(bare_engine.get_instance(instance_id)) == [("timer", "which", "pending")]
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and ("timed_out", "completed") in _events(doc)
    assert ("paid", "completed") not in _events(doc)
    with pytest.raises(MessageNotCorrelated):  # its subscription went with the gateway
        bare_engine.correlate("Paid", business_key="order-1")


def test_a_message_at_an_event_based_gateway_cancels_its_timer_job(bare_engine):
    bare_engine.deploy([("gw.bpmn", GATEWAY.format(timers=_timer("PT1H"), more="").encode())])
    instance_id = bare_engine.start("pay_or_expire", {}, business_key="order-2")
    bare_engine.correlate("Paid", business_key="order-2")
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and ("done", "completed") in _events(doc)
    assert _jobs(doc) == [("timer", "which", "cancelled")]


def test_an_event_based_gateway_with_two_timer_branches_is_refused_naming_it(bare_engine):
    more = """<bpmn:intermediateCatchEvent id="later">""" + _timer("PT2H") + """</bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f6" sourceRef="which" targetRef="later"/>
    <bpmn:sequenceFlow id="f7" sourceRef="later" targetRef="timed_out"/>"""
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("gw.bpmn", GATEWAY.format(timers=_timer("PT1H"), more=more).encode())])
    assert "which" in str(refused.value) and "more than one timer" in str(refused.value)


# -- armed event sub-processes end with their scope ----------------------------------------------

def test_an_armed_timer_event_subprocess_ends_with_the_main_flow_and_its_job_is_cancelled(bare_engine):
    bare_engine.deploy([("r.bpmn", _review_process(_esp("remind", _timer("PT1H"), interrupting=False)))])
    instance_id = bare_engine.start("review", {})
    assert _jobs(bare_engine.get_instance(instance_id)) == [("timer", "remind_start", "pending")]
    bare_engine.complete_user_task(instance_id, "review_task", {})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert _jobs(doc) == [("timer", "remind_start", "cancelled")]


SUBPROCESS = HEAD + """<bpmn:process id="outer" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="inner">
      <bpmn:startEvent id="inner_start"/><bpmn:userTask id="inner_task"/><bpmn:endEvent id="inner_end"/>
      <bpmn:sequenceFlow id="i1" sourceRef="inner_start" targetRef="inner_task"/>
      <bpmn:sequenceFlow id="i2" sourceRef="inner_task" targetRef="inner_end"/>
      {esp}
    </bpmn:subProcess>
    <bpmn:userTask id="after"/><bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner"/>
    <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="done"/>
  </bpmn:process></bpmn:definitions>"""


def test_an_armed_timer_event_subprocess_lets_its_subprocess_end(bare_engine):
    esp = _esp("inner_remind", _timer("PT1H"), interrupting=False)
    bare_engine.deploy([("s.bpmn", SUBPROCESS.format(esp=esp).encode())])
    instance_id = bare_engine.start("outer", {})
    bare_engine.complete_user_task(instance_id, "inner_task", {})
    doc = bare_engine.get_instance(instance_id)
    assert ("inner", "completed") in _events(doc) and ("after", "entered") in _events(doc)
    assert _jobs(doc) == [("timer", "inner_remind_start", "cancelled")]


def test_a_running_non_interrupting_event_subprocess_keeps_the_process_alive_until_it_ends(bare_engine):
    esp = _esp("note", '<bpmn:messageEventDefinition messageRef="note_msg"/>', interrupting=False,
               body='<bpmn:userTask id="note_work"/>')
    bare_engine.deploy([("r.bpmn", _review_process(esp))])
    instance_id = bare_engine.start("review", {}, business_key="case-1")
    bare_engine.correlate("Note", business_key="case-1", variables={"text": "hi"})
    bare_engine.complete_user_task(instance_id, "review_task", {})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "waiting" and ("done", "completed") in _events(doc)
    bare_engine.complete_user_task(instance_id, "note_work", {})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["text"] == "hi"


# -- triggers --------------------------------------------------------------------------------------

def test_an_interrupting_timer_event_subprocess_cancels_the_main_flow(bare_engine):
    bare_engine.deploy([("r.bpmn", _review_process(_esp("expire", _timer("PT1S"), interrupting=True)))])
    instance_id = bare_engine.start("review", {})
    bare_engine.driver.drain()
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert ("review_task", "cancelled") in _events(doc) and ("expire_end", "completed") in _events(doc)
    assert ("done", "completed") not in _events(doc)


def test_a_message_starts_a_non_interrupting_event_subprocess_by_business_key_each_time(bare_engine):
    esp = _esp("note", '<bpmn:messageEventDefinition messageRef="note_msg"/>', interrupting=False)
    bare_engine.deploy([("r.bpmn", _review_process(esp))])
    other = bare_engine.start("review", {}, business_key="case-0")
    instance_id = bare_engine.start("review", {}, business_key="case-1")
    for n in range(2):  # subscribed again while the process runs
        result = bare_engine.correlate("Note", business_key="case-1", variables={"n": n})
        assert result["instance_id"] == instance_id and result["element_id"] == "note_start"
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "waiting" and _events(doc).count(("note_end", "completed")) == 2
    assert not any(e == ("note_end", "completed") for e in _events(bare_engine.get_instance(other)))
    bare_engine.complete_user_task(instance_id, "review_task", {})
    assert bare_engine.get_instance(instance_id)["status"] == "completed"
    with pytest.raises(MessageNotCorrelated):  # the ended process no longer subscribes
        bare_engine.correlate("Note", business_key="case-1")


def test_an_interrupting_message_event_subprocess_cancels_the_main_flow(bare_engine):
    esp = _esp("abort", '<bpmn:messageEventDefinition messageRef="abort_msg"/>', interrupting=True)
    bare_engine.deploy([("r.bpmn", _review_process(esp))])
    instance_id = bare_engine.start("review", {}, business_key="case-2")
    bare_engine.correlate("Abort", business_key="case-2")
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and ("review_task", "cancelled") in _events(doc)
    assert ("abort_end", "completed") in _events(doc)


def test_a_message_event_subprocess_inside_a_subprocess_subscribes_only_while_it_runs(bare_engine):
    esp = _esp("inner_note", '<bpmn:messageEventDefinition messageRef="note_msg"/>', interrupting=False)
    bare_engine.deploy([("s.bpmn", SUBPROCESS.format(esp=esp).encode())])
    instance_id = bare_engine.start("outer", {}, business_key="case-3")
    assert bare_engine.correlate("Note", business_key="case-3")["element_id"] == "inner_note_start"
    bare_engine.complete_user_task(instance_id, "inner_task", {})
    doc = bare_engine.get_instance(instance_id)
    assert ("inner", "completed") in _events(doc) and ("inner_note_end", "completed") in _events(doc)
    with pytest.raises(MessageNotCorrelated):
        bare_engine.correlate("Note", business_key="case-3")


def test_a_signal_broadcast_starts_an_interrupting_signal_event_subprocess(bare_engine):
    esp = _esp("halt", '<bpmn:signalEventDefinition signalRef="halt_sig"/>', interrupting=True)
    bare_engine.deploy([("r.bpmn", _review_process(esp))])
    instance_id = bare_engine.start("review", {})
    result = bare_engine.broadcast_signal("Halt")
    assert instance_id in result["delivered"]
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "completed" and ("review_task", "cancelled") in _events(doc)


def test_a_conditional_start_event_of_an_event_subprocess_is_refused_naming_it(bare_engine):
    condition = ('<bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression" '
                 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">flag == True</bpmn:condition>'
                 '</bpmn:conditionalEventDefinition>')
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("r.bpmn", _review_process(_esp("when", condition, interrupting=False)))])
    assert "when_start" in str(refused.value) and "conditional start event" in str(refused.value)


def test_an_interrupting_timer_cycle_event_subprocess_is_refused_naming_it(bare_engine):
    cycle = "<bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition>"
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("r.bpmn", _review_process(_esp("tick", cycle, interrupting=True)))])
    assert "tick_start" in str(refused.value) and "timer cycle" in str(refused.value)


THROWS = HEAD + """<bpmn:error id="err" errorCode="E1"/><bpmn:escalation id="esc" escalationCode="X1"/>
  <bpmn:process id="throws" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/><bpmn:userTask id="review_task"/>
    <bpmn:endEvent id="thrown">{throw}</bpmn:endEvent><bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="review_task"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="thrown"/>
    <bpmn:sequenceFlow id="f4" sourceRef="review_task" targetRef="done"/>{esp}
  </bpmn:process></bpmn:definitions>"""


def test_an_error_event_subprocess_interrupts_the_other_branches_of_its_scope(bare_engine):
    esp = _esp("on_error", '<bpmn:errorEventDefinition errorRef="err"/>', interrupting=True)
    bare_engine.deploy([("t.bpmn", THROWS.format(throw='<bpmn:errorEventDefinition errorRef="err"/>',
                                                 esp=esp).encode())])
    doc = bare_engine.get_instance(bare_engine.start("throws", {}))
    assert doc["status"] == "completed" and ("on_error_end", "completed") in _events(doc)
    assert ("done", "completed") not in _events(doc) and not doc["jobs"]


def test_a_non_interrupting_escalation_event_subprocess_leaves_the_main_flow_running(bare_engine):
    esp = _esp("on_escalation", '<bpmn:escalationEventDefinition escalationRef="esc"/>', interrupting=False)
    bare_engine.deploy([("t.bpmn", THROWS.format(throw='<bpmn:escalationEventDefinition escalationRef="esc"/>',
                                                 esp=esp).encode())])
    instance_id = bare_engine.start("throws", {})
    doc = bare_engine.get_instance(instance_id)
    assert doc["status"] == "waiting" and ("on_escalation_end", "completed") in _events(doc)
    bare_engine.complete_user_task(instance_id, "review_task", {})
    assert bare_engine.get_instance(instance_id)["status"] == "completed"
