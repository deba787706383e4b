"""Run one job: claim it, call its endpoint, hand the outcome to the engine.

Shared by the Celery task and the in-process driver, so both behave the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections import deque

from engine import (
    EndpointFailure,
    Engine,
    FatalFailure,
    JobCall,
    JobTicket,
    MessageNotCorrelated,
    RetryableFailure,
)

from .endpoints import adapter_for

log = logging.getLogger("baton.runner")


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def publish(engine: Engine, call: JobCall) -> dict[str, object]:
    """Hand on a message an instance threw: to the bus (``BATON_BUS_URL``, see ``adapters.bus``),
    or, without a bus, to the instances of this Baton waiting for it.

    Raises :class:`engine.RetryableFailure` when the bus could not take it."""
    payload = call.payload or {}
    if engine.settings.bus_url:
        from .bus import publish_event

        return publish_event(engine.settings, call)
    try:
        return engine.correlate(payload["name"], correlation=payload.get("correlation") or {},
                                variables=payload.get("variables") or {})
    except MessageNotCorrelated as exc:
        return {"result": "unrouted", "detail": str(exc)}


def _run_publish(engine: Engine, call: JobCall, owner: str) -> str:
    """A publish job: the message must not be lost when the bus is down.

    ``engine.fail_job`` cannot retry a publish job (it looks for a started task, and the thrower
    has completed), so a failed publish gives the job back (``release_job``): it stays
    ``pending`` and the relay sends it again once it is ``BATON_RELAY_STALE_SECONDS`` old, as
    often as it takes. The event id is the job id, so a publish that did reach the bus before
    the failure was noticed is deduplicated by the consumers.
    """
    try:
        result = publish(engine, call)
    except RetryableFailure as failure:
        log.warning("publish job %s (%s) attempt %s failed, kept for the relay: %s", call.job_id,
                    call.element_id, call.attempt, failure)
        engine.release_job(call.job_id, owner)
        return "retry"
    engine.finish_publish(call.job_id, result)
    _settle_status(engine, call.instance_id)
    return "published"


class _NotRunning(Exception):
    pass


def _settle_status(engine: Engine, instance_id: str) -> None:
    """Let the instance's status see that its publish job is done.

    ``engine.finish_publish`` does not recompute the status, so an instance that threw a message
    and then waits for an answer (order_hybrid) would stay ``running`` although only the outside
    can move it, and the synchronous edge (``start --wait``) would never answer at that wait
    state. An empty advance of a still-``running`` instance computes it again (``waiting``); an
    instance in any other status is left as it is (the advance is abandoned under its lock).
    """

    def only_if_running(session: object, instance: object, workflow: object, step: object) -> None:
        if getattr(instance, "status", None) != "running":
            raise _NotRunning

    with contextlib.suppress(_NotRunning):
        engine.advance(instance_id, only_if_running)


def run_job(engine: Engine, job_id: str, owner: str | None = None) -> str:
    """Run ``job_id`` once if it is ours to run; return what happened (for logs and tests)."""
    owner = owner or worker_identity()
    call = engine.claim_job(job_id, owner)
    if call is None:
        return "skipped"
    if call.kind == "timer":
        engine.fire_timer(job_id)
        return "fired"
    if call.kind == "call":
        engine.start_child(job_id)
        return "called"
    if call.kind == "return":
        engine.return_from_child(job_id)
        return "returned"
    if call.kind == "signal":
        payload = call.payload or {}
        engine.finish_publish(job_id, engine.broadcast_signal(payload["name"], payload.get("variables") or {},
                                                              payload.get("exclude_instance")))
        return "signalled"
    if call.kind == "publish":
        return _run_publish(engine, call, owner)
    try:
        result = adapter_for(call.endpoint).call(call)
    except EndpointFailure as failure:
        log.info("job %s (%s) attempt %s failed: %s", job_id, call.element_id, call.attempt, failure)
        engine.fail_job(job_id, failure)
        return "failed"
    except Exception as exc:  # an adapter bug must not lose the job: it becomes an incident
        log.exception("job %s crashed its adapter", job_id)
        engine.fail_job(job_id, FatalFailure(f"adapter error {type(exc).__name__}: {exc}"))
        return "failed"
    engine.complete_job(job_id, result)
    return "done"


class InlineDriver:
    """Runs jobs in this process, right after they are created: the embedded, broker-less mode.

    Pass ``driver.notify`` as the engine's notifier and call :meth:`drain` after each engine
    call. Used by benchmarks and tests; delayed retries run when their time has come.
    """

    def __init__(self) -> None:
        self.queue: deque[JobTicket] = deque()
        self.engine: Engine | None = None

    def notify(self, tickets: list[JobTicket]) -> None:
        self.queue.extend(tickets)

    def drain(self) -> int:
        assert self.engine is not None, "set driver.engine first"
        ran = 0
        while self.queue:
            ticket = self.queue.popleft()
            if ticket.eta_seconds > 0:
                import time

                time.sleep(ticket.eta_seconds)
            run_job(self.engine, ticket.id, "inline")
            ran += 1
        return ran
