"""Camunda 7 diagrams run as Camunda 7 means them, through the engine's public API.

Each test would fail if Baton accepted the construct and ignored it: a plain task that waits,
a ``camunda:expression`` task whose write is lost, a delegate bound to an endpoint that is not
called, a JUEL loop cardinality, completion condition, collection or timer that is not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import DeploymentError
from tests.conftest import PROCESSES

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def chain(key: str, *elements: str, start: str = '<bpmn:startEvent id="start"/>') -> bytes:
    """A process start -> elements... -> end, each element given as XML with id="eN" (N from 1)."""
    ids = ["start"] + [f"e{i}" for i in range(1, len(elements) + 1)] + ["end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>\n'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    body = start + "\n" + "\n".join(elements) + '\n<bpmn:endEvent id="end"/>\n' + flows
    return (HEAD.replace("{key}", key) + body + TAIL).encode()


@pytest.fixture
def camunda_endpoints(tmp_path: Path) -> Path:
    """The demo endpoint map plus two Java delegates bound to Python callables."""
    path = tmp_path / "endpoints.toml"
    path.write_text((PROCESSES / "endpoints.toml").read_text(encoding="utf-8") + """
[delegates."com.acme.SendInvoice"]
python = "tests.camunda7_handlers:send_invoice"

[delegates."${greeter}"]
python = "tests.camunda7_handlers:greet"

