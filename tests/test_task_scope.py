"""Zeebe variable mappings and SpiffArena pre/post scripts run, as their engines run them.

- ``looping-servicetask.bpmn`` (camunda/zeebe-process-test, unedited): the start event's output
  sets ``loopAmount`` to 0, the service task's output adds one per call, a FEEL condition loops
  until ``totalLoops``. Ignore the mappings and the instance ends after one call without
  ``loopAmount``. The job's own variable stays local, as Zeebe keeps it when outputs exist.
- Inputs are local to the task: the handler sees them, the process does not; dotted targets
  build contexts; without outputs, the job's variables reach the process.
- ``script_on_mi.bpmn`` (SpiffWorkflow's tests) without its loop: the pre-script adds one to
  ``input_item`` before the task, the post-script takes one from ``output_item`` after it.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError
from tests.conftest import IN_CI, ROOT, SHARED

CAMUNDA8 = SHARED / "bpmn" / "camunda8"
SPIFF = SHARED / "bpmn" / "spiffarena"
LOOPING = CAMUNDA8 / "camunda__zeebe-process-test/qa/abstracts/src/main/resources/looping-servicetask.bpmn"
SCRIPT_ON_MI = SPIFF / "sartography__SpiffWorkflow/tests/SpiffWorkflow/spiff/data/script_on_mi.bpmn"
ENDPOINTS = ROOT / "tests" / "endpoints_dialects.toml"

if not LOOPING.is_file():
    if IN_CI:
        pytest.fail(f"the reference corpus {LOOPING.parent} is missing; CI needs it", pytrace=False)
    pytest.skip("the reference corpus is missing", allow_module_level=True)


@pytest.fixture
def engine(settings_factory, inline_engine_factory):  # type: ignore[no-untyped-def]
    return inline_engine_factory(settings_factory(endpoints=ENDPOINTS))


def run(engine, files: list[tuple[str, bytes]], variables: dict) -> dict:  # type: ignore[no-untyped-def]
    [result] = engine.deploy(files)
    instance_id = engine.start(result.key, variables)
    engine.driver.drain()
    return engine.get_instance(instance_id)


def test_zeebe_output_mappings_drive_the_loop(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, [(LOOPING.name, LOOPING.read_bytes())], {"totalLoops": 3})
    assert doc["status"] == "completed", doc
    assert doc["variables"] == {"totalLoops": 3, "loopAmount": 3}  # job_saw stayed local to each call


ZEEBE_INPUTS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0"
    id="d" targetNamespace="http://bpmn.io/schema/bpmn" modeler:executionPlatform="Camunda Cloud">
  <bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="check" name="Check order">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="echo"/>
        <zeebe:ioMapping>
          <zeebe:input source="=order.total * 2" target="doubled"/>
          <zeebe:input source="=upper case(order.customer)" target="request.customer"/>
          <zeebe:input source="standard" target="request.tier"/>
          {outputs}
        </zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""
ORDER = {"order": {"total": 21, "customer": "ada"}}


def test_zeebe_inputs_are_local_to_the_task_and_reach_the_call(engine):  # type: ignore[no-untyped-def]
    doc = run(engine, [("review.bpmn", ZEEBE_INPUTS.replace("{outputs}", "").encode())], ORDER)
    assert doc["status"] == "completed", doc
    variables = doc["variables"]
    assert variables["seen"] == {**ORDER, "doubled": 42, "request": {"customer": "ADA", "tier": "standard"}}
    # no output mappings: the job's variables reach the process, the input locals do not
    assert set(variables) == {"order", "seen", "approved"}


def test_zeebe_outputs_alone_reach_the_process_with_dotted_targets(engine):  # type: ignore[no-untyped-def]
    outputs = ('<zeebe:output source="=approved and doubled > 40" target="decision.ok"/>'
               '<zeebe:output source="=request.customer" target="decision.by"/>')
    doc = run(engine, [("review.bpmn", ZEEBE_INPUTS.replace("{outputs}", outputs).encode())], ORDER)
    assert doc["status"] == "completed", doc
    assert doc["variables"] == {**ORDER, "decision": {"ok": True, "by": "ADA"}}


def test_a_mapping_outside_the_feel_subset_is_refused_naming_the_task(engine):  # type: ignore[no-untyped-def]
    bad = ZEEBE_INPUTS.replace("{outputs}", '<zeebe:output source="=matches(x, &quot;a+&quot;)" target="m"/>'
                               '<zeebe:output source="=1" target="not a name"/>')
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("review.bpmn", bad.encode())])
    reasons = [(p.element_id, p.reason) for p in caught.value.problems]
    assert any(e == "check" and "zeebe:output 'm': FEEL expression" in r for e, r in reasons), reasons
    assert any(e == "check" and "target 'not a name' is not a variable name" in r for e, r in reasons), reasons


def spiff_without_loop() -> bytes:
    """SpiffWorkflow's script_on_mi.bpmn with its multi-instance marker taken off (one task)."""
    text = SCRIPT_ON_MI.read_text(encoding="utf-8")
    start = text.index("<bpmn:multiInstanceLoopCharacteristics")
    end = text.index("</bpmn:multiInstanceLoopCharacteristics>") + len("</bpmn:multiInstanceLoopCharacteristics>")
    return (text[:start] + text[end:]).encode()


