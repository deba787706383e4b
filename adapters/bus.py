"""The bus bridge: Baton's message events out to a kombu topic exchange, domain events in.

**Out.** A message throw or end event that nothing in its own instance caught is a ``publish``
job (``engine.outbox.publish_jobs``). With ``BATON_BUS_URL`` set, running that job sends one
persistent JSON message to the topic exchange ``BATON_BUS_EXCHANGE`` (default
``baton.events``) with the message name as routing key (or ``[publish.<name>] routing_key``)::

    {"event": "OrderCreated", "event_id": "<the job id>", "correlation": {"order_id": "..."},
     "variables": {...}, "instance_id": "...", "business_key": "...", "element_id": "..."}

with headers ``traceparent`` (W3C, the instance's trace) and ``baton-instance-id``. The event id
is the job id, so a retried publish repeats the same id and a consumer that deduplicates by
event id applies it once. On RabbitMQ the publish waits for the broker's confirm. A failed
publish raises :class:`BusUnavailable`; the runner keeps the job (and its message) for a retry.

**In.** :class:`BusConsumer` (``baton bus``) consumes one durable queue (``[bus] queue``, default
``baton.bus``; several ``baton bus`` processes share it as competing consumers) bound to the
exchange with every route's routing key. Each event is matched to its route, turned into a
message by the route's JSON paths and handed to ``engine.correlate(..., message_id=<event id>)``;
the broker message is acknowledged only after that call returned (its transaction committed).
So consumption is at least once, and a redelivered or republished event (same event id) is
answered from the engine's receipt and changes nothing.

An event that cannot become a message (no route, a correlation key missing, not JSON) or that
matches no waiting instance and starts none is **dead-lettered**: republished, body untouched,
with an ``x-baton-reason`` header, to the durable queue ``[bus] dead_letter`` (default
``baton.bus.dead``), then acknowledged; ``dead_letter = ""`` logs and drops it instead. A
failure of Baton itself (the database is down) is not the event's fault: the event goes back
to the queue after a growing pause and is tried again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.mixins import ConsumerProducerMixin

from engine import BatonError, Engine, JobCall, MessageNotCorrelated, RetryableFailure, Settings

from .bus_routes import BusRoutes, RouteError

log = logging.getLogger("baton.bus")

#: Content types the consumer decodes. Never pickle or YAML from a bus others publish on.
ACCEPT = ["application/json", "text/plain", "application/data"]

#: How long one publish keeps trying (reconnecting) before the job gives up this attempt: a blip
#: (a dropped idle connection) is retried at once; an outage is the relay's, not a worker's to sit out.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}

#: A non-database error on the same event this many times dead-letters it (a poison message).
POISON_ATTEMPTS = 5


class BusUnavailable(RetryableFailure):
    """Publishing to the bus failed; the publish job must be tried again later."""


def transport_options(url: str) -> dict[str, Any]:
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {"confirm_publish": True}
    if url.startswith(("redis://", "rediss://")):
        # an event a dead consumer held goes back to the queue after this (default: an hour)
        return {"visibility_timeout": 300}
    return {}


def connect(url: str) -> Connection:
    return Connection(url, transport_options=transport_options(url), connect_timeout=5)


def topic_exchange(name: str) -> Exchange:
    return Exchange(name, type="topic", durable=True)


_routes_cache: dict[tuple[str, float], BusRoutes] = {}


def load_routes(path: Path | None) -> BusRoutes:
    """The routes file, read again only when it changed (a worker reads it on its publishes)."""
    if path is None:
        return BusRoutes()
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        mtime = -1.0
    key = (str(path), mtime)
    found = _routes_cache.get(key)
    if found is None:
        found = BusRoutes.load(path)
        _routes_cache.clear()
        _routes_cache[key] = found
    return found


# -- out ----------------------------------------------------------------------------------------

class BusPublisher:
    """One connection per process (made lazily, after any fork), one publish at a time."""

    def __init__(self, url: str, exchange: str):
        self.url = url
        self.exchange = topic_exchange(exchange)
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def send(self, routing_key: str, body: dict[str, Any], *, headers: dict[str, Any],
             message_id: str) -> None:
        with self._lock:
            if self._connection is None:
                self._connection = connect(self.url)
            try:
                Producer(self._connection).publish(
                    body, exchange=self.exchange, routing_key=routing_key, declare=[self.exchange],
                    serializer="json", headers=headers, message_id=message_id, delivery_mode=2,
                    retry=True, retry_policy=PUBLISH_RETRY_POLICY)
            except Exception:
                self.close_locked()
                raise

    def close(self) -> None:
        with self._lock:
            self.close_locked()

    def close_locked(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                self._connection.release()
            self._connection = None


_publishers: dict[tuple[int, str, str], BusPublisher] = {}
_publishers_lock = threading.Lock()


def publisher_for(settings: Settings) -> BusPublisher:
    key = (os.getpid(), settings.bus_url, settings.bus_exchange)
    with _publishers_lock:
        found = _publishers.get(key)
        if found is None:
            found = _publishers[key] = BusPublisher(settings.bus_url, settings.bus_exchange)
        return found


#: What Baton's own events say in ``source``: who published them, on a trace.
SOURCE = "baton"


def event_body(call: JobCall, outbound_variables: dict[str, Any]) -> dict[str, Any]:
    payload = call.payload or {}
    return {
        "event": payload["name"],
        "event_id": call.job_id,
        "source": SOURCE,
        "correlation": payload.get("correlation") or {},
        "variables": outbound_variables,
        "instance_id": call.instance_id,
        "business_key": payload.get("business_key"),
        "element_id": call.element_id,
    }


def publish_event(engine: Engine, call: JobCall) -> dict[str, Any]:
    """Send the message of publish job ``call`` to the bus and record it for traces; raise
    :class:`BusUnavailable` if the bus did not take it.

    The record comes after the broker's confirm: an event is never recorded as published that
    did not go out. A failure to record (the database away) leaves the job to be run again; the
    event goes out again with the same id, which consumers deduplicate."""
    settings = engine.settings
    payload = call.payload or {}
    try:
        outbound = load_routes(settings.bus_routes).outbound_for(payload["name"])
        body = event_body(call, outbound.select(payload.get("variables") or {}))
        headers = {"traceparent": call.traceparent, "baton-instance-id": call.instance_id}
        publisher_for(settings).send(outbound.routing_key, body, headers=headers, message_id=call.job_id)
    except Exception as exc:
        raise BusUnavailable(f"publishing {payload.get('name')!r} to the bus failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    engine.record_bus_event(kind="published", routing_key=outbound.routing_key, event_id=call.job_id,
                            event_type=payload["name"], source=SOURCE, instance_id=call.instance_id,
                            correlation=body["correlation"], business_key=body["business_key"])
    return {"result": "published", "exchange": settings.bus_exchange, "routing_key": outbound.routing_key,
            "event_id": call.job_id}


# -- in -----------------------------------------------------------------------------------------

class BusConsumer(ConsumerProducerMixin):
    """Consume routed domain events and correlate them; ``run()`` until ``should_stop``.

    Runs in a thread as well as in ``baton bus``: ``ready`` is set once the queue is declared,
    bound and consumed; ``stats`` counts outcomes (delivered, started, buffered, duplicate,
    dead_lettered, requeued).
    """

    def __init__(self, engine: Engine, routes: BusRoutes, *, url: str | None = None, exchange: str | None = None):
        settings = engine.settings
        url = url or settings.bus_url
        if not url:
            raise BatonError("BATON_BUS_URL is not set: there is no bus to consume")
        self.engine = engine
        self.routes = routes
        self.connection = connect(url)
        self.exchange = topic_exchange(exchange or settings.bus_exchange)
        self.queue = Queue(routes.queue, durable=True,
                           bindings=[binding(self.exchange, routing_key=key) for key in routes.binding_keys])
        self.dead_queue = Queue(routes.dead_letter, durable=True) if routes.dead_letter else None
        # Events between other services, recorded for traces: a queue of their own, so a watched
        # event never meets the routes (and is never dead-lettered for having none).
        self.watch_queue = Queue(routes.watch_queue, durable=True,
                                 bindings=[binding(self.exchange, routing_key=key) for key in routes.watch_keys]
                                 ) if routes.watches else None
        self.ready = threading.Event()
        self.stats: dict[str, int] = {}
        self._failures: OrderedDict[str, int] = OrderedDict()
        self._pause = 0.0

    # -- kombu plumbing --------------------------------------------------------------------
    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 (kombu's name)
        if self.dead_queue is not None:
            self.dead_queue(channel).declare()
        consumers = [Consumer(queues=[self.queue], callbacks=[self.on_event], accept=ACCEPT,
                              prefetch_count=self.routes.prefetch)]
        if self.watch_queue is not None:
            consumers.append(Consumer(queues=[self.watch_queue], callbacks=[self.on_watched], accept=ACCEPT,
                                      prefetch_count=self.routes.prefetch))
        return consumers

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        log.info("consuming %s from exchange %s, bound to %s", self.routes.queue, self.exchange.name,
                 ", ".join(self.routes.binding_keys) or "nothing")
        if self.watch_queue is not None:
            log.info("watching %s, bound to %s", self.watch_queue.name, ", ".join(self.routes.watch_keys))
        self.ready.set()

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self._dead_letter(message, f"cannot decode the body ({message.content_type}): {exc}")
        message.ack()

    def stop(self) -> None:
        self.should_stop = True

    # -- one event -------------------------------------------------------------------------
    def on_event(self, body: Any, message: Any) -> None:
        arrived = datetime.now(UTC)  # a trace shows the event before what it made the instance do
        routing_key = message.delivery_info.get("routing_key") or ""
        event = body
        if isinstance(event, bytes | str):
            try:
                event = json.loads(event)
            except ValueError as exc:
                self._reject(message, f"the body is not JSON: {exc}")
                return
        route = self.routes.match(routing_key, event)
        if route is None:
            self._reject(message, f"no route for routing key {routing_key!r} and event type "
                                  f"{self.routes.event_type_path.get(event)!r}")
            return
        try:
            inbound = route.extract(event, message.properties.get("message_id"))
        except RouteError as exc:
            self._reject(message, str(exc))
            return
        if inbound.event_id is None:
            log.warning("event %s (route %s) has no event id: it cannot be deduplicated", routing_key, route.name)
        try:
            result = self.engine.correlate(inbound.message, correlation=inbound.correlation,
                                           variables=inbound.variables, business_key=inbound.business_key,
                                           message_id=inbound.event_id, ttl_seconds=inbound.ttl_seconds)
        except MessageNotCorrelated as exc:
            try:
                self._record(routing_key, event, inbound, None, "dead_lettered", arrived)
            except Exception as record_exc:
                self._retry_later(message, inbound.event_id, record_exc)
                return
            self._reject(message, str(exc))
            return
        except BatonError as exc:  # the event's content is refused (variables not JSON values...)
            self._reject(message, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:
            self._retry_later(message, inbound.event_id, exc)
            return
        try:
            # after the correlation committed; lost with a crash before it, the redelivered event
            # is answered as a duplicate from the receipt and recorded then, with the same instance
            self._record(routing_key, event, inbound, result.get("instance_id"), str(result.get("result")), arrived)
        except Exception as exc:
            self._retry_later(message, inbound.event_id, exc)
            return
        message.ack()
        self._pause = 0.0
        outcome = "duplicate" if result.get("duplicate") else str(result.get("result"))
        self._count(outcome)
        log.info("event %s id=%s -> %s %s %s", routing_key, inbound.event_id, inbound.message, outcome,
                 result.get("instance_id", ""))

    def _record(self, routing_key: str, event: Any, inbound: Any, instance_id: str | None, outcome: str,
                arrived: datetime) -> None:
        source = self.routes.source_path.get(event)
        event_type = self.routes.event_type_path.get(event)
        self.engine.record_bus_event(
            kind="consumed", routing_key=routing_key, event_id=inbound.event_id,
            event_type=None if event_type is None else str(event_type), source=None if source is None else str(source),
            instance_id=instance_id, outcome=outcome, correlation=inbound.correlation,
            business_key=inbound.business_key, at=arrived)

    def on_watched(self, body: Any, message: Any) -> None:
        """An event between other services: recorded with its keys, never correlated."""
        routing_key = message.delivery_info.get("routing_key") or ""
        event = body
        if isinstance(event, bytes | str):
            try:
                event = json.loads(event)
            except ValueError:
                log.warning("watched event %s is not JSON: not recorded", routing_key)
                message.ack()
                return
        watch = self.routes.watch_match(routing_key, event)
        if watch is None:  # bound by a pattern, refused by the event type
            message.ack()
            return
        correlation, business_key = watch.keys(event)
        event_id = watch.event_id.get(event) or message.properties.get("message_id")
        source = self.routes.source_path.get(event)
        event_type = self.routes.event_type_path.get(event)
        try:
            self.engine.record_bus_event(
                kind="watched", routing_key=routing_key, event_id=None if event_id is None else str(event_id),
                event_type=None if event_type is None else str(event_type),
                source=None if source is None else str(source), correlation=correlation, business_key=business_key)
        except Exception as exc:
            self._retry_later(message, None if event_id is None else str(event_id), exc)
            return
        message.ack()
        self._count("watched")

    def _retry_later(self, message: Any, event_id: str | None, exc: Exception) -> None:
        from sqlalchemy import exc as db_errors

        key = event_id or repr(message.body)[:200]
        attempts = self._failures.get(key, 0) + 1
        self._failures[key] = attempts
        while len(self._failures) > 1000:
            self._failures.popitem(last=False)
        database_down = isinstance(exc, db_errors.DBAPIError | db_errors.TimeoutError)
        if not database_down and attempts >= POISON_ATTEMPTS:
            log.exception("event %s failed %d times: dead-lettering it", event_id, attempts)
            self._reject(message, f"failed {attempts} times: {type(exc).__name__}: {exc}")
            return
        self._pause = min(10.0, max(0.5, self._pause * 2))
        log.warning("event %s not handled (%s: %s); back to the queue in %.1f s", event_id,
                    type(exc).__name__, exc, self._pause)
        time.sleep(self._pause)
        message.requeue()
        self._count("requeued")

    def _reject(self, message: Any, reason: str) -> None:
        self._dead_letter(message, reason)
        message.ack()

    def _dead_letter(self, message: Any, reason: str) -> None:
        routing_key = message.delivery_info.get("routing_key")
        if self.dead_queue is None:
            log.warning("event %s dropped: %s", routing_key, reason)
            self._count("dropped")
            return
        headers = dict(message.headers or {})
        headers.update({"x-baton-reason": reason[:1000], "x-baton-routing-key": routing_key,
                        "x-baton-exchange": message.delivery_info.get("exchange")})
        body = message.body
        if isinstance(body, str):
            body = body.encode()
        self.producer.publish(body, exchange="", routing_key=self.dead_queue.name, headers=headers,
                              content_type=message.content_type or "application/data",
                              content_encoding=message.content_encoding or "binary",
                              delivery_mode=2, retry=True, declare=[self.dead_queue])
        log.warning("event %s dead-lettered to %s: %s", routing_key, self.dead_queue.name, reason)
        self._count("dead_lettered")

    def _count(self, outcome: str) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + 1


def start_consumer_thread(engine: Engine, routes: BusRoutes, *, url: str | None = None,
                          exchange: str | None = None, ready_timeout: float = 15.0
                          ) -> tuple[BusConsumer, threading.Thread]:
    """A :class:`BusConsumer` in a daemon thread, returned once it consumes (tests, ``baton run``)."""
    consumer = BusConsumer(engine, routes, url=url, exchange=exchange)
    thread = threading.Thread(target=consumer.run, name="baton-bus", daemon=True)
    thread.start()
    if not consumer.ready.wait(ready_timeout):
        consumer.stop()
        raise TimeoutError(f"the bus consumer was not consuming after {ready_timeout} s")
    return consumer, thread


__all__ = ["BusConsumer", "BusPublisher", "BusUnavailable", "event_body", "load_routes", "publish_event",
           "start_consumer_thread"]
