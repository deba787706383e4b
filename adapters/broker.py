"""The broker side: the embedded transport and the notifier that sends jobs after commit.

Embedded default, chosen and measured (see docs/broker.md): kombu's SQLAlchemy transport on a
SQLite file beside the database. Its polling interval (1 s by default, which made a round trip
take about a second) is lowered here on a Transport subclass, because the transport hands every
``broker_transport_options`` key to ``create_engine()``. It is not a durable queue (a message
whose worker died with it is not delivered again, and consumed rows are never deleted); the
job table is the truth and the relay re-sends, so that loses nothing, and :func:`sweep_consumed`
deletes consumed rows.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport.sqlalchemy import Transport as SqlaTransport
from kombu.transport.virtual import Channel as VirtualChannel
from sqlalchemy import create_engine, text

from engine import JobTicket

log = logging.getLogger("baton.broker")

EMBEDDED_PREFIX = "sqla+"
JOB_QUEUE = "baton"  # baton.run_job messages
RELAY_QUEUE = "baton.relay"  # the periodic relay, apart so a backlog of jobs never delays it


class EmbeddedTransport(SqlaTransport):
    """kombu's SQLAlchemy transport, polling every 50 ms instead of every second."""

    polling_interval = 0.05


def is_embedded(broker_url: str) -> bool:
    return broker_url.startswith(EMBEDDED_PREFIX + "sqlite")


def sweep_consumed(broker_url: str) -> int:
    """Delete messages the embedded transport already delivered (it keeps them forever)."""
    if not is_embedded(broker_url):
        return 0
    engine = create_engine(broker_url[len(EMBEDDED_PREFIX):], connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            exists = conn.execute(text("SELECT name FROM sqlite_master WHERE name='kombu_message'")).first()
            if not exists:
                return 0
            return conn.execute(text("DELETE FROM kombu_message WHERE visible = 0")).rowcount
    finally:
        engine.dispose()


def queue_depth(celery_app: Any, queue: str) -> int | None:
    """Messages waiting in ``queue`` (not those a worker already took), or None if unknown.

    Every transport Baton uses can say: Redis (the list's length), RabbitMQ (a passive declare's
    message count), the embedded broker (its visible rows). A queue that does not exist yet is
    empty. Any other failure is None: the relay then falls back on its backoff alone.
    """
    try:
        with celery_app.connection_for_read() as conn:
            channel = conn.default_channel
            if isinstance(channel, VirtualChannel):  # declaring is a no-op there, and never refused
                return int(channel.queue_declare(queue=queue).message_count)
            try:
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception as exc:
                if getattr(exc, "code", None) == 404 or type(exc).__name__ == "NotFound":
                    return 0
                raise
    except Exception as exc:  # the relay must run even when it cannot see the queue
        log.warning("cannot read the depth of queue %s (%s); the relay uses its backoff alone", queue, exc)
        return None


class CeleryNotifier:
    """Sends a ``baton.run_job`` message per new job. Called after the engine's commit.

    A send that fails (broker down) is logged and dropped: the job row stays ``pending`` and the
    relay sends it again once the broker is back.
    """

    def __init__(self, celery_app):  # type: ignore[no-untyped-def]
        self.app = celery_app

    def __call__(self, tickets: list[JobTicket]) -> None:
        for ticket in tickets:
            if ticket.kind == "external":  # its worker fetches it (/engine-rest); Celery has nothing to run
                continue
            try:
                self.app.send_task(
                    "baton.run_job", args=[ticket.id], countdown=ticket.eta_seconds or None,
                    retry=False,
                )
            except Exception as exc:  # the relay covers it
                log.warning("could not send job %s to the broker (%s); the relay will", ticket.id, exc)
