"""Camunda 7 diagrams run as Camunda 7 means them, through the engine's public API.

Each test would fail if Baton accepted the construct and ignored it: a plain task that waits,
a ``camunda:expression`` task whose write is lost, a delegate bound to an endpoint that is not
called, a JUEL loop cardinality, completion condition, collection or timer that is not read.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError
from tests.camunda7_world import HEAD, TAIL, chain, engine, make_engine, run, visited

__all__ = ["engine"]  # the fixture the tests below use


def test_a_plain_task_completes_when_reached(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "plain", chain("plain", '<bpmn:task id="e1" name="Task"/>'))
    assert doc["status"] == "completed"
    assert "e1" in visited(doc)


def test_an_expression_task_sets_variables_and_its_result_variable(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "expr", chain(
        "expr",
        '<bpmn:serviceTask id="e1" camunda:expression="${execution.setVariable(\'approved\', amount &lt; 100)}"/>',
        '<bpmn:serviceTask id="e2" camunda:expression="${amount * 2}" camunda:resultVariable="doubled"/>',
        '<bpmn:serviceTask id="e3" camunda:expression="#{execution.processBusinessKey}" '
        'camunda:resultVariable="key"/>',
    ), {"amount": 40}, business_key="order-7")
    assert doc["status"] == "completed", doc
    assert doc["variables"]["approved"] is True
    assert doc["variables"]["doubled"] == 80
    assert doc["variables"]["key"] == "order-7"


def test_an_expression_task_reading_an_unknown_variable_is_an_incident(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "unknown", chain(
        "unknown", '<bpmn:serviceTask id="e1" camunda:expression="${missing + 1}" camunda:resultVariable="x"/>'))
    assert doc["status"] == "incident"
    [incident] = doc["incidents"]
    assert incident["element_id"] == "e1" and "missing" in incident["message"]
    assert "x" not in doc["variables"]


def test_an_expression_outside_the_subset_is_refused_naming_the_element(engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("bean.bpmn", chain("bean", '<bpmn:serviceTask id="e1" '
                                                   'camunda:expression="${mailer.send(order)}"/>'))])
    [problem] = caught.value.problems
    assert problem.element_id == "e1"
    assert "camunda:expression '${mailer.send(order)}' cannot run: method call 'mailer.send(order)'" in problem.reason


def test_java_delegates_bound_in_the_endpoint_file_run_there(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "delegates", chain(
        "delegates",
        '<bpmn:serviceTask id="e1" camunda:class="com.acme.SendInvoice"/>',
        '<bpmn:serviceTask id="e2" camunda:delegateExpression="${greeter}"/>',
    ), {"amount": 12, "name": "Ada"})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["invoiceSent"] is True and doc["variables"]["sentAmount"] == 12
    assert doc["variables"]["greeting"] == "Hello Ada"


def test_an_unbound_java_delegate_is_refused_saying_how_to_bind_it(engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("java.bpmn", chain("java", '<bpmn:serviceTask id="e1" camunda:class="com.acme.Other"/>'))])
    [problem] = caught.value.problems
    assert problem.element_id == "e1"
    assert "camunda:class 'com.acme.Other' needs a Java runtime; bind it to an endpoint in BATON_ENDPOINTS " \
           "([delegates.\"com.acme.Other\"] with url or python" in problem.reason
    assert "/" not in problem.reason.split("with url or python")[1]  # the map's file name, not its server path


def test_a_condition_reads_the_business_key(engine):  # type: ignore[no-untyped-def]
    xml = (HEAD.replace("{key}", "bk") + """
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="g"/>
    <bpmn:endEvent id="vip"/><bpmn:endEvent id="other"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="g"/>
    <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="vip">
      <bpmn:conditionExpression>${execution.processBusinessKey == 'vip-1'}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="other">
      <bpmn:conditionExpression>${execution.processBusinessKey != 'vip-1'}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
