"""The order saga end to end: real HTTP demo services, Celery workers, PostgreSQL and Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e import Services, Worker, baton_env, cli, show, wait_for, wait_status, wait_workers_ready, worker_pool


@pytest.fixture
def demo(services):  # type: ignore[no-untyped-def]
    client = Services(services)
    yield client
    client.close()


@pytest.fixture
def env(tmp_path: Path, postgres_url, redis_url, services):  # type: ignore[no-untyped-def]
    env = baton_env(tmp_path / "home", services, database_url=postgres_url, broker_url=redis_url)
    cli(env, "db", "upgrade")
    cli(env, "deploy", "processes/order_saga.bpmn")
    return env


def start(env, *args: str) -> str:  # type: ignore[no-untyped-def]
    return cli(env, "start", "order_saga", *args).stdout.strip()


def test_a_failed_shipment_is_compensated_once_newest_first(env, demo, tmp_path):  # type: ignore[no-untyped-def]
    demo.fail("/shipping/create", "bpmn_error", code="SHIPPING_UNAVAILABLE", count=-1)
    demo.fail("/payment/refund", "http500", count=1)  # the refund is retried once
    with worker_pool(env, tmp_path, "worker"):
        wait_workers_ready(env, 1)  # consuming before the first message (a startup race requeues it)
        failing = start(env, "--var", "amount=40", "--business-key", "saga-fail")
        doc = wait_status(env, failing, "compensated", timeout=60)
        calls = [c["path"] for c in demo.calls(instance_id=failing)]
        refunds = demo.calls("/payment/refund", failing)
        refund_effects = demo.effects("/payment/refund", failing)
        release_effects = demo.effects("/inventory/release", failing)
        demo.reset()
        ok = start(env, "--var", "amount=8", "--business-key", "saga-ok")
        wait_status(env, ok, "completed", timeout=60)
    assert calls == ["/payment/charge", "/inventory/reserve", "/shipping/create", "/inventory/release",
                     "/payment/refund", "/payment/refund"], calls
    assert refunds[0]["idempotency_key"] == refunds[1]["idempotency_key"]
    assert len(refund_effects) == 1 and len(release_effects) == 1
    executed = cli(env, "show", failing, "--json")
    import json

    path = json.loads(executed.stdout)["compensation"]["executed"]
    assert [(s["activity"], s["handler"]) for s in path] == [("reserve_inventory", "release_inventory"),
                                                            ("charge_payment", "refund_payment")]
    assert doc["status"] == "compensated"
    assert [c["path"] for c in demo.calls(instance_id=ok)] == ["/payment/charge", "/inventory/reserve",
                                                              "/shipping/create"]


def test_a_worker_killed_during_the_refund_still_refunds_once(env, demo, tmp_path):  # type: ignore[no-untyped-def]
    demo.fail("/shipping/create", "bpmn_error", code="SHIPPING_UNAVAILABLE", count=-1)
    demo.fail("/payment/refund", "slow", seconds=3, count=1)
    with worker_pool(env, tmp_path, "doomed") as workers:
        wait_workers_ready(env, 1)
        instance_id = start(env, "--var", "amount=25")
        wait_for(lambda: demo.calls("/payment/refund", instance_id), lambda calls: len(calls) == 1,
                 timeout=60, interval=0.05, what="the worker to call /payment/refund")
        workers[0].kill()
        killed_at = time.monotonic()
        workers.append(Worker(env, tmp_path, "successor"))
        doc = wait_status(env, instance_id, "compensated", timeout=60)
    refunds = demo.calls("/payment/refund", instance_id)
    assert len(refunds) == 2 and refunds[0]["idempotency_key"] == refunds[1]["idempotency_key"]
    assert len(demo.effects("/payment/refund", instance_id)) == 1
    assert doc["status"] == "compensated" and time.monotonic() - killed_at < 60
    assert show(env, instance_id)["incidents"] == []
