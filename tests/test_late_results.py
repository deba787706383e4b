"""A worker whose lease ran out and whose job another worker took may not settle it afterwards.

Through the engine's public API, the way ``adapters.runner`` hands back a Celery job's outcome
(``owner`` and ``attempt`` of its claim). The external-task side of the same rule (Camunda's
worker ids) is in ``tests/compat``.
"""

from __future__ import annotations

import time

import pytest

from engine import JobNotHeld, RetryableFailure
from tests.conftest import PROCESSES

ENDPOINTS = """
[topics.payment-charge]
url = "http://127.0.0.1:9/payment/charge"
timeout = 0.05
retries = 3
"""


@pytest.fixture
def engine(tmp_path, settings_factory, inline_engine_factory):  # type: ignore[no-untyped-def]
    endpoints = tmp_path / "endpoints.toml"
    endpoints.write_text(ENDPOINTS + "".join(
        f'\n[topics.{topic}]\npython = "processes.handlers:audit_log"\n'
        for topic in ("inventory-reserve", "shipping-create", "customer-notify")))
    made = inline_engine_factory(settings_factory(endpoints=endpoints, job_lease_seconds=0.0))
    made.notifier = lambda tickets: None  # the test plays the workers
    made.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    return made


def _charge_job(engine) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    instance = engine.start("order_fulfillment", {"amount": 5})
    [job] = [j for j in engine.get_instance(instance)["jobs"] if j["element_id"] == "charge_payment"]
    return instance, str(job["id"])


def _taken_over(engine, job_id: str):  # type: ignore[no-untyped-def]
    late = engine.claim_job(job_id, "worker-late")
    deadline = time.monotonic() + 10
    while (heir := engine.claim_job(job_id, "worker-heir")) is None:  # its lease is 0.05 s long
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.05)
    return late, heir


def test_a_result_from_a_worker_whose_lease_was_taken_over_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    instance, job_id = _charge_job(engine)
    late, heir = _taken_over(engine, job_id)
    assert (late.attempt, heir.attempt) == (1, 2)

    with pytest.raises(JobNotHeld, match="not held by 'worker-late' for attempt 1"):
        engine.complete_job(job_id, {"payment_id": "late"}, owner="worker-late", attempt=late.attempt)
    with pytest.raises(JobNotHeld):
        engine.fail_job(job_id, RetryableFailure("timeout"), owner="worker-late", attempt=late.attempt)

    engine.complete_job(job_id, {"payment_id": "heir"}, owner="worker-heir", attempt=heir.attempt)
    doc = engine.get_instance(instance)
    assert doc["variables"]["payment_id"] == "heir"
    assert [h["event"] for h in doc["history"] if h["element_id"] == "charge_payment"] == ["entered", "completed"]


def test_the_same_worker_cannot_settle_an_attempt_it_lost_and_claimed_again(engine) -> None:  # type: ignore[no-untyped-def]
    _, job_id = _charge_job(engine)
    first = engine.claim_job(job_id, "worker-1")
    deadline = time.monotonic() + 10
    while (second := engine.claim_job(job_id, "worker-1")) is None:
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.05)
    with pytest.raises(JobNotHeld, match="attempt 1"):
        engine.complete_job(job_id, {"payment_id": "stale"}, owner="worker-1", attempt=first.attempt)
    engine.complete_job(job_id, {"payment_id": "fresh"}, owner="worker-1", attempt=second.attempt)