""" + TAIL).encode()
    assert "vip" in visited(run(engine, "bk", xml, business_key="vip-1"))
    assert "other" in visited(run(engine, "bk", xml, business_key="plain-2"))


def test_juel_loop_cardinality_and_completion_condition(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "loop", chain("loop", """<bpmn:serviceTask id="e1"
        camunda:expression="${execution.setVariable('count', count + 1)}">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true">
        <bpmn:loopCardinality>${times}</bpmn:loopCardinality>
        <bpmn:completionCondition>${nrOfCompletedInstances &gt;= stopAfter}</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:serviceTask>"""), {"times": 5, "stopAfter": 3, "count": 0})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["count"] == 3


def test_juel_collection_and_element_variable(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "each", chain("each", """<bpmn:serviceTask id="e1"
        camunda:expression="${execution.setVariable('total', total + score)}">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${creditScores}"
          camunda:elementVariable="score"/>
    </bpmn:serviceTask>"""), {"creditScores": [3, 4, 5], "total": 0})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["total"] == 12


def test_a_juel_collection_beyond_a_variable_is_refused(engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("each2.bpmn", chain("each2", """<bpmn:task id="e1">
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${order.lines}" camunda:elementVariable="x"/>
    </bpmn:task>"""))])
    [problem] = caught.value.problems
    assert problem.element_id == "e1" and "camunda:collection" in problem.reason


def test_a_juel_timer_duration_is_read_from_the_variables(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "wait", chain("wait", """<bpmn:intermediateCatchEvent id="e1">
      <bpmn:timerEventDefinition><bpmn:timeDuration>${delay}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""), {"delay": "PT0.2S"})
    assert doc["status"] == "completed", doc
    timers = [e for e in doc["history"] if e["element_id"] == "e1"]
    assert timers


def test_juel_assignee_and_candidates_are_evaluated_when_the_task_is_ready(engine):  # type: ignore[no-untyped-def]
    xml = chain("review", '<bpmn:userTask id="e1" camunda:assignee="${initiator}" '
                          'camunda:candidateGroups="${team}, auditors" camunda:candidateUsers="${reviewers}"/>')
    doc = run(engine, "review", xml, {"initiator": "ada", "team": "finance", "reviewers": ["bob", "cy"]})
    [task] = engine.list_user_tasks(instance_id=doc["id"])
    assert task["assignee"] == "ada"
    assert task["candidate_groups"] == ["finance", "auditors"]
    assert task["candidate_users"] == ["bob", "cy"]
    assert [t["id"] for t in engine.list_user_tasks(user="ada")] == [task["id"]]
    assert [t["id"] for t in engine.list_user_tasks(groups=["finance"])] == [task["id"]]
    assert engine.list_user_tasks(user="${initiator}") == []

    failed = run(engine, "review", xml, {"team": "finance", "reviewers": []})  # no initiator: Camunda's error
    assert failed["status"] == "incident"
    assert "initiator" in failed["incidents"][0]["message"]
    assert engine.list_user_tasks(instance_id=failed["id"]) == []


INITIATED = chain("initiated", '<bpmn:userTask id="e1" camunda:assignee="${starter}"/>',
                  start='<bpmn:startEvent id="start" camunda:initiator="starter"/>')


def test_camunda_initiator_holds_the_starting_user(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("initiated.bpmn", INITIATED)])
    doc = engine.get_instance(engine.start("initiated", {}, started_by="ben"))
    assert doc["variables"]["starter"] == "ben"
    assert [t["assignee"] for t in engine.list_user_tasks(instance_id=doc["id"])] == ["ben"]
    # started by no user (the CLI, a machine token): the variable is null, and ${starter} assigns no one
    doc = engine.get_instance(engine.start("initiated", {}))
    assert doc["variables"]["starter"] is None
    assert [t["assignee"] for t in engine.list_user_tasks(instance_id=doc["id"])] == [None]


def test_the_user_who_starts_from_the_ui_is_the_initiator(engine):  # type: ignore[no-untyped-def]
    from tests.auth_helpers import csrf, login
    from web import create_app

    engine.deploy([("initiated.bpmn", INITIATED)])
    client = create_app(engine.settings, engine=engine).test_client()
    name = login(client, "operator")
    response = client.post("/definitions/initiated/start", data={
        "variables": "{}", "business_key": "", "version": "", "csrf_token": csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    [task] = engine.list_user_tasks(user=name)
    assert task["assignee"] == name


def test_a_java_delegate_bound_to_an_http_endpoint_is_a_job_calling_it(services, tmp_path):  # type: ignore[no-untyped-def]
    engine = make_engine(tmp_path)  # reads the endpoint file once the demo services listen
    try:
        doc = run(engine, "charge", chain("charge", '<bpmn:serviceTask id="e1" camunda:class="com.acme.ChargeCard"/>'),
                  {"amount": 30})
    finally:
        engine.close()
    assert doc["status"] == "completed", doc
    assert doc["variables"]["charged"] == 30 and doc["variables"]["payment_id"]
    [job] = doc["jobs"]
    assert (job["element_id"], job["kind"], job["status"]) == ("e1", "service", "done")