[delegates."com.acme.ChargeCard"]
url = "${BATON_DEMO_SERVICES_URL:-http://127.0.0.1:8010}/payment/charge"
retries = 0
""", encoding="utf-8")
    return path


@pytest.fixture
def engine(settings_factory, inline_engine_factory, camunda_endpoints):  # type: ignore[no-untyped-def]
    return inline_engine_factory(settings_factory(endpoints=camunda_endpoints))


def run(engine: Any, key: str, diagram: bytes, variables: dict[str, Any] | None = None,
        business_key: str | None = None) -> dict[str, Any]:
    engine.deploy([(f"{key}.bpmn", diagram)])
    instance_id = engine.start(key, variables or {}, business_key=business_key)
    engine.driver.drain()
    return engine.get_instance(instance_id)


def visited(doc: dict[str, Any]) -> list[str]:
    return [e["element_id"] for e in doc["history"] if e["event"] == "completed"]


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


IO_TASK = """<bpmn:serviceTask id="e1" camunda:class="com.acme.SendInvoice">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="amount">${order.total * 2}</camunda:inputParameter>
          <camunda:inputParameter name="channel">mail</camunda:inputParameter>
          <camunda:inputParameter name="lines">
            <camunda:list><camunda:value>${order.id}</camunda:value><camunda:value>fixed</camunda:value></camunda:list>
          </camunda:inputParameter>
          <camunda:inputParameter name="meta">
            <camunda:map><camunda:entry key="by">${execution.processBusinessKey}</camunda:entry>
              <camunda:entry key="when"><camunda:script scriptFormat="python">1 + 2</camunda:script></camunda:entry>
            </camunda:map>
          </camunda:inputParameter>
          {outputs}
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"""
SEEN = """<bpmn:serviceTask id="e2" camunda:expression="${execution.setVariable('seen', invoiceSent)}"/>"""


def test_input_parameters_are_locals_and_output_parameters_reach_the_process(engine):  # type: ignore[no-untyped-def]
    outputs = ('<camunda:outputParameter name="paid">${sentAmount}</camunda:outputParameter>'
               '<camunda:outputParameter name="summary">Invoice ${order.id}: ${lines[0]} via ${channel}'
               '</camunda:outputParameter>')
    doc = run(engine, "io", chain("io", IO_TASK.replace("{outputs}", outputs)),
              {"order": {"id": "A-1", "total": 21}, "amount": 5}, business_key="bk-9")
    assert doc["status"] == "completed", doc
    variables = doc["variables"]
    assert variables["paid"] == 42  # the delegate saw the input local amount = 2 * 21
    assert variables["summary"] == "Invoice A-1: A-1 via mail"
    assert variables["amount"] == 5  # the process's own amount is back; the local ended
    # with output parameters, only they reach the process: the delegate's own results stay local
    for local in ("channel", "lines", "meta", "sentAmount", "invoiceSent"):
        assert local not in variables, local


def test_without_outputs_the_work_reaches_the_process_but_not_the_inputs(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "io2", chain("io2", IO_TASK.replace("{outputs}", ""),
                                   SEEN),
              {"order": {"id": "B-2", "total": 1}}, business_key="bk-1")
    assert doc["status"] == "completed", doc
    variables = doc["variables"]
    assert variables["sentAmount"] == 2 and variables["seen"] is True
    assert "channel" not in variables and "lines" not in variables and "amount" not in variables


def test_the_values_of_lists_maps_and_scripts(engine):  # type: ignore[no-untyped-def]
    task = IO_TASK.replace("{outputs}", "".join(f'<camunda:outputParameter name="out_{n}">${{{n}}}'
                                                '</camunda:outputParameter>' for n in ("channel", "lines", "meta")))
    doc = run(engine, "io3", chain("io3", task), {"order": {"id": "C-3", "total": 1}}, business_key="bk-3")
    assert doc["status"] == "completed", doc
    variables = doc["variables"]
    assert (variables["out_channel"], variables["out_lines"], variables["out_meta"]) == (
        "mail", ["C-3", "fixed"], {"by": "bk-3", "when": 3})


def test_an_input_reading_an_unknown_variable_is_an_incident(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "io4", chain("io4", IO_TASK.replace("{outputs}", "")), {"amount": 1})
    assert doc["status"] == "incident"
    assert "order" in doc["incidents"][0]["message"]
    assert "sentAmount" not in doc["variables"]


def test_a_mapping_script_that_is_not_python_is_refused(engine):  # type: ignore[no-untyped-def]
    task = IO_TASK.replace('scriptFormat="python">1 + 2', 'scriptFormat="groovy">new Date()').replace("{outputs}", "")
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("io5.bpmn", chain("io5", task))])
    [problem] = caught.value.problems
    assert problem.element_id == "e1"
    assert "camunda:script (scriptFormat 'groovy') in camunda:inputParameter 'meta' cannot run" in problem.reason


def cron_timeout(key: str, cycle: str) -> bytes:
    """A user task with an interrupting boundary timer whose cycle is a Quartz cron expression."""
    return (HEAD.replace("{key}", key) + f"""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="work"/>
    <bpmn:boundaryEvent id="late" attachedToRef="work">
      <bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="done"/><bpmn:endEvent id="timedOut"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done"/>
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="timedOut"/>
""" + TAIL).encode()


def test_a_quartz_cron_cycle_is_due_at_its_next_match(engine):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    engine.deploy([("weekday.bpmn", cron_timeout("weekday", "0 30 12 ? * MON-FRI"))])
    before = datetime.now(UTC)
    doc = engine.get_instance(engine.start("weekday", {}))
    [job] = [j for j in doc["jobs"] if j["kind"] == "timer"]
    due = datetime.fromisoformat(job["next_run_at"]).replace(tzinfo=UTC)
    expected = before.replace(hour=12, minute=30, second=0, microsecond=0)
    while expected <= before or expected.weekday() >= 5:  # the next weekday at 12:30:00 UTC
        expected += timedelta(days=1)
    assert due == expected


def test_a_quartz_cron_cycle_fires(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "everysecond", cron_timeout("everysecond", "* * * * * ?"))  # drain waits for the timer
    assert doc["status"] == "completed", doc
    assert "timedOut" in visited(doc) and "done" not in visited(doc)


@pytest.mark.parametrize(("cycle", "reason"), [
    ("0 0 12 L * ?", "day of month field 'L': Quartz's L, W and # are not supported by Baton"),
    ("0 0 12 1 * MON", "one of day-of-month and day-of-week must be '?'"),
    ("0 61 * * * ?", "minute field: 61 is outside 0-59"),
    ("0 0 0 30 FEB ?", "it matches no time in the next 8 years"),
])
def test_a_cron_cycle_baton_cannot_run_is_refused(engine, cycle, reason):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("badcron.bpmn", cron_timeout("badcron", cycle))])
    [problem] = caught.value.problems
    assert problem.element_id == "late"
    assert f"timer {cycle!r} is a cron expression Baton cannot run: {reason}" in problem.reason


CHILD = (HEAD.replace("{key}", "child") + """
    <bpmn:startEvent id="cs"/>
    <bpmn:serviceTask id="work" camunda:expression="${execution.setVariable('result', given * 10)}"/>
    <bpmn:serviceTask id="note"
        camunda:expression="${execution.setVariable('seenKeys', execution.hasVariable('secret'))}"/>
    <bpmn:endEvent id="ce"/>
    <bpmn:sequenceFlow id="c1" sourceRef="cs" targetRef="work"/>
    <bpmn:sequenceFlow id="c2" sourceRef="work" targetRef="note"/>
    <bpmn:sequenceFlow id="c3" sourceRef="note" targetRef="ce"/>
