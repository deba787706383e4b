"""End to end through the public doors: the ``baton`` CLI, real worker processes, real services.

Each test runs ``baton db upgrade`` and ``baton deploy``, starts ``baton worker`` processes (each
in its own process group) and drives instances with ``baton start`` / ``show`` / ``incident
retry``, while the demo services (an HTTP server in this process) inject faults and record every
call with its Idempotency-Key.

- ``test_order_fulfillment_end_to_end``: on PostgreSQL + Redis, PostgreSQL + RabbitMQ and the
  embedded defaults (SQLite + the embedded broker): a plain run, retries after HTTP 500s, a BPMN
  error caught by the boundary event, an incident retried to completion.
- ``test_worker_killed_mid_call_hands_the_job_over``: SIGKILL a worker while its endpoint call is
  in flight; a new worker's relay takes the job back once the lease ran out, the call is repeated with
  the same Idempotency-Key and the service applies the effect once (Redis, RabbitMQ, embedded).
- ``test_ten_parallel_branches_finish_together_on_two_workers``: ten branches finishing at the same
  moment on two workers complete the join without deadlocks or serialization failures. On the
  same workers (a test of its own would pay their start again): an instance started before them
  committed before a script marked ``camunda:asyncBefore``; its ``continue`` job waited in Redis
  and a worker ran the script and completed it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROCESSES, ROOT
from tests.e2e import (
    Services,
    Worker,
    baton_env,
    cli,
    events,
    show,
    summary,
    wait_for,
    wait_status,
    wait_workers_ready,
    worker_pool,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DIAGRAMS = Path(__file__).resolve().parent / "diagrams"


@pytest.fixture
def demo(services: str):  # type: ignore[no-untyped-def]
    client = Services(services)
    client.reset()
    yield client
    client.close()


def backend_urls(request: pytest.FixtureRequest, backend: str) -> tuple[str, str]:
    """(database URL, broker URL) for a backend name; empty strings mean the embedded defaults."""
    if backend == "embedded":
        return "", ""
    database = request.getfixturevalue("postgres_url")
    if backend == "postgres-redis":
        return database, request.getfixturevalue("redis_url")
    if backend == "postgres-rabbitmq":
        return database, request.getfixturevalue("rabbitmq_url")
    raise AssertionError(backend)


def prepared_env(request: pytest.FixtureRequest, tmp_path: Path, services: str, backend: str,
                 deploy: tuple[str, ...] = (str(PROCESSES),), endpoints: Path = PROCESSES / "endpoints.toml"
                 ) -> dict[str, str]:
    """An environment for ``backend`` with the schema migrated and ``deploy`` deployed, by the CLI."""
    database, broker = backend_urls(request, backend)
    env = baton_env(tmp_path / "home", services, database_url=database, broker_url=broker, endpoints=endpoints)
    cli(env, "db", "upgrade")
    deployed = cli(env, "deploy", *deploy).stdout
    assert "deployed" in deployed, deployed
    return env


def start(env: dict[str, str], *args: str) -> str:
    """``baton start`` without waiting; the new instance's id."""
    instance_id = cli(env, "start", *args).stdout.strip()
    assert len(instance_id) == 36, instance_id
    return instance_id


def start_and_wait(env: dict[str, str], *args: str, wait: float = 30) -> dict[str, Any]:
    """``baton start ... --wait``: must exit 0 with the instance document on stdout."""
    done = cli(env, "start", *args, "--wait", str(wait), timeout=wait + 30, ok=False)
    assert done.returncode == 0, f"start --wait exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def assert_clean(workers: list[Any]) -> None:
    for worker in workers:
        assert not worker.bad_lines(), f"worker {worker.name} stderr:\n{worker.stderr()[-5000:]}"


# -- 1. the order saga on three backends ---------------------------------------------------------

