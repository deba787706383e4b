"""The bus bridge on real RabbitMQ and Redis, with Baton's engine driven inline in this process.

- a duplicate event (same event id, published again, or twice at once to competing consumers)
  is applied once: an order shipped in two parcels does not take the first parcel's duplicate
  for the second;
- events Baton cannot use (no waiting instance, no correlation key, not JSON, pickle) go to the
  dead-letter queue with their reason, and are acknowledged;
- a publish that fails (the bus is down) keeps its job and its message: once the bus is back,
  the relay's re-send publishes it, exactly once, in Baton's envelope, and it reaches the
  instance waiting for it through the bus.

The full hybrid order, with real worker and ``baton bus`` processes, is in test_bus_e2e.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Producer, Queue, binding

from adapters.bus import BusConsumer, connect, load_routes, start_consumer_thread, topic_exchange
from adapters.runner import InlineDriver, run_job
from engine import EndpointMap, Engine
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(120)

DIAGRAMS = ROOT / "tests" / "diagrams"


# -- fixtures and helpers -------------------------------------------------------------------------

@pytest.fixture(params=["rabbitmq", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    """A real bus: a fresh RabbitMQ vhost or a Redis database of its own (conftest's fixtures)."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"exchange": f"test.events.{tag}", "queue": f"test.bus.{tag}", "dead": f"test.bus.dead.{tag}"}


@pytest.fixture
def routes_file(tmp_path: Path, names: dict[str, str]) -> Path:
    path = tmp_path / "bus_routes.toml"
    path.write_text(f"""
[bus]
queue = "{names['queue']}"
dead_letter = "{names['dead']}"
prefetch = 4

[routes.OrderShipped]
correlate = {{ order_id = "$.correlation.order_id" }}
variables = "$.variables"

# Baton's own OrderCreated comes back in through the bus to the instances waiting for it
[routes.OrderCreated]
correlate = {{ order_id = "$.correlation.order_id" }}
variables = "$.variables"
""")
    return path


@pytest.fixture
def bus_engine(settings_factory, bus_url: str, routes_file: Path, names: dict[str, str],  # type: ignore[no-untyped-def]
               ) -> Iterator[Engine]:
    import migrations

    settings = settings_factory(bus_url=bus_url, bus_routes=routes_file, bus_exchange=names["exchange"])
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, notifier=driver.notify, endpoints=EndpointMap())
    driver.engine = engine
    engine.driver = driver  # type: ignore[attr-defined]
    engine.deploy([(p.name, p.read_bytes()) for p in (DIAGRAMS / "bus_two_parcels.bpmn",
                                                       DIAGRAMS / "order_events.bpmn")])
    yield engine
    engine.close()
    with suppress(Exception), Connection(bus_url) as conn:  # the vhost / database goes anyway
        channel = conn.channel()
        for queue in (names["queue"], names["dead"]):
            channel.queue_delete(queue)
        channel.exchange_delete(names["exchange"])


@pytest.fixture
def consumers(bus_engine: Engine) -> Iterator[Callable[[], BusConsumer]]:
    """Start ``baton bus`` consumers in threads; all of them are stopped afterwards."""
    started: list[tuple[BusConsumer, Any]] = []

    def start() -> BusConsumer:
        consumer, thread = start_consumer_thread(bus_engine, load_routes(bus_engine.settings.bus_routes))
        started.append((consumer, thread))
        return consumer

    yield start
    for consumer, _ in started:
        consumer.stop()
    for _, thread in started:
        thread.join(10)


def send(url: str, exchange: str, routing_key: str, body: Any, **options: Any) -> None:
    """Publish like any other service on the bus would."""
    with connect(url) as conn:
        ex = topic_exchange(exchange)
        if not isinstance(body, bytes | str):
            options.setdefault("serializer", "json")
        Producer(conn).publish(body, exchange=ex, routing_key=routing_key, declare=[ex], delivery_mode=2,
                               retry=True, **options)