""" + TAIL).encode()


def caller(mappings: str) -> bytes:
    return chain("caller", f"""<bpmn:callActivity id="e1" calledElement="child">
      <bpmn:extensionElements>{mappings}</bpmn:extensionElements>
    </bpmn:callActivity>""")


def test_camunda_in_and_out_map_the_variables_across_a_call(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("child.bpmn", CHILD)])
    doc = run(engine, "caller", caller(
        '<camunda:in source="amount" target="given"/>'
        '<camunda:in businessKey="#{execution.processBusinessKey}"/>'
        '<camunda:out source="result" target="total"/>'
        '<camunda:out sourceExpression="${seenKeys ? \'leaked\' : \'private\'}" target="secrecy"/>'),
        {"amount": 4, "secret": "s3"}, business_key="order-5")
    assert doc["status"] == "completed", doc
    variables = doc["variables"]
    assert variables["total"] == 40 and variables["secrecy"] == "private"  # the child never saw 'secret'
    assert variables["amount"] == 4 and variables["secret"] == "s3"  # the caller's own are as they were
    assert "result" not in variables and "given" not in variables  # only what camunda:out maps comes back
    [child] = engine.list_instances(definition="child")["items"]
    assert child["business_key"] == "order-5"


def test_variables_all_passes_and_returns_everything(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("child.bpmn", CHILD)])
    doc = run(engine, "caller", caller('<camunda:in variables="all"/><camunda:out variables="all"/>'),
              {"given": 2, "secret": "s"})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["result"] == 20 and doc["variables"]["seenKeys"] is True


@pytest.mark.parametrize(("mapping", "reason"), [
    ('<camunda:in businessKey="${orderId}"/>', "Baton gives a called instance its caller's business key"),
    ('<camunda:in source="a"/>', "camunda:in needs a target and a source or sourceExpression"),
    ('<camunda:out sourceExpression="${svc.total()}" target="t"/>', "method call 'svc.total()' is not supported"),
])
def test_a_call_mapping_baton_cannot_run_is_refused(engine, mapping, reason):  # type: ignore[no-untyped-def]
    engine.deploy([("child.bpmn", CHILD)])
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("caller.bpmn", caller(mapping))])
    assert any(p.element_id == "e1" and reason in p.reason for p in caught.value.problems), caught.value.problems


INITIATED = chain("initiated", '<bpmn:userTask id="e1" camunda:assignee="${starter}"/>',
                  start='<bpmn:startEvent id="start" camunda:initiator="starter"/>')


def test_camunda_initiator_holds_the_starting_user(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("initiated.bpmn", INITIATED)])
    doc = engine.get_instance(engine.start("initiated", {}, started_by="ada"))
    assert doc["variables"]["starter"] == "ada"
    assert [t["assignee"] for t in engine.list_user_tasks(instance_id=doc["id"])] == ["ada"]
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


DRG = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="drg" name="Dinner"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="beverages" name="Beverages">
    <informationRequirement id="req1"><requiredDecision href="#dish"/></informationRequirement>
    <decisionTable hitPolicy="UNIQUE">
      <input label="Dish"><inputExpression typeRef="string"><text>desiredDish</text></inputExpression></input>
      <output label="Beverage" name="beverage" typeRef="string"/>
      <rule><inputEntry><text>"Roastbeef"</text></inputEntry><outputEntry><text>"Bordeaux"</text></outputEntry></rule>
      <rule><inputEntry><text>"Salad"</text></inputEntry><outputEntry><text>"Water"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="dish" name="Dish">
    <decisionTable id="dishTable" hitPolicy="UNIQUE">
      <input id="in1" label="Season">
        <inputExpression id="ie1" typeRef="string"><text>season</text></inputExpression></input>
      <output id="out1" label="Dish" name="desiredDish" typeRef="string"/>
      <rule id="r1"><inputEntry id="e1"><text>"Winter"</text></inputEntry>
        <outputEntry id="o1"><text>"Roastbeef"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="e2"><text>"Summer"</text></inputEntry>
        <outputEntry id="o2"><text>"Salad"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""
DECIDE = chain("decide", '<bpmn:businessRuleTask id="e1" camunda:decisionRef="beverages"/>')


def test_a_decision_graph_evaluates_the_required_decisions_first(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("decide.bpmn", DECIDE), ("dinner.dmn", DRG)])
    winter = engine.get_instance(engine.start("decide", {"season": "Winter"}))
    assert winter["status"] == "completed", winter
    assert winter["variables"]["beverage"] == "Bordeaux"
    assert "desiredDish" not in winter["variables"]  # a required decision's output is not a result
    summer = engine.get_instance(engine.start("decide", {"season": "Summer"}))
    assert summer["variables"]["beverage"] == "Water"
    # the required decision is one of its own too: a task may name it directly
    engine.deploy([("dish.bpmn", chain("dish", '<bpmn:businessRuleTask id="e1" camunda:decisionRef="dish"/>')),
                   ("dinner.dmn", DRG)])
    assert engine.get_instance(engine.start("dish", {"season": "Winter"}))["variables"]["desiredDish"] == "Roastbeef"


@pytest.mark.parametrize(("change", "reason"), [
    (('href="#dish"', 'href="#starter"'), "beverages: requires decision 'starter', which is not in this DMN file"),
    (('<decision id="dish" name="Dish">', '<decision id="dish" name="Dish"><informationRequirement>'
      '<requiredDecision href="#beverages"/></informationRequirement>'), "the decisions require each other in a cycle"),
])
def test_a_decision_graph_baton_cannot_evaluate_is_refused(engine, change, reason):  # type: ignore[no-untyped-def]
    dmn = DRG.replace(change[0].encode(), change[1].encode())
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("decide.bpmn", DECIDE), ("dinner.dmn", dmn)])
    assert any(reason in str(p) for p in caught.value.problems), caught.value.problems


def test_a_java_delegate_bound_to_an_http_endpoint_is_a_job_calling_it(services, engine):  # type: ignore[no-untyped-def]
    doc = run(engine, "charge", chain("charge", '<bpmn:serviceTask id="e1" camunda:class="com.acme.ChargeCard"/>'),
              {"amount": 30})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["charged"] == 30 and doc["variables"]["payment_id"]
    [job] = doc["jobs"]
    assert (job["element_id"], job["kind"], job["status"]) == ("e1", "service", "done")