@pytest.mark.parametrize("backend", ["postgres-redis", "postgres-rabbitmq", "embedded"])
def test_order_fulfillment_end_to_end(request, tmp_path, services, demo, backend):  # type: ignore[no-untyped-def]
    began = time.monotonic()
    env = prepared_env(request, tmp_path, services, backend)

    with worker_pool(env, tmp_path, "worker") as workers:
        # (a) a plain run: three HTTP services, completed.
        doc = start_and_wait(env, "order_fulfillment", "--var", "amount=42", "--business-key", "order-a")
        assert doc["status"] == "completed", summary(doc)
        assert doc["variables"]["charged"] == 42 and doc["variables"]["shipment_id"], doc["variables"]
        assert events(doc, "order_fulfilled")[-1] == "completed", summary(doc)

        # (b) /inventory/reserve answers 500 twice: two retries, then it completes; all three calls
        # carried one Idempotency-Key and the reservation happened once.
        demo.fail("/inventory/reserve", "http500", count=2)
        doc = start_and_wait(env, "order_fulfillment", "--var", "amount=7", "--business-key", "order-b")
        assert doc["status"] == "completed", summary(doc)
        assert events(doc, "reserve_inventory").count("retrying") == 2, summary(doc)
        reserve = demo.calls("/inventory/reserve", doc["id"])
        assert [c["status"] for c in reserve] == [500, 500, 200], reserve
        assert len({c["idempotency_key"] for c in reserve}) == 1, reserve
        assert len(demo.effects("/inventory/reserve", doc["id"])) == 1
        [job] = [j for j in doc["jobs"] if j["element_id"] == "reserve_inventory"]
        assert job["status"] == "done" and job["attempts"] == 3, job

        # (c) /shipping/create raises the BPMN error the diagram catches: the boundary path runs.
        demo.fail("/shipping/create", "bpmn_error", code="SHIPPING_UNAVAILABLE", count=1)
        doc = start_and_wait(env, "order_fulfillment", "--var", "amount=3", "--business-key", "order-c")
        assert doc["status"] == "completed", summary(doc)
        assert events(doc, "create_shipment") == ["entered", "error", "cancelled"], summary(doc)
        assert events(doc, "shipping_failed")[-1] == "completed", summary(doc)
        assert events(doc, "notify_customer") == ["entered", "completed"], summary(doc)
        assert events(doc, "order_not_shipped")[-1] == "completed", summary(doc)
        assert events(doc, "order_fulfilled") == [], summary(doc)
        assert doc["variables"]["notified"] is True

        # (d) /payment/charge always 500: retries run out, an incident opens; once the service is
        # back, `baton incident retry` runs the job again and the instance completes.
        demo.fail("/payment/charge", "http500", count=-1)
        instance_id = start(env, "order_fulfillment", "--var", "amount=9", "--business-key", "order-d")
        doc = wait_status(env, instance_id, "incident", timeout=30)
        [incident] = doc["incidents"]
        assert incident["element_id"] == "charge_payment" and incident["resolved_at"] is None, incident
        assert events(doc, "charge_payment").count("retrying") == 3, summary(doc)
        assert len(demo.calls("/payment/charge", instance_id)) == 4
        demo.reset()
        cli(env, "incident", "retry", incident["id"])
        doc = wait_status(env, instance_id, "completed", timeout=30)
        assert doc["incidents"][0]["resolved_at"] is not None, doc["incidents"]
        assert "retried" in events(doc, "charge_payment"), summary(doc)
        assert doc["variables"]["charged"] == 9

        assert_clean(workers)
        for worker in workers:
            worker.assert_alive()
    elapsed = time.monotonic() - began
    print(f"\n{backend}: order saga (a)-(d) in {elapsed:.1f}s")


# -- 2. a worker SIGKILLed in the middle of an endpoint call ---------------------------------------

