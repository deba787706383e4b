"""Runs every case of ../shared/bpmn/compensation/manifest.json, and of Baton's own cases in
tests/diagrams/compensation/manifest.json, through the engine's public API.

Generic on purpose: no case-specific code, so the same runner takes more cases. The observed log
is read from the history (completed script tasks, handlers included, in order), as the corpus
README asks: SpiffWorkflow's data travels with the token, so the ``log`` variable is not complete.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from engine import DeploymentError
from tests.conftest import SHARED

CORPORA = [SHARED / "bpmn" / "compensation", Path(__file__).parent / "diagrams" / "compensation"]
CASES = [{**case, "corpus": corpus} for corpus in CORPORA if (corpus / "manifest.json").exists()
         for case in json.loads((corpus / "manifest.json").read_text())]


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    return bare_engine


def observed_log(engine, instance_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    history = engine.get_instance(instance_id)["history"]
    return [h["element_id"] for h in history if h["event"] == "completed" and h["element_type"] == "ScriptTask"]


def compensated_activities(engine, instance_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    history = engine.get_instance(instance_id)["history"]
    return [h["details"]["activity"] for h in history if h["event"] == "compensating"]


def check_order(log: list[str], rules: list[list[str]]) -> None:
    for first, _, then in rules:
        firsts = [i for i, e in enumerate(log) if e == first]
        thens = [i for i, e in enumerate(log) if e == then]
        assert not firsts or not thens or max(firsts) < min(thens), f"{first} must come before {then}: {log}"


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_compensation_case(engine, case):  # type: ignore[no-untyped-def]
    data = (case["corpus"] / case["file"]).read_bytes()
    expect = case["expect"]
    if case["kind"] == "invalid":
        with pytest.raises(DeploymentError) as refused:
            engine.deploy([(case["file"], data)])
        named = [p.element_id for p in refused.value.problems]
        assert expect["error_main_element"] in named, [str(p) for p in refused.value.problems]
        return

    engine.deploy([(case["file"], data)])
    instance_id = engine.start(case["process_id"], case.get("start_variables") or {})
    for step in case.get("driver_steps", []):
        action = step["action"]
        if action == "complete_user_task":
            for _ in range(step.get("times", 1)):
                engine.complete_user_task(instance_id, step["element"], step.get("variables") or {})
        elif action == "assert_waiting":
            waiting = [t["element_id"] for t in engine.open_tasks(instance_id)]
            assert Counter(waiting) == Counter(step["elements"]), waiting
        elif action == "assert_log":
            assert observed_log(engine, instance_id) == step["log"]
        elif action == "assert_log_any_order":
            assert Counter(observed_log(engine, instance_id)) == Counter(step["log"])
        else:  # a new kind of step must be taught to the runner, not ignored
            pytest.fail(f"unknown driver step {action!r}")

    doc = engine.get_instance(instance_id)
    log = observed_log(engine, instance_id)
    if expect.get("ended"):
        assert doc["status"] in ("completed", "compensated"), doc["status"]
    if "log" in expect:
        assert log == expect["log"]
    if "log_any_order" in expect:
        assert Counter(log) == Counter(expect["log_any_order"])
        check_order(log, expect.get("order_rules", []))
    compensated = compensated_activities(engine, instance_id)
    for activity in expect.get("not_compensated", []):
        assert activity not in compensated, f"{activity} was compensated: {compensated}"
