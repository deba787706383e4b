"""camunda:decisionRefBinding: which version of a decision a business rule task evaluates, chosen
when the task is reached, as Camunda 7 chooses it; camunda:resultVariable with mapDecisionResult.

Each DMN here prices a parcel with one rule whose output is the price given to ``dmn``; each
deploy of it is the decision's next version (1, 2, ...). The diagram is deployed first, with
version 1, then version 2 is deployed alone (as Camunda Modeler deploys a DMN tab).
"""

from __future__ import annotations

import pytest

from engine import DeploymentError

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="prices" name="Prices" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="price" name="Price" camunda:versionTag="{tag}">
    <decisionTable id="priceTable" hitPolicy="{hit}">
      <input id="in1" label="Size">
        <inputExpression id="ie1" typeRef="string"><text>size</text></inputExpression></input>
      <output id="out1" label="Price" name="price" typeRef="integer"/>{extra_output}
      <rule id="r1"><inputEntry id="e1"><text>"small"</text></inputEntry>
        <outputEntry id="o1"><text>{price}</text></outputEntry>{extra_entry}</rule>
      <rule id="r2"><inputEntry id="e2"><text>"small"</text></inputEntry>
        <outputEntry id="o2"><text>{second}</text></outputEntry>{extra_entry}</rule>
    </decisionTable>
  </decision>