@pytest.mark.parametrize("backend", ["postgres-redis", "postgres-rabbitmq", "embedded"])
def test_worker_killed_mid_call_hands_the_job_over(request, tmp_path, services, demo,  # type: ignore[no-untyped-def]
                                                   backend):
    env = prepared_env(request, tmp_path, services, backend)
    # The first call to /payment/charge applies its effect, then answers only 3 s later.
    demo.fail("/payment/charge", "slow", seconds=3, count=1)

    with worker_pool(env, tmp_path, "doomed") as workers:
        instance_id = start(env, "order_fulfillment", "--var", "amount=11", "--business-key", "order-kill")
        wait_for(lambda: demo.calls("/payment/charge", instance_id), lambda calls: len(calls) == 1,
                 timeout=30, interval=0.05, what="the worker to call /payment/charge")
        workers[0].kill()
        killed_at = time.monotonic()
        assert show(env, instance_id)["status"] == "running"

        # The job stays leased to the dead worker (endpoint timeout 10 s + BATON_JOB_LEASE_SECONDS
        # 2 s); the relay in the new worker sends it again when the lease runs out.
        workers.append(Worker(env, tmp_path, "successor"))
        doc = wait_status(env, instance_id, "completed", timeout=40)
        took = time.monotonic() - killed_at
        # Not before the lease ran out: a relay that took back a live worker's job would run it twice.
        assert took > 8, f"the job was taken back {took:.1f}s after the kill, before its 12 s lease expired"

        charge = demo.calls("/payment/charge", instance_id)
        assert len(charge) == 2, charge
        assert charge[0]["idempotency_key"] == charge[1]["idempotency_key"], charge
        assert charge[1]["replayed"] is True, charge
        effects = demo.effects("/payment/charge")
        assert len(effects) == 1 and effects[0]["idempotency_key"] == charge[0]["idempotency_key"], effects
        assert doc["variables"]["payment_id"] == effects[0]["response"]["payment_id"], doc["variables"]
        [job] = [j for j in doc["jobs"] if j["element_id"] == "charge_payment"]
        assert job["status"] == "done" and job["attempts"] == 2, job
        assert events(doc, "charge_payment") == ["entered", "completed"], summary(doc)
        assert_clean(workers[1:])
        workers[1].assert_alive()
    print(f"\n{backend}: completed {took:.1f}s after the SIGKILL")


# -- 3. ten parallel branches finishing together on two workers ------------------------------------

def test_ten_parallel_branches_finish_together_on_two_workers(request, tmp_path, services):  # type: ignore[no-untyped-def]
    env = prepared_env(request, tmp_path, services, "postgres-redis",
                       deploy=(str(DIAGRAMS / "parallel_ten.bpmn"), str(DIAGRAMS / "async_before_script.bpmn")),
                       endpoints=ROOT / "tests" / "endpoints_e2e.toml")
    # committed before its script; no worker yet: the continue job waits in Redis for one
    held = start(env, "async_before_script", "--var", "total=12", "--var", "parts=4")

    with worker_pool(env, tmp_path, "worker-1", "worker-2", concurrency=2) as workers:
        wait_workers_ready(env, 2)
        doc = start_and_wait(env, "parallel_ten", "--business-key", "fan-out")
        assert doc["status"] == "completed", summary(doc)
        assert doc["incidents"] == []
        results = {n: doc["variables"].get(f"result_{n}") for n in range(1, 11)}
        assert all(results.values()), doc["variables"]
        assert all(r["branch"] == n for n, r in results.items()), results
        # Every branch ran once, on the first attempt: no advance failed and was relayed.
        jobs = doc["jobs"]
        assert len(jobs) == 10 and all(j["status"] == "done" and j["attempts"] == 1 for j in jobs), jobs
        assert events(doc, "join").count("completed") == 1, summary(doc)
        assert events(doc, "end")[-1] == "completed", summary(doc)
        # Both workers took part, and branches really finished at the same moment.
        assert {r["worker_pid"] for r in results.values()} == {w.pid for w in workers}, results
        by_second: dict[float, int] = {}
        for r in results.values():
            by_second[r["finished_at"]] = by_second.get(r["finished_at"], 0) + 1
        assert max(by_second.values()) >= 2, by_second

        doc = wait_status(env, held, "completed", timeout=30)  # a worker ran the continue job
        assert doc["variables"]["share"] == 3.0, summary(doc)
        assert [(j["kind"], j["status"], j["attempts"]) for j in doc["jobs"]] == [("continue", "done", 1)]
        assert events(doc, "split") == ["waiting", "continued", "entered", "completed"], summary(doc)
        assert_clean(workers)
        for worker in workers:
            worker.assert_alive()

