"""The choreographed side of ``order_hybrid``: shipping and notification services on the bus.

``python -m processes.services.consumers [--bus-url URL] [--exchange NAME] [--delay S]``
(defaults: ``BATON_BUS_URL``, ``BATON_BUS_EXCHANGE`` or ``baton.events``).

Both react to ``OrderCreated`` events on the topic exchange, each through its own durable queue
(``shipping.order-created``, ``notification.order-created``), as two independent services would:

- **shipping** ships the order and publishes ``OrderShipped`` (routing key ``OrderShipped``)
  with the same ``order_id`` in its correlation, a ``shipment_id``, a ``carrier`` and
  ``shipped_order_id`` (the order it shipped, so a test can check the reply reached the right
  instance). Its event id is derived from the ``OrderCreated`` event id, so a redelivered
  ``OrderCreated`` republishes the *same* ``OrderShipped`` event and Baton applies it once.
- **notification** records the order confirmation it would e-mail (once per event id) and
  publishes ``CustomerNotified`` (routing key ``CustomerNotified``, same ``order_id``) for the
  shop's other services; Baton does not consume it, it only watches it (``[watch]`` in
  ``bus_routes.toml``) so an order's trace shows it.

Every event these services publish says who published it in ``source``.

Both acknowledge an event only after handling it (shipping: after its reply was published,
confirmed by RabbitMQ), so a consumer killed mid-way gets the event again. The envelope is the
one Baton publishes (``adapters/bus.py``): ``event``, ``event_id``, ``correlation``,
``variables``, ``instance_id``, ``business_key`` and a ``traceparent`` header, which the reply
carries on.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Exchange, Queue
from kombu.mixins import ConsumerProducerMixin

log = logging.getLogger("baton.demo.consumers")

SHIPPING_QUEUE = "shipping.order-created"
NOTIFICATION_QUEUE = "notification.order-created"
CARRIERS = ("DHL", "UPS", "PostNL")


@dataclass
class ConsumerState:
    """What the demo services did, for a demo or a test to look at (thread-safe)."""

    shipped: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"shipped": list(self.shipped), "notifications": list(self.notifications),
                    "received": self.received}


class DemoConsumers(ConsumerProducerMixin):
    """Shipping and notification, one connection, one queue each."""

    def __init__(self, url: str, exchange: str = "baton.events", *, delay: float = 0.0,
                 state: ConsumerState | None = None, queue_prefix: str = ""):
        opts = {"confirm_publish": True} if url.startswith(("amqp://", "amqps://", "pyamqp://")) else {}
        self.connection = Connection(url, transport_options=opts, connect_timeout=5)
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self.shipping_queue = Queue(queue_prefix + SHIPPING_QUEUE, self.exchange, routing_key="OrderCreated",
                                    durable=True)
        self.notification_queue = Queue(queue_prefix + NOTIFICATION_QUEUE, self.exchange, routing_key="OrderCreated",
                                        durable=True)
        self.delay = delay
        self.state = state or ConsumerState()
        self.ready = threading.Event()
        self._notified: set[str] = set()

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 (kombu's name)
        return [
            Consumer(queues=[self.shipping_queue], callbacks=[self.ship], accept=["application/json"],
                     prefetch_count=8),
            Consumer(queues=[self.notification_queue], callbacks=[self.notify], accept=["application/json"],
                     prefetch_count=8),
        ]

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        log.info("shipping and notification consume OrderCreated on %s", self.exchange.name)
        self.ready.set()

    def stop(self) -> None:
        self.should_stop = True

    # -- shipping ------------------------------------------------------------------------------
    def ship(self, body: dict[str, Any], message: Any) -> None:
        with self.state.lock:
            self.state.received += 1
        order_id = (body.get("correlation") or {}).get("order_id") or (body.get("variables") or {}).get("order_id")
        if not order_id:
            log.warning("shipping: OrderCreated %s carries no order_id; ignored", body.get("event_id"))
            message.ack()
            return
        if self.delay:
            time.sleep(self.delay)
        digest = hashlib.sha256(f"{body.get('event_id')}".encode()).hexdigest()
        reply = {
            "event": "OrderShipped",
            "event_id": f"shipped-{digest[:24]}",  # the same reply for a redelivered OrderCreated
            "source": "shipping",
            "correlation": {"order_id": order_id},
            "variables": {"shipment_id": f"shp_{digest[:12]}", "carrier": CARRIERS[int(digest, 16) % 3],
                          "shipped_order_id": order_id, "shipped_at": datetime.now(UTC).isoformat()},
            "business_key": body.get("business_key"),
            "caused_by": body.get("event_id"),
        }
        headers = {"traceparent": (message.headers or {}).get("traceparent")} if message.headers else {}
        self.producer.publish(reply, exchange=self.exchange, routing_key="OrderShipped", declare=[self.exchange],
                              serializer="json", headers=headers, message_id=reply["event_id"], delivery_mode=2,
                              retry=True)
        with self.state.lock:
            self.state.shipped.append({"order_id": order_id, "event_id": reply["event_id"],
                                       "caused_by": body.get("event_id"), "instance_id": body.get("instance_id")})
        message.ack()

    # -- notification --------------------------------------------------------------------------
    def notify(self, body: dict[str, Any], message: Any) -> None:
        event_id = str(body.get("event_id"))
        order_id = (body.get("correlation") or {}).get("order_id")
        digest = hashlib.sha256(f"notified:{event_id}".encode()).hexdigest()
        if order_id:
            # tells the shop's other services (a CRM, say) the customer was told; Baton only watches
            notified = {"event": "CustomerNotified", "event_id": f"notified-{digest[:24]}", "source": "notification",
                        "correlation": {"order_id": order_id}, "business_key": body.get("business_key"),
                        "caused_by": body.get("event_id")}
            self.producer.publish(notified, exchange=self.exchange, routing_key="CustomerNotified",
                                  declare=[self.exchange], serializer="json", message_id=notified["event_id"],
                                  delivery_mode=2, retry=True)
        with self.state.lock:
            if event_id not in self._notified:
                self._notified.add(event_id)
                self.state.notifications.append({
                    "event_id": event_id, "order_id": (body.get("correlation") or {}).get("order_id"),
                    "instance_id": body.get("instance_id"),
                    "traceparent": (message.headers or {}).get("traceparent"),
                    "text": f"Your order {(body.get('variables') or {}).get('order_id')} is confirmed."})
        message.ack()


def start_in_thread(url: str, exchange: str = "baton.events", *, delay: float = 0.0, queue_prefix: str = "",
                    ready_timeout: float = 15.0) -> tuple[DemoConsumers, threading.Thread]:
    """Both services in a daemon thread, returned once they consume; ``consumers.stop()`` ends them."""
    consumers = DemoConsumers(url, exchange, delay=delay, queue_prefix=queue_prefix)
    thread = threading.Thread(target=consumers.run, name="demo-consumers", daemon=True)
    thread.start()
    if not consumers.ready.wait(ready_timeout):
        consumers.stop()
        raise TimeoutError(f"the demo consumers were not consuming after {ready_timeout} s")
    return consumers, thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m processes.services.consumers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bus-url", default=os.environ.get("BATON_BUS_URL"))
    parser.add_argument("--exchange", default=os.environ.get("BATON_BUS_EXCHANGE") or "baton.events")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds shipping takes per order")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.bus_url:
        parser.error("no bus: give --bus-url or set BATON_BUS_URL")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    consumers = DemoConsumers(args.bus_url, args.exchange, delay=args.delay)

    def stop(*_: object) -> None:
        consumers.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"shipping and notification consumers on exchange {args.exchange} (Ctrl-C to stop)", flush=True)
    consumers.run()


if __name__ == "__main__":
    main()