def test_spiff_pre_and_post_scripts_run_around_the_task(engine):  # type: ignore[no-untyped-def]
    # the plain task waits for a person, as SpiffArena shows it: the pre-script ran when it became ready
    doc = run(engine, [("script_once.bpmn", spiff_without_loop())], {"input_item": 1, "output_item": 10})
    assert doc["status"] == "waiting" and doc["variables"]["input_item"] == 2, doc
    engine.complete_user_task(doc["id"], "any_task", {})
    doc = engine.get_instance(doc["id"])
    assert doc["status"] == "completed", doc
    assert doc["variables"] == {"input_item": 2, "output_item": 9}


def test_a_failing_post_script_of_an_automatic_task_is_an_incident_naming_it(engine):  # type: ignore[no-untyped-def]
    # the same task as a script task: nobody submits it, so the failure is an incident on it
    text = spiff_without_loop().decode().replace('<bpmn:task id="any_task" name="Any Task">',
                                                  '<bpmn:scriptTask id="any_task" name="Any Task">')
    text = text.replace("</bpmn:task>", "<bpmn:script>seen = True</bpmn:script></bpmn:scriptTask>")
    doc = run(engine, [("script_once.bpmn", text.encode())], {"input_item": 1})
    assert doc["status"] != "completed"
    [incident] = [i for i in doc["incidents"] if i.get("status", "open") == "open"]
    assert incident["element_id"] == "any_task"
    assert "output_item" in incident["message"] and "postScript" in incident["message"], incident


def test_a_failing_post_script_refuses_the_completion_naming_it(engine):  # type: ignore[no-untyped-def]
    from engine import InvalidVariables

    doc = run(engine, [("script_once.bpmn", spiff_without_loop())], {"input_item": 1})
    with pytest.raises(InvalidVariables, match="postScript") as refused:
        engine.complete_user_task(doc["id"], "any_task", {})
    assert "output_item" in str(refused.value)
    engine.complete_user_task(doc["id"], "any_task", {"output_item": 3})  # what the person enters runs it
    assert engine.get_instance(doc["id"])["variables"]["output_item"] == 2


DISH_DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dish_defs" name="Dish"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="dish" name="Dish">
    <decisionTable id="table" hitPolicy="UNIQUE">
      <input id="in1" label="Season"><inputExpression id="ie1" typeRef="string"><text>season</text></inputExpression>
      </input>
      <output id="out1" label="Dish" name="dish" typeRef="string"/>
      {second_output}
      <rule id="r1"><inputEntry id="e1"><text>"Winter"</text></inputEntry><outputEntry id="o1"><text>"Roastbeef"</text>
      </outputEntry>{second_entry}</rule>
    </decisionTable>
  </decision>
</definitions>"""

ZEEBE_DECISION = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="dinner" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="decide">
      <bpmn:extensionElements><zeebe:calledDecision decisionId="dish" resultVariable="menu"/></bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_zeebe_decision_result_lands_in_its_result_variable(engine):  # type: ignore[no-untyped-def]
    one = DISH_DMN.replace(b"{second_output}", b"").replace(b"{second_entry}", b"")
    doc = run(engine, [("dinner.bpmn", ZEEBE_DECISION), ("dish.dmn", one)], {"season": "Winter"})
    assert doc["status"] == "completed", doc
    assert doc["variables"] == {"season": "Winter", "menu": "Roastbeef"}  # one output column: its value
    two = DISH_DMN.replace(b"{second_output}", b'<output id="out2" label="Wine" name="wine" typeRef="string"/>') \
        .replace(b"{second_entry}", b'<outputEntry id="o2"><text>"Red"</text></outputEntry>')
    doc = run(engine, [("dinner.bpmn", ZEEBE_DECISION), ("dish.dmn", two)], {"season": "Winter"})
    assert doc["variables"] == {"season": "Winter", "menu": {"dish": "Roastbeef", "wine": "Red"}}  # a context


def test_a_zeebe_collect_decision_result_is_a_list(engine):  # type: ignore[no-untyped-def]
    collect = DISH_DMN.replace(b'hitPolicy="UNIQUE"', b'hitPolicy="COLLECT"').replace(b"{second_output}", b"") \
        .replace(b"{second_entry}", b'</rule><rule id="r2"><inputEntry id="e2"><text>"Winter"</text>'
                 b'</inputEntry><outputEntry id="o3"><text>"Stew"</text></outputEntry>')
    doc = run(engine, [("dinner.bpmn", ZEEBE_DECISION), ("dish.dmn", collect)], {"season": "Winter"})
    assert doc["status"] == "completed", doc
    assert doc["variables"] == {"season": "Winter", "menu": ["Roastbeef", "Stew"]}