</definitions>"""


def dmn(price: int, *, tag: str = "", hit: str = "UNIQUE", second: int = 0, outputs: int = 1) -> bytes:
    extra_output = '\n      <output id="out2" label="Days" name="days" typeRef="integer"/>' if outputs > 1 else ""
    extra_entry = "<outputEntry><text>3</text></outputEntry>" if outputs > 1 else ""
    return DMN.format(price=price, tag=tag, hit=hit, second=second, extra_output=extra_output,
                      extra_entry=extra_entry).encode()


def diagram(attributes: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="parcel" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="price_parcel" camunda:decisionRef="price" {attributes}/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="price_parcel"/>
    <bpmn:sequenceFlow id="f2" sourceRef="price_parcel" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def run(engine, variables=None):  # type: ignore[no-untyped-def]
    instance_id = engine.start("parcel", {"size": "small", **(variables or {})})
    return engine.get_instance(instance_id)


def decided(doc):  # type: ignore[no-untyped-def]
    [row] = [h for h in doc["history"] if h["element_id"] == "price_parcel" and h["event"] == "completed"]
    return row["details"]["decision"]["version"]


def deploy_both(engine, attributes: str, **first) -> None:  # type: ignore[no-untyped-def]
    """The diagram with version 1 of the decision, then version 2 alone."""
    engine.deploy([("parcel.bpmn", diagram(attributes)), ("price.dmn", dmn(10, **first))])
    engine.deploy([("price.dmn", dmn(20, tag="v2"))])


def test_latest_binding_evaluates_a_decision_deployed_after_the_diagram(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy_both(bare_engine, "")
    doc = run(bare_engine)
    assert doc["variables"]["price"] == 20 and decided(doc) == 2
    [evaluation] = bare_engine.get_decision("price")["evaluations"]
    assert evaluation["decision_version"] == 2  # the page draws the table of the version that decided


def test_deployment_binding_keeps_the_version_deployed_with_the_diagram(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy_both(bare_engine, 'camunda:decisionRefBinding="deployment"')
    doc = run(bare_engine)
    assert doc["variables"]["price"] == 10 and decided(doc) == 1
    assert bare_engine.get_decision("price")["evaluations"][0]["decision_version"] == 1


def test_version_binding_takes_the_pinned_version_also_from_juel(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy_both(bare_engine, 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="${wanted}"')
    assert run(bare_engine, {"wanted": 1})["variables"]["price"] == 10
    assert run(bare_engine, {"wanted": 2})["variables"]["price"] == 20
    doc = run(bare_engine, {"wanted": 3})
    [incident] = doc["incidents"]
    assert incident["element_id"] == "price_parcel" and "decision 'price' has no version 3" in incident["message"]
    bare_engine.deploy([("price.dmn", dmn(30))])
    bare_engine.retry_incident(incident["id"])
    assert bare_engine.get_instance(doc["id"], history=False)["variables"]["price"] == 30


def test_version_tag_binding_takes_the_newest_version_with_that_tag(bare_engine) -> None:  # type: ignore[no-untyped-def]
    deploy_both(bare_engine, 'camunda:decisionRefBinding="versionTag" camunda:decisionRefVersionTag="v1"', tag="v1")
    bare_engine.deploy([("price.dmn", dmn(40, tag="v3"))])
    assert run(bare_engine)["variables"]["price"] == 10


@pytest.mark.parametrize(("mapping", "table", "expected"), [
    ("", {}, [{"price": 10}]),  # resultList, Camunda's default
    ('camunda:mapDecisionResult="singleEntry"', {}, 10),
    ('camunda:mapDecisionResult="singleResult"', {"outputs": 2}, {"price": 10, "days": 3}),
    ('camunda:mapDecisionResult="collectEntries"', {"hit": "COLLECT", "second": 12}, [10, 12]),
    ('camunda:mapDecisionResult="resultList"', {"hit": "COLLECT", "second": 12}, [{"price": 10}, {"price": 12}]),
])
def test_the_result_variable_gets_the_result_as_mapped(bare_engine, mapping, table, expected) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("parcel.bpmn", diagram(f'camunda:resultVariable="quote" {mapping}')),
                        ("price.dmn", dmn(10, **table))])
    doc = run(bare_engine)
    assert doc["variables"]["quote"] == expected and "price" not in doc["variables"]


def test_a_result_the_mapping_cannot_hold_is_an_incident(bare_engine) -> None:  # type: ignore[no-untyped-def]
    single = diagram('camunda:resultVariable="quote" camunda:mapDecisionResult="singleEntry"')
    bare_engine.deploy([("parcel.bpmn", single), ("price.dmn", dmn(10, hit="COLLECT", second=12))])
    [incident] = run(bare_engine)["incidents"]
    assert "singleEntry" in incident["message"] and "2 rules matched" in incident["message"]


@pytest.mark.parametrize(("attributes", "reason"), [
    ('camunda:decisionRefBinding="deployment"', "this deployment has no such decision"),
    ('camunda:decisionRefBinding="newest"', "camunda:decisionRefBinding='newest' is not a binding"),
    ('camunda:decisionRefBinding="version"', "needs camunda:decisionRefVersion"),
    ('camunda:decisionRefBinding="version" camunda:decisionRefVersion="two"', "is not a version number"),
    ('camunda:decisionRefVersion="2"', "is read only with camunda:decisionRefBinding=\"version\""),
    ('camunda:decisionRefBinding="versionTag"', "needs camunda:decisionRefVersionTag"),
    ('camunda:mapDecisionResult="singleEntry"', "which this task does not set"),
    ('camunda:resultVariable="q" camunda:mapDecisionResult="firstEntry"', "is not a mapping Camunda 7 knows"),
    ('camunda:decisionRefBinding="version" camunda:decisionRefVersion="${version.get(0)}"', "JUEL"),
])
def test_a_binding_baton_would_not_honour_is_refused_naming_the_task(bare_engine, attributes, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        bare_engine.deploy([("parcel.bpmn", diagram(attributes))])
    [problem] = caught.value.problems
    assert problem.element_id == "price_parcel" and reason in problem.reason


ZEEBE_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="z" targetNamespace="t">
  <bpmn:process id="parcel" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="price_parcel">
      <bpmn:extensionElements>
        <zeebe:calledDecision decisionId="price" resultVariable="quote" {binding}/>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="price_parcel"/>
    <bpmn:sequenceFlow id="f2" sourceRef="price_parcel" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(("binding", "expected"), [("", 20), ('bindingType="deployment"', 10)])
def test_a_zeebe_binding_type_binds_as_camunda_7s_binding(bare_engine, binding, expected) -> None:  # type: ignore[no-untyped-def]
    bare_engine.deploy([("parcel.bpmn", ZEEBE_DIAGRAM.format(binding=binding).encode()), ("price.dmn", dmn(10))])
    bare_engine.deploy([("price.dmn", dmn(20))])
    assert run(bare_engine)["variables"]["quote"] == expected
