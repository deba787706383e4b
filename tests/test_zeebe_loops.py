"""Zeebe constructs evaluated when the process reaches them, as Zeebe runs them.

- A multi-instance activity's ``outputCollection`` holds each instance's ``outputElement`` in the
  order of the input collection, whatever order the instances complete in (parallel: user tasks
  completed last to first); an instance that sets nothing gives null; the element's variable is
  local to each instance (null when it starts, never reaching the process); a multi-instance
  call activity collects from each child instance.
- ``zeebe:taskDefinition type="=handler"`` runs the job the variable names; a type no endpoint
  serves is an incident naming the type and how to bind it.
- ``zeebe:calledElement processId="=..."`` calls the process it names; a missing one is an
  incident naming it.
- ``zeebe:assignmentDefinition`` with FEEL assigns the task to the evaluated user and groups.

Each test fails if the construct is ignored (no collection, a fixed or empty type, a literal
``=reviewer`` as the assignee).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError
from tests.conftest import ROOT

DIAGRAMS = ROOT / "tests" / "diagrams"
ENDPOINTS = ROOT / "tests" / "endpoints_dialects.toml"


@pytest.fixture
def engine(settings_factory, inline_engine_factory):  # type: ignore[no-untyped-def]
    return inline_engine_factory(settings_factory(endpoints=ENDPOINTS))


def deploy(engine: Any, name: str, text: str | None = None) -> None:
    engine.deploy([(name, (text or (DIAGRAMS / name).read_text()).encode())])


def run(engine: Any, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    instance_id = engine.start(key, variables)
    engine.driver.drain()
    return engine.get_instance(instance_id)


def test_parallel_output_collection_follows_the_input_order_not_the_completion_order(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_review_round.bpmn")
    instance_id = engine.start("review_round", {"reviewers": ["ada", "bob", "cy"], "team": "legal"})
    engine.driver.drain()
    tasks = engine.list_user_tasks(instance_id=instance_id)
    # assignee and groups are FEEL: each instance goes to its own reviewer
    assert sorted(t["assignee"] for t in tasks) == ["ada", "bob", "cy"]
    assert all(t["candidate_groups"] == ["editors", "legal"] for t in tasks)
    verdicts = {"ada": "approve", "cy": "reject"}  # bob answers nothing
    for task in sorted(tasks, key=lambda t: t["assignee"], reverse=True):  # cy first, ada last
        answer = {"verdict": verdicts[task["assignee"]]} if task["assignee"] in verdicts else {}
        engine.complete_user_task_by_id(task["id"], answer)
        engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed", doc
    assert doc["variables"]["verdicts"] == ["approve", None, "reject"]
    assert "verdict" not in doc["variables"]  # each instance's own
    assert "reviewer" not in doc["variables"]


@pytest.mark.parametrize("sequential", ["true", "false"])
def test_output_element_is_local_and_null_until_the_instance_sets_it(engine, sequential):  # type: ignore[no-untyped-def]
    text = (DIAGRAMS / "zeebe_square_each.bpmn").read_text().replace(
        'isSequential="true"', f'isSequential="{sequential}"')
    deploy(engine, "zeebe_square_each.bpmn", text)
    doc = run(engine, "square_each", {"numbers": [3, -1, 4], "result": "the process's own"})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["squares"] == [9, None, 16]  # -1 set no result: null, not 9 nor the process's
    assert doc["variables"]["result"] == "the process's own"  # the instances' result never reached it
    assert doc["variables"]["result_before"] is None  # each instance started with result = null


def test_an_empty_input_collection_gives_an_empty_output_collection(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_square_each.bpmn")
    doc = run(engine, "square_each", {"numbers": []})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["squares"] == []


def test_a_parallel_call_activity_collects_each_child_instance_output(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_quote_each.bpmn")
    instance_id = engine.start("quote_each", {"carriers": ["ups", "fedex", "dhl"]})
    for _ in range(4):  # the calls, the children, the returns
        engine.driver.drain()
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed", doc
    assert doc["variables"]["quotes"] == [{"carrier": "ups", "price": 30}, {"carrier": "fedex", "price": 50},
                                          {"carrier": "dhl", "price": 30}]
    assert len(doc["children"]) == 3


OUTPUT_WITH_MAPPINGS = """
          <zeebe:ioMapping>
            <zeebe:input source="=n * 10" target="scaled"/>
            <zeebe:output source="=n" target="last_n"/>
          </zeebe:ioMapping>"""


def test_output_element_sees_the_instance_locals_its_mappings_keep(engine):  # type: ignore[no-untyped-def]
    text = (DIAGRAMS / "zeebe_square_each.bpmn").read_text()
    text = text.replace('<zeebe:taskDefinition type="square"/>',
                        '<zeebe:taskDefinition type="square"/>' + OUTPUT_WITH_MAPPINGS)
    text = text.replace('outputElement="=result"', 'outputElement="={r: result, scaled: scaled, i: loopCounter}"')
    deploy(engine, "zeebe_square_each.bpmn", text)
    doc = run(engine, "square_each", {"numbers": [2, 5]})
    assert doc["status"] == "completed", doc
    # result (the job's) and scaled (an input) stay local to the task, yet the element sees them
    assert doc["variables"]["squares"] == [{"r": 4, "scaled": 20, "i": 1}, {"r": 25, "scaled": 50, "i": 2}]
    assert doc["variables"]["last_n"] == 5
    assert "result" not in doc["variables"] and "scaled" not in doc["variables"]


@pytest.mark.parametrize(("attributes", "reason"), [
    ('outputCollection="squares"', "needs both outputCollection and outputElement"),
    ('outputCollection="my squares" outputElement="=result"', "is not a variable name"),
    ('outputCollection="squares" outputElement="result"', "is not a FEEL expression"),
    ('outputCollection="squares" outputElement="=fromAi(result)"', "fromAi"),
])
def test_an_output_collection_baton_cannot_fill_is_refused_naming_the_task(engine, attributes, reason):  # type: ignore[no-untyped-def]
    text = (DIAGRAMS / "zeebe_square_each.bpmn").read_text().replace(
        'outputCollection="squares" outputElement="=result"', attributes)
    with pytest.raises(DeploymentError) as caught:
        deploy(engine, "zeebe_square_each.bpmn", text)
    assert any(p.element_id == "square" and reason in p.reason for p in caught.value.problems), caught.value.problems


def test_a_feel_task_type_routes_to_the_endpoint_it_names(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_dispatch.bpmn")
    echoed = run(engine, "dispatch", {"handler": "echo", "route": "express", "loopAmount": 7})
    assert echoed["status"] == "completed", echoed
    assert echoed["variables"]["approved"] is True and "job_saw" not in echoed["variables"]  # echo_job ran
    looped = run(engine, "dispatch", {"handler": "test", "route": "express", "loopAmount": 7})
    assert looped["status"] == "completed", looped
    assert looped["variables"]["job_saw"] == 7 and "approved" not in looped["variables"]  # looping_job ran
    assert [j["topic"] for j in looped["jobs"] if j["kind"] == "service"] in ([], ["test"])


def test_a_feel_task_type_no_endpoint_serves_is_an_incident_naming_it(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_dispatch.bpmn")
    doc = run(engine, "dispatch", {"handler": "fax", "route": "express"})
    assert doc["status"] == "incident", doc
    [incident] = doc["incidents"]
    assert incident["element_id"] == "handle"
    assert "'fax'" in incident["message"] and "[topics.fax]" in incident["message"], incident["message"]
    # the type is evaluated again when the incident is retried: corrected, the task runs
    engine.edit_variables(doc["id"], {"handler": "echo"}, by="operator", reason="fax is gone")
    engine.retry_incident(incident["id"])
    engine.driver.drain()
    retried = engine.get_instance(doc["id"])
    assert retried["status"] == "completed", retried
    assert retried["variables"]["approved"] is True


def test_a_feel_process_id_calls_the_process_it_names(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_dispatch.bpmn")
    doc = run(engine, "dispatch", {"handler": "echo", "route": "express"})
    assert doc["status"] == "completed", doc
    assert doc["variables"]["routed"] == "express"  # the child dispatch_express ran and propagated it
    [child] = doc["children"]
    assert engine.get_instance(child["id"] if isinstance(child, dict) else child)["definition"]["key"] == \
        "dispatch_express"


def test_a_feel_process_id_naming_no_process_is_an_incident_naming_it(engine):  # type: ignore[no-untyped-def]
    deploy(engine, "zeebe_dispatch.bpmn")
    doc = run(engine, "dispatch", {"handler": "echo", "route": "overnight"})
    assert doc["status"] == "incident", doc
    [incident] = doc["incidents"]
    assert incident["element_id"] == "route_it"
    assert "'dispatch_overnight'" in incident["message"], incident["message"]
    # deployed afterwards, the process is called when the incident is retried
    deploy(engine, "overnight.bpmn", OVERNIGHT)
    engine.retry_incident(incident["id"])
    for _ in range(3):
        engine.driver.drain()
    retried = engine.get_instance(doc["id"])
    assert retried["status"] == "completed", retried


OVERNIGHT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="o" targetNamespace="t">
  <bpmn:process id="dispatch_overnight" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
