"""Python endpoint handlers for the dialect tests (bound in ``tests/endpoints_dialects.toml``).

Each answers with what it saw, so a test can tell what reached the call (a Zeebe input local, a
header) from what came back to the process."""

from __future__ import annotations

from typing import Any


def looping_job(variables: dict[str, Any]) -> dict[str, Any]:
    """zeebe-process-test's ``looping-servicetask`` job: its own variable stays local (the task
    has output mappings), so the process must never see ``job_saw``."""
    return {"job_saw": variables.get("loopAmount")}


def echo_job(variables: dict[str, Any]) -> dict[str, Any]:
    """Answers the variables it was called with under ``seen`` and one result of its own."""
    return {"seen": dict(variables), "approved": True}


# What the corpus's service tasks answer in tests/test_dialect_corpus.py, by topic: the data the
# diagrams' later steps read (a payment id the next message correlates on, an AWS-like listing...).
CORPUS_ANSWERS: dict[str, dict[str, Any]] = {
    "retrieve-payment": {"paymentRequestId": "pay-1"},
    "generate-ticket": {"ticketId": "t-1"},
    "ed/GetFiles": {"do_not_fail": True},
    "c-set-variables": {"listOfColors": []},  # zeebe-cherry's load test: no load, so no 30 s timers per color
    # zeebe-chaos's toolkit: one experiment, whose probe and method run the job "chaos-action"
    "readExperiments": {"experiments": [{"title": "t", "description": "d", "method": [
        {"name": "m", "provider": {"path": "chaos-action"}}],
        "steady-state-hypothesis": {"probes": [{"name": "p", "provider": {"path": "chaos-action"}}]}}]},
    "aws/ScanDynamoTable": {"Count": 2, "Items": [{"Subject": "color", "Label": "Red", "Value": "red"},
                                                  {"Subject": "size", "Label": "Large", "Value": "L"}]},
}


def corpus_job(variables: dict[str, Any], call: Any) -> dict[str, Any]:
    """A corpus diagram's job: the canned answer of its topic, and which topic ran."""
    ran = "ran_" + (call.topic or "none").replace("/", "_").replace("-", "_")
    return {**CORPUS_ANSWERS.get(call.topic or "", {}), ran: True}


def headers_job(variables: dict[str, Any], call: Any) -> dict[str, Any]:
    """Answers the task headers its call carried (``JobCall.headers``)."""
    return {"headers_seen": call.headers}


def failing_job(variables: dict[str, Any]) -> dict[str, Any]:
    """Always fails, as a service that is down: the job is retried, then an incident."""
    raise ConnectionError("the service is down")


def square_job(variables: dict[str, Any]) -> dict[str, Any]:
    """``result`` = n * n for a positive ``n``, nothing otherwise (tests/test_zeebe_loops.py). It
    also answers what it saw of ``result`` before: Zeebe makes the output element local, null."""
    n = variables.get("n")
    answer: dict[str, Any] = {"result_before": variables.get("result", "absent")}
    if isinstance(n, int) and n > 0:
        answer["result"] = n * n
    return answer
