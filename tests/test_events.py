"""Signals (within and across instances), escalations, error end events inside sub-processes."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

DIAGRAM = ROOT / "tests" / "diagrams" / "signals_and_escalations.bpmn"


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes())])
    return bare_engine


def completed(engine, instance_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [h["element_id"] for h in engine.get_instance(instance_id)["history"] if h["event"] == "completed"]


def test_a_thrown_signal_reaches_every_waiting_instance_and_starts_processes(engine):
    waiting = [engine.start("await_recall") for _ in range(3)]
    thrower = engine.start("issue_recall")
    engine.driver.drain()
    assert engine.get_instance(thrower)["status"] == "completed"
    assert [engine.get_instance(i)["status"] for i in waiting] == ["completed"] * 3
    assert engine.list_instances(definition="on_recall")["total"] == 1


def test_broadcast_from_outside(engine):
    waiting = engine.start("await_recall")
    result = engine.broadcast_signal("ProductRecall", {"batch": "B-7"})
    assert result["delivered"] == [waiting] and len(result["started"]) == 1
    assert engine.get_instance(waiting)["variables"]["batch"] == "B-7"


def test_an_error_end_event_in_a_subprocess_is_caught_by_its_boundary(engine):
    instance_id = engine.start("deliver", {"stock": 0})
    assert engine.get_instance(instance_id)["status"] == "completed"
    assert "apologise" in completed(engine, instance_id) and "d_done" not in completed(engine, instance_id)


def test_an_escalation_reaches_a_non_interrupting_boundary(engine):
    instance_id = engine.start("deliver", {"stock": 5})
    done = completed(engine, instance_id)
    assert engine.get_instance(instance_id)["status"] == "completed"
    assert "warn" in done and "d_done" in done
