"""Camunda 7's variable mappings, cron cycles and decision graphs, through the engine's public API.

Each test would fail if Baton accepted the construct and ignored it: ``camunda:inputOutput``
parameters, ``camunda:in``/``camunda:out`` on a call activity, a Quartz cron timer cycle, a DMN
decision that requires others.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError
from tests.camunda7_world import HEAD, TAIL, chain, engine, run, visited

__all__ = ["engine"]  # the fixture the tests below use


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
    [child] = engine.list_instances(definition="child", business_key="order-5")["items"]
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
