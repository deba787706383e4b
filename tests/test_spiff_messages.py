"""SpiffArena's messages, event payloads and data-reference loops run as SpiffArena runs them.

The waiter and chef are SpiffArena's own example pair (``../shared/bpmn/spiffarena``, two
processes deployed separately): the waiter's order (``spiffworkflow:messagePayload``) starts a
chef, whose start event keeps it in ``messageVariable`` order_to_cook; the chef's answer carries
the order back, and correlation property ``table_number`` (recorded when the waiter sent its
order) takes it to the waiter of that table, whose catch keeps it in ``messageVariable`` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED

SPIFF = SHARED / "bpmn" / "spiffarena"
MESSAGES = SPIFF / "sartography__example-process-models" / "examples" / "2-in-depth" / "2-4-messages"
CHEF = MESSAGES / "chef" / "simple-message-chef.bpmn"
WAITER = MESSAGES / "waiter" / "simple-message-waiter.bpmn"
ESCALATION = SPIFF / "sartography__SpiffWorkflow" / "tests" / "SpiffWorkflow" / "spiff" / "data" / \
    "escalation_event_payload.bpmn"
LOOP = Path(__file__).parent / "diagrams" / "spiff_loop_data.bpmn"

if not CHEF.is_file():
    pytest.skip(f"the SpiffArena corpus {SPIFF} is missing", allow_module_level=True)


def deploy(engine: Any, path: Path) -> None:
    side = [(p.name, p.read_bytes()) for p in sorted(path.parent.glob("*.json"))]
    engine.deploy([(path.name, path.read_bytes()), *side])


@pytest.fixture
def restaurant(bare_engine):  # type: ignore[no-untyped-def]
    deploy(bare_engine, CHEF)
    deploy(bare_engine, WAITER)
    return bare_engine


def take_order(engine: Any, table: int, meal: str) -> str:
    waiter = engine.start("Process_k6u417e", {})
    engine.complete_user_task(waiter, "Activity_0mg4xyf", {"order": {"table_number": table, "meal": meal}})
    engine.driver.drain()  # the publish job: the order starts a chef
    return waiter


def chef_of(engine: Any, table: int) -> str:
    """The chef instance the order of ``table`` started (it waits at its manual task)."""
    for task in engine.list_user_tasks():
        doc = engine.get_instance(task["instance_id"], history=False)
        if (doc["variables"].get("order_to_cook") or {}).get("table_number") == table:
            return doc["id"]
    raise AssertionError(f"no chef cooks for table {table}")


def test_the_order_reaches_the_chef_in_its_message_variable_and_the_answer_the_waiter(restaurant):  # type: ignore[no-untyped-def]
    waiter = take_order(restaurant, 4, "soup")
    chef = chef_of(restaurant, 4)
    assert restaurant.get_instance(chef, history=False)["variables"]["order_to_cook"] == {"table_number": 4,
                                                                                         "meal": "soup"}
    restaurant.complete_user_task(chef, "Activity_01hg2o8", {})
    restaurant.driver.drain()  # the chef's order_dispatch
    doc = restaurant.get_instance(waiter, history=False)
    assert doc["status"] == "completed"
    # the catch stores the body in messageVariable "order" (not merged: no top-level table_number)
    assert doc["variables"]["order"] == {"table_number": 4, "meal": "soup"}
    assert "table_number" not in doc["variables"]


def test_the_answer_goes_to_the_waiter_whose_table_it_is(restaurant):  # type: ignore[no-untyped-def]
    first = take_order(restaurant, 1, "soup")
    second = take_order(restaurant, 2, "pie")
    restaurant.complete_user_task(chef_of(restaurant, 2), "Activity_01hg2o8", {})  # table 2 is served first
    restaurant.driver.drain()
    assert restaurant.get_instance(second, history=False)["status"] == "completed"
    assert restaurant.get_instance(second, history=False)["variables"]["order"]["meal"] == "pie"
    assert restaurant.get_instance(first, history=False)["status"] == "waiting"
    # the public message API routes by the same recorded correlation value
    result = restaurant.correlate("order_dispatch", correlation={"table_number": 1},
                                  variables={"table_number": 1, "meal": "soup", "note": "from the API"})
    assert result["instance_id"] == first
    doc = restaurant.get_instance(first, history=False)
    assert doc["status"] == "completed"
    assert doc["variables"]["order"]["note"] == "from the API"


def test_an_escalation_payload_is_caught_by_the_boundary_event_into_its_variable(bare_engine):  # type: ignore[no-untyped-def]
    deploy(bare_engine, ESCALATION)
    instance = bare_engine.start("event_test", {})
    # "Set Data" is a plain task, which SpiffArena shows to a person: the values are entered there
    bare_engine.complete_user_task(instance, "set_data", {"escalation": True, "payload": "ERROR!"})
    doc = bare_engine.get_instance(instance, history=False)
    assert doc["status"] == "completed"
    assert doc["variables"]["result"] == "ERROR!"  # payloadExpression "payload" into variableName "result"


def test_a_loop_over_loop_data_input_ref_collects_each_output_item(bare_engine):  # type: ignore[no-untyped-def]
    deploy(bare_engine, LOOP)
    parcels = [{"id": "p1", "kg": 1}, {"id": "p2", "kg": 3}]
    instance = bare_engine.start("label_parcels", {"parcels": parcels})
    doc = bare_engine.get_instance(instance, history=False)
    assert doc["status"] == "completed"
    assert doc["variables"]["labels"] == ["p1-2", "p2-6"]
    assert doc["variables"]["parcels"] == parcels
    assert "parcel" not in doc["variables"] and "label" not in doc["variables"]  # each instance's own


SIGNALS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:signal id="paint" name="paint">
    <bpmn:extensionElements>
      <spiffworkflow:payloadExpression>{'colour': colour}</spiffworkflow:payloadExpression>
      <spiffworkflow:variableName>paint_order</spiffworkflow:variableName>
    </bpmn:extensionElements>
  </bpmn:signal>
  <bpmn:process id="painter" isExecutable="true">
    <bpmn:startEvent id="p_start"/>
    <bpmn:sequenceFlow id="p1" sourceRef="p_start" targetRef="wait_paint"/>
    <bpmn:intermediateCatchEvent id="wait_paint">
      <bpmn:signalEventDefinition signalRef="paint"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="p2" sourceRef="wait_paint" targetRef="p_end"/>
    <bpmn:endEvent id="p_end"/>
  </bpmn:process>
  <bpmn:process id="foreman" isExecutable="true">
    <bpmn:startEvent id="f_start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="f_start" targetRef="order_paint"/>
    <bpmn:intermediateThrowEvent id="order_paint">
      <bpmn:signalEventDefinition signalRef="paint"/>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="order_paint" targetRef="f_end"/>
    <bpmn:endEvent id="f_end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_signal_payload_reaches_another_instance_in_its_variable_name(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("paint.bpmn", SIGNALS)])
    painter = bare_engine.start("painter", {})
    bare_engine.start("foreman", {"colour": "red", "budget": 10})
    bare_engine.driver.drain()  # the signal job: a broadcast to the other instances
    doc = bare_engine.get_instance(painter, history=False)
    assert doc["status"] == "completed"
    assert doc["variables"] == {"paint_order": {"colour": "red"}}  # the payload, not the foreman's data


def sender(payload: str, variable: str = "reply") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="greeting" name="greeting"/>
  <bpmn:process id="greeter" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="greet"/>
    <bpmn:sendTask id="greet" messageRef="greeting">
      <bpmn:extensionElements>
        <spiffworkflow:messagePayload>{payload}</spiffworkflow:messagePayload>
        <spiffworkflow:messageVariable>{variable}</spiffworkflow:messageVariable>
      </bpmn:extensionElements>
    </bpmn:sendTask>
    <bpmn:sequenceFlow id="f2" sourceRef="greet" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_a_message_payload_that_is_no_dict_is_an_incident_on_the_sender(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("greeter.bpmn", sender("'hello'"))])
    doc = bare_engine.get_instance(bare_engine.start("greeter", {}), history=False)
    [incident] = doc["incidents"]
    assert incident["element_id"] == "greet" and "must be a dict" in incident["message"], incident


def test_a_payload_expression_or_variable_that_cannot_run_is_refused_naming_the_element(bare_engine):  # type: ignore[no-untyped-def]
    from engine import DeploymentError

    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("greeter.bpmn", sender("{'a': ", variable="not a name"))])
    reasons = {p.element_id: p.reason for p in refused.value.problems}
    assert "greet" in reasons and "messagePayload" in str(refused.value) and "messageVariable" in str(refused.value)


CORRELATION = SPIFF / "sartography__SpiffWorkflow" / "tests" / "SpiffWorkflow" / "spiff" / "data" / "correlation.bpmn"


def test_each_answer_reaches_the_sub_process_instance_that_asked(bare_engine):  # type: ignore[no-untyped-def]
    """SpiffWorkflow's correlation.bpmn: two instances of a sub-process each start a proc_2 (same
    deployment) with their number; each answer carries it back as init_id, correlation property
    process_id, and must reach the instance that sent that number."""
    deploy(bare_engine, CORRELATION)
    asker = bare_engine.start("proc_1", {})
    for number, task in enumerate(bare_engine.list_user_tasks(instance_id=asker)):
        bare_engine.complete_user_task_by_id(task["id"], {"task_num": number, "task_name": f"subprocess {number}"})
    bare_engine.driver.drain()  # each init_proc_2 starts a proc_2, whose message start keeps it in source_task
    answerers = bare_engine.list_instances(definition="proc_2")["items"]
    assert sorted(bare_engine.get_instance(a["id"], history=False)["variables"]["source_task"]["num"]
                  for a in answerers) == [0, 1]
    for answerer in answerers:
        number = bare_engine.get_instance(answerer["id"], history=False)["variables"]["source_task"]["num"]
        bare_engine.complete_user_task(answerer["id"], "prepare_response", {"response": f"answer {number}"})
    bare_engine.driver.drain()  # each proc_2_response goes to the waiting instance with its process_id
    doc = bare_engine.get_instance(asker, history=False)
    assert doc["status"] == "completed"
    # the sub-process instances' data merge into the process: the last one shows its own answer
    assert doc["variables"]["response"] == {"init_id": doc["variables"]["task_num"],
                                            "response": f"answer {doc['variables']['task_num']}"}


# Two correlation keys in one collaboration: a support desk waits for an "update" that concerns
# either its order (OrderKey: customer and order together) or its ticket (TicketKey). The catch's
# spiffworkflow:processVariableCorrelation sets what it waits for from its own data.
TWO_KEYS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="desk_collaboration">
    <bpmn:participant id="desk_participant" processRef="desk"/>
    <bpmn:correlationKey id="order_key" name="OrderKey">
      <bpmn:correlationPropertyRef>customer</bpmn:correlationPropertyRef>
      <bpmn:correlationPropertyRef>order</bpmn:correlationPropertyRef>
    </bpmn:correlationKey>
    <bpmn:correlationKey id="ticket_key" name="TicketKey">
      <bpmn:correlationPropertyRef>ticket</bpmn:correlationPropertyRef>
    </bpmn:correlationKey>
  </bpmn:collaboration>
  <bpmn:message id="update" name="update"/>
  <bpmn:correlationProperty id="customer" name="customer">
    <bpmn:correlationPropertyRetrievalExpression messageRef="update">
      <bpmn:formalExpression>customer</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:correlationProperty id="order" name="order">
    <bpmn:correlationPropertyRetrievalExpression messageRef="update">
      <bpmn:formalExpression>order</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:correlationProperty id="ticket" name="ticket">
    <bpmn:correlationPropertyRetrievalExpression messageRef="update">
      <bpmn:formalExpression>ticket</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="desk" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_update"/>
    <bpmn:receiveTask id="wait_update" messageRef="update" spiffworkflow:isMatchingCorrelation="true">
      <bpmn:extensionElements>
        <spiffworkflow:messageVariable>update</spiffworkflow:messageVariable>
        <spiffworkflow:processVariableCorrelation>
          <spiffworkflow:propertyId>customer</spiffworkflow:propertyId>
          <spiffworkflow:expression>customer_id</spiffworkflow:expression>
        </spiffworkflow:processVariableCorrelation>
        <spiffworkflow:processVariableCorrelation>
          <spiffworkflow:propertyId>order</spiffworkflow:propertyId>
          <spiffworkflow:expression>order_id</spiffworkflow:expression>
        </spiffworkflow:processVariableCorrelation>
        <spiffworkflow:processVariableCorrelation>
          <spiffworkflow:propertyId>ticket</spiffworkflow:propertyId>
          <spiffworkflow:expression>'T-' + str(ticket_number)</spiffworkflow:expression>
        </spiffworkflow:processVariableCorrelation>
      </bpmn:extensionElements>
    </bpmn:receiveTask>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_update" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_message_reaches_the_conversation_one_of_whose_correlation_keys_it_matches_whole(bare_engine):  # type: ignore[no-untyped-def]
    from engine import MessageNotCorrelated

    bare_engine.deploy([("desk.bpmn", TWO_KEYS)])
    first = bare_engine.start("desk", {"customer_id": 7, "order_id": 1, "ticket_number": 1})
    second = bare_engine.start("desk", {"customer_id": 7, "order_id": 2, "ticket_number": 2})
    # half a key is no key: customer 7 has two orders, and order 3 is neither
    for partial in ({"customer": 7}, {"customer": 7, "order": 3, "ticket": "T-9"}, {"order": 1}):
        with pytest.raises(MessageNotCorrelated):
            bare_engine.correlate("update", correlation=partial, variables={})
    # OrderKey matches whole (customer and order); the ticket, of another conversation, does not matter
    result = bare_engine.correlate("update", correlation={"customer": 7, "order": 2, "ticket": "T-9"},
                                   variables={"status": "shipped"})
    assert result["instance_id"] == second
    assert bare_engine.get_instance(second, history=False)["variables"]["update"] == {"status": "shipped"}
    assert bare_engine.get_instance(first, history=False)["status"] == "waiting"
    # TicketKey alone matches the first desk, though its customer differs from the message's
    result = bare_engine.correlate("update", correlation={"ticket": "T-1", "customer": 8}, variables={"n": 1})
    assert result["instance_id"] == first
    assert bare_engine.get_instance(first, history=False)["status"] == "completed"


def test_a_matching_condition_that_cannot_match_is_refused_naming_the_element(bare_engine):  # type: ignore[no-untyped-def]
    from engine import DeploymentError

    broken = TWO_KEYS.replace(b"<spiffworkflow:propertyId>ticket</spiffworkflow:propertyId>",
                              b"<spiffworkflow:propertyId>tracking</spiffworkflow:propertyId>")
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("desk.bpmn", broken)])
    [problem] = refused.value.problems
    assert problem.element_id == "wait_update" and "'tracking'" in problem.reason, problem
    # on a send task nothing waits: SpiffWorkflow would never evaluate it
    sending = TWO_KEYS.replace(b"<bpmn:receiveTask", b"<bpmn:sendTask").replace(b"</bpmn:receiveTask>",
                                                                               b"</bpmn:sendTask>")
    with pytest.raises(DeploymentError) as refused:
        bare_engine.deploy([("desk.bpmn", sending)])
    reasons = [p.reason for p in refused.value.problems if p.element_id == "wait_update"]
    assert reasons and all("nothing waits" in r for r in reasons), refused.value.problems


# top_level_multi.bpmn's "Notify QA" (spiff-example-cli): the payload calls datetime.datetime.utcnow(),
# the module-style name SpiffWorkflow's examples give scripts; the QA process it starts keeps it.
QA_NOTICE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="delayed" name="order_delayed">
    <bpmn:extensionElements>
      <spiffworkflow:messagePayload>{
  'reason_delayed': reason_delayed,
  'timestamp': datetime.datetime.utcnow().timestamp()
}</spiffworkflow:messagePayload>
      <spiffworkflow:messageVariable>order_info</spiffworkflow:messageVariable>
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="shop" isExecutable="true">
    <bpmn:startEvent id="s_start"/>
    <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="notify_qa"/>
    <bpmn:intermediateThrowEvent id="notify_qa">
      <bpmn:messageEventDefinition messageRef="delayed"/>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="s2" sourceRef="notify_qa" targetRef="s_end"/>
    <bpmn:endEvent id="s_end"/>
  </bpmn:process>
  <bpmn:process id="qa" isExecutable="true">
    <bpmn:startEvent id="q_start">
      <bpmn:messageEventDefinition messageRef="delayed"/>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="q1" sourceRef="q_start" targetRef="q_end"/>
    <bpmn:endEvent id="q_end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_spiff_payload_calling_datetime_datetime_utcnow_reaches_the_process_it_starts(bare_engine):  # type: ignore[no-untyped-def]
    import time

    bare_engine.deploy([("qa.bpmn", QA_NOTICE)])
    shop = bare_engine.start("shop", {"reason_delayed": "storm"})
    assert bare_engine.get_instance(shop, history=False)["status"] == "completed"
    bare_engine.driver.drain()  # the publish job starts a qa
    [qa] = bare_engine.list_instances(definition="qa")["items"]
    info = bare_engine.get_instance(qa["id"], history=False)["variables"]["order_info"]
    assert info["reason_delayed"] == "storm" and abs(info["timestamp"] - time.time()) < 3600 * 24