def drain_queue(url: str, name: str) -> list[Any]:
    """Every message in queue ``name`` (taken off it)."""
    found = []
    with Connection(url) as conn:
        queue = Queue(name, durable=True)(conn.channel())
        while (message := queue.get(no_ack=True)) is not None:
            found.append(message)
    return found


def wait_until(probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def handled(*found: BusConsumer) -> int:
    return sum(sum(c.stats.values()) for c in found)


def shipped(order_id: str, event_id: str, **variables: Any) -> dict[str, Any]:
    return {"event": "OrderShipped", "event_id": event_id, "correlation": {"order_id": order_id},
            "variables": variables}


def messages_at(doc: dict[str, Any], element_id: str) -> int:
    return sum(1 for h in doc["history"] if h["element_id"] == element_id and h["event"] == "message")


# -- tests -----------------------------------------------------------------------------------------

def test_a_duplicate_event_is_applied_once(bus_engine: Engine, consumers, bus_url: str,  # type: ignore[no-untyped-def]
                                           names: dict[str, str]) -> None:
    first, second = consumers(), consumers()  # competing consumers on one queue
    a = bus_engine.start("two_parcels", {"order_id": "A"})
    b = bus_engine.start("two_parcels", {"order_id": "B"})

    # the first parcel's event, published five times (a producer's retries, a redelivery...),
    # some with a different broker message id: the event id is what counts
    for n in range(5):
        send(bus_url, names["exchange"], "OrderShipped", shipped("A", "evt-parcel-1", parcel=1),
             message_id=f"amqp-{n}")
    wait_until(lambda: handled(first, second) >= 5, "five deliveries handled")
    stats = [first.stats, second.stats]
    assert sum(s.get("delivered", 0) for s in stats) == 1, stats
    assert sum(s.get("duplicate", 0) for s in stats) == 4, stats
    doc = bus_engine.get_instance(a)
    assert doc["status"] == "waiting" and doc["variables"]["parcel"] == 1
    assert messages_at(doc, "first_parcel") == 1 and messages_at(doc, "second_parcel") == 0
    assert bus_engine.get_instance(b)["status"] == "waiting"
    assert messages_at(bus_engine.get_instance(b), "first_parcel") == 0

    # the second parcel is a new event: it moves the instance on
    send(bus_url, names["exchange"], "OrderShipped", shipped("A", "evt-parcel-2", parcel=2))
    wait_until(lambda: handled(first, second) >= 6, "the second parcel handled")
    doc = bus_engine.get_instance(a)
    assert doc["status"] == "completed" and doc["variables"]["parcel"] == 2
    assert messages_at(doc, "second_parcel") == 1
    assert drain_queue(bus_url, names["dead"]) == []


def test_events_baton_cannot_use_are_dead_lettered(bus_engine: Engine, consumers, bus_url: str,  # type: ignore[no-untyped-def]
                                                   names: dict[str, str]) -> None:
    consumer = consumers()
    waiting = bus_engine.start("two_parcels", {"order_id": "A"})
    send(bus_url, names["exchange"], "OrderShipped", shipped("nobody", "evt-1"))
    send(bus_url, names["exchange"], "OrderShipped", {"event": "OrderShipped", "event_id": "evt-2"})
    send(bus_url, names["exchange"], "OrderShipped", b"{not json", content_type="text/plain",
         content_encoding="utf-8")
    send(bus_url, names["exchange"], "OrderShipped", b"\x80\x04K\x01.", content_type="application/x-python-serialize",
         content_encoding="binary")
    wait_until(lambda: consumer.stats.get("dead_lettered", 0) >= 4, "four dead letters")
    dead = drain_queue(bus_url, names["dead"])
    reasons = sorted(m.headers["x-baton-reason"] for m in dead)
    assert len(dead) == 4, reasons
    assert any("'OrderShipped' (order_id='nobody') matches no waiting instance" in r for r in reasons), reasons
    assert any("correlation key 'order_id' missing" in r for r in reasons), reasons
    assert any("not JSON" in r for r in reasons), reasons
    assert any("cannot decode" in r for r in reasons), reasons
    assert all(m.headers["x-baton-routing-key"] == "OrderShipped" for m in dead)
    bodies = [m.body.decode(errors="replace") if isinstance(m.body, bytes) else m.body for m in dead]
    assert json.loads(next(b for b in bodies if "nobody" in b))["event_id"] == "evt-1"  # kept as it came
    assert "{not json" in bodies
    assert consumer.stats == {"dead_lettered": 4}
    assert bus_engine.get_instance(waiting)["status"] == "waiting"
    # the one whose order is known is on that order's trace, refused, resuming no instance
    [refused] = bus_engine.trace("nobody")["events"]
    assert (refused["kind"], refused["event_id"], refused["outcome"], refused["instance_id"]) == \
        ("consumed", "evt-1", "dead_lettered", None)


def test_a_failed_publish_keeps_its_message_until_the_bus_is_back(bus_engine: Engine, consumers,  # type: ignore[no-untyped-def]
                                                                   bus_url: str, names: dict[str, str]) -> None:
    down = bus_url.split("://")[0] + "://guest:guest@127.0.0.1:1//" if bus_url.startswith("amqp") \
        else "redis://127.0.0.1:1/0"
    driver = InlineDriver()
    offline = Engine(bus_engine.settings.replace(bus_url=down, retry_base_seconds=0.001), notifier=driver.notify,
                     endpoints=EndpointMap())
    driver.engine = offline
    try:
        waiting = offline.start("ship_order", {"order_id": "b"})
        thrower = offline.start("place_order", {"order_id": "b", "qty": 2})
        began = time.monotonic()
        driver.drain()
        failed_in = time.monotonic() - began
        doc = offline.get_instance(thrower)
        [job] = [j for j in doc["jobs"] if j["kind"] == "publish"]
        # retried with backoff like any call, then an incident: the message is kept, never dropped
        assert job["status"] == "failed" and job["attempts"] == job["max_attempts"], job
        assert "to the bus failed" in job["last_error"]
        [incident] = doc["incidents"]
        assert offline.get_instance(waiting)["status"] == "waiting"
    finally:
        offline.close()
    assert failed_in < 15, f"a publish to a dead bus took {failed_in:.1f} s to give up"

    # the bus is back: a spy sees what goes out; Baton's consumer brings it back in
    with Connection(bus_url) as conn:
        Queue(f"spy.{names['queue']}", durable=False, auto_delete=False,
              bindings=[binding(topic_exchange(names["exchange"]), routing_key="#")])(conn.channel()).declare()
    consumer = consumers()
    bus_engine.retry_incident(incident["id"])  # what an operator does once the bus is back
    assert run_job(bus_engine, job["id"]) == "handed on"
    assert run_job(bus_engine, job["id"]) == "skipped"  # done: a late re-send does nothing
    wait_until(lambda: bus_engine.get_instance(waiting)["status"] == "completed", "the waiting instance to resume")
    assert bus_engine.get_instance(waiting)["variables"]["total"] == 6
    wait_until(lambda: consumer.stats, "the consumer to count its event")  # it acks after the commit
    assert consumer.stats == {"delivered": 1}

    [sent] = drain_queue(bus_url, f"spy.{names['queue']}")
    body = json.loads(sent.body)  # str or bytes, as the transport hands it
    assert body["event"] == "OrderCreated" and body["event_id"] == job["id"]
    assert body["correlation"] == {"order_id": "b"} and body["variables"]["total"] == 6
    assert body["instance_id"] == thrower and body["element_id"] == "announce"
    assert sent.headers["traceparent"] == f"00-{thrower.replace('-', '')}-{job['id'].replace('-', '')[:16]}-01"
    assert sent.delivery_info["routing_key"] == "OrderCreated"
    [job] = [j for j in bus_engine.get_instance(thrower)["jobs"] if j["kind"] == "publish"]
    assert job["status"] == "done"
    with Connection(bus_url) as conn:
        conn.channel().queue_delete(f"spy.{names['queue']}")
