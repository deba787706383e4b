"""The hybrid order end to end, on RabbitMQ and on Redis, through real Baton processes.

PostgreSQL; a ``baton worker`` process (Celery on the same RabbitMQ vhost / Redis database as
the bus); a ``baton bus`` process consuming the routes of ``processes/bus_routes.toml``; the demo
HTTP services (payment, orders) and the demo bus consumers (shipping, notification) in this
process. The test talks to Baton through ``baton start --wait`` and the engine's public face.

- the synchronous edge answers the client once payment and order are done (the instance waits
  for its shipment, or has already got it);
- ``OrderCreated`` reaches shipping and notification on the bus; shipping's ``OrderShipped``
  resumes the right instance among 50 running at once (correlation by order id), each once;
- every instance completes with the shipment of its own order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, Settings
from tests.conftest import PROCESSES, ROOT
from tests.e2e import baton_env, cli, cli_json, summary, wait_for, worker_pool
from tests.test_bus_bridge import bus_url  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

ORDERS = 50


class BusProcess:
    """``baton bus`` in its own process group, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        full_env = {**os.environ, **env}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "web.cli", "bus", "--loglevel", "INFO"],
                                         cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_consuming(self, timeout: float = 30) -> None:
        def probe() -> str:
            assert self.proc.poll() is None, f"baton bus exited {self.proc.returncode}:\n{self.text()[-3000:]}"
            return self.text()

        wait_for(probe, lambda text: "consuming" in text, timeout=timeout, interval=0.1,
                 what="baton bus to consume", describe=lambda text: text[-2000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            with suppress(ProcessLookupError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=10)
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


@pytest.fixture
def hybrid(tmp_path: Path, services: str, postgres_url: str, bus_url: str  # noqa: F811 (the imported fixture)
           ) -> Iterator[dict[str, Any]]:
    """Everything running: schema, order_hybrid deployed, demo consumers, ``baton bus``, a worker."""
    from processes.services.consumers import start_in_thread as start_consumers

    tag = uuid.uuid4().hex[:8]
    routes = tmp_path / "bus_routes.toml"  # the bundled routes, on queues of this test's own
    routes.write_text((PROCESSES / "bus_routes.toml").read_text()
                      .replace('queue = "baton.bus"',
                               f'queue = "baton.bus.{tag}"\nwatch_queue = "baton.bus.watch.{tag}"')
                      .replace('dead_letter = "baton.bus.dead"', f'dead_letter = "baton.bus.dead.{tag}"'))
    exchange = f"baton.events.{tag}"
    env = baton_env(tmp_path / "home", services, database_url=postgres_url, broker_url=bus_url)
    env.update({"BATON_BUS_URL": bus_url, "BATON_BUS_ROUTES": str(routes), "BATON_BUS_EXCHANGE": exchange})
    cli(env, "db", "upgrade")
    assert "deployed order_hybrid" in cli(env, "deploy", str(PROCESSES / "order_hybrid.bpmn")).stdout

    demo, demo_thread = start_consumers(bus_url, exchange, queue_prefix=f"{tag}.")
    bus = BusProcess(env, tmp_path / "bus.log")
    try:
        bus.wait_consuming()
        with worker_pool(env, tmp_path, "w1", concurrency=2) as workers:
            yield {"env": env, "demo": demo, "bus": bus, "workers": workers, "exchange": exchange, "tag": tag}
            for worker in workers:
                worker.assert_alive()
                assert worker.bad_lines() == [], worker.stderr()[-3000:]
    finally:
        bus.stop()
        demo.stop()
        demo_thread.join(10)
        from kombu import Connection

        with suppress(Exception), Connection(bus_url) as conn:  # the vhost / database goes anyway
            channel = conn.channel()
            for queue in (f"baton.bus.{tag}", f"baton.bus.dead.{tag}", f"baton.bus.watch.{tag}",
                          f"{tag}.shipping.order-created",
                          f"{tag}.notification.order-created"):
                channel.queue_delete(queue)
            channel.exchange_delete(exchange)


def test_hybrid_orders_complete_through_the_bus(hybrid: dict[str, Any]) -> None:
    env, demo, bus = hybrid["env"], hybrid["demo"], hybrid["bus"]

    # the synchronous edge: the client's one call answers with payment and order, while the
    # instance waits for its shipment (shipping takes 3 s for this first order)
    demo.delay = 3.0
    began = time.monotonic()
    answer = cli_json(env, "start", "order_hybrid", "--var", "amount=42", "--business-key", "web-1",
                      "--wait", "30", timeout=60)
    edge_seconds = time.monotonic() - began
    assert answer["status"] == "waiting", summary(answer)
    assert [h["element_id"] for h in answer["history"]][-1] == "await_shipment"
    variables = answer["variables"]
    assert variables["payment_id"].startswith("pay_") and variables["charged"] == 42
    assert variables["order_id"].startswith("ord_") and variables["order_status"] == "created"

    engine = Engine(Settings.from_env({**os.environ, **env}))  # reads only: no notifier needed
    try:
        def status(instance_id: str) -> dict[str, Any]:
            return engine.get_instance(instance_id)

        first = wait_for(lambda: status(answer["id"]), lambda d: d["status"] == "completed", timeout=30,
                         what="the first order to be shipped", describe=summary)
        demo.delay = 0.0
        assert first["variables"]["shipped_order_id"] == variables["order_id"]

        # its trace: recorded by the worker (published), baton bus (consumed, watched) on PostgreSQL
        trace = wait_for(lambda: engine.trace(variables["order_id"]), lambda t: len(t["events"]) == 3, timeout=15,
                         what="the order's three bus events on its trace", describe=str)
        assert [i["id"] for i in trace["instances"]] == [answer["id"]]
        assert {(e["kind"], e["event"], e["source"], e["instance_id"]) for e in trace["events"]} == {
            ("published", "OrderCreated", "baton", answer["id"]),
            ("consumed", "OrderShipped", "shipping", answer["id"]),
            ("watched", "CustomerNotified", "notification", None)}

        # fifty orders at once: each shipping reply must resume its own instance
        from adapters.broker import CeleryNotifier
        from adapters.tasks import create_celery

        settings = Settings.from_env({**os.environ, **env})
        starter = Engine(settings, notifier=CeleryNotifier(create_celery(settings)))
        began = time.monotonic()
        try:
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(lambda n: starter.start("order_hybrid", {"amount": n + 1, "customer": f"c{n}"},
                                                            business_key=f"order-{n}"), range(ORDERS)))
        finally:
            starter.close()

        def completed() -> int:
            return engine.list_instances(definition="order_hybrid", status="completed", limit=1)["total"]

        wait_for(completed, lambda n: n == ORDERS + 1, timeout=90, interval=0.5,
                 what=f"{ORDERS} concurrent orders to complete",
                 describe=lambda n: f"{n} completed; bus log: {bus.text()[-1500:]}")
        fifty_seconds = time.monotonic() - began

        order_ids = set()
        for n, instance_id in enumerate(ids):
            doc = status(instance_id)
            v = doc["variables"]
            assert doc["status"] == "completed" and doc["business_key"] == f"order-{n}", summary(doc)
            assert v["charged"] == n + 1 and v["customer"] == f"c{n}"
            assert v["shipped_order_id"] == v["order_id"], summary(doc)  # its own order's shipment
            shipped = [h for h in doc["history"] if h["element_id"] == "await_shipment" and h["event"] == "message"]
            assert len(shipped) == 1, summary(doc)
            [publish] = [j for j in doc["jobs"] if j["kind"] == "publish"]
            assert publish["status"] == "done"
            order_ids.add(v["order_id"])
        assert len(order_ids) == ORDERS
    finally:
        engine.close()

    # the choreographed side saw every order once
    seen = wait_for(demo.state.snapshot, lambda s: len(s["notifications"]) >= ORDERS + 1, timeout=10,
                    what="every notification")
    assert {s["order_id"] for s in seen["shipped"]} >= order_ids
    assert len({s["order_id"] for s in seen["shipped"]}) == ORDERS + 1
    assert {n["order_id"] for n in seen["notifications"]} == {s["order_id"] for s in seen["shipped"]}
    assert all(n["traceparent"] and n["traceparent"].startswith("00-") for n in seen["notifications"])
    log = bus.text()
    assert "Traceback" not in log and "dead-lettered" not in log, log[-3000:]
    print(f"\nsynchronous edge answered ({answer['status']}) in {edge_seconds:.2f} s; "
          f"{ORDERS} concurrent orders through the bus in {fifty_seconds:.1f} s")
