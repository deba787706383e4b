"""Run one job: claim it, call its endpoint, hand the outcome to the engine.

Shared by the Celery task and the in-process driver, so both behave the same.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque

from engine import (
    EndpointFailure,
    Engine,
    FatalFailure,
    InvalidRequest,
    JobCall,
    JobNotHeld,
    JobTicket,
    MessageNotCorrelated,
    RetryableFailure,
    SandboxUnavailable,
    database_unavailable,
    logs,
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

        return publish_event(engine, call)
    try:
        return engine.correlate(payload["name"], correlation=payload.get("correlation") or {},
                                variables=payload.get("variables") or {})
    except MessageNotCorrelated as exc:
        return {"result": "unrouted", "detail": str(exc)}


def _hand_on(engine: Engine, call: JobCall, owner: str) -> str:
    """A publish or signal job. A bus that cannot take the message now is a retry with backoff
    (then an incident), like any call: the message is never dropped. The event id is the job id,
    so a publish that reached the bus before the failure was noticed is deduplicated downstream."""
    payload = call.payload or {}
    try:
        if call.kind == "signal":
            result = engine.broadcast_signal(payload["name"], payload.get("variables") or {},
                                             payload.get("exclude_instance"))
        else:
            result = publish(engine, call)
    except EndpointFailure as failure:
        log.warning("%s job %s attempt %s failed: %s", call.kind, call.job_id, call.attempt, failure)
        engine.fail_job(call.job_id, failure, owner=owner, attempt=call.attempt)
        return "failed"
    engine.finish_publish(call.job_id, result)
    return "handed on"


def run_job(engine: Engine, job_id: str, owner: str | None = None) -> str:
    """Run ``job_id`` once if it is ours to run; return what happened (for logs and tests).

    Nothing raised while running a claimed job escapes: it becomes ``engine.fail_job`` with a
    retryable failure (a fatal one when retrying cannot help), so the job is retried with backoff
    and then is an incident. An exception left to escape would leave the job claimed, for the
    relay to send again when its lease ran out, attempt after attempt."""
    # The job's ids (and trace) are bound for its own run only: what the process does next (a
    # start from the same thread) must not inherit them.
    token = logs.replace()
    try:
        return _run_job(engine, job_id, owner or worker_identity())
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # Nothing was claimed or changed (the transaction rolled back); the relay sends it again.
        log.warning("job %s: the database is not reachable (%s); it runs when it is back", job_id,
                    type(exc).__name__)
        return "deferred"
    finally:
        logs.restore(token)


#: Same-worker continuation: after a job, the worker runs the instance's next service job itself
#: (claimed in the advance that made it) instead of a broker round trip, BATON_CONTINUE_STEPS in
#: a row at most and for about this long, then hands the rest to the broker, so one long instance
#: does not keep a worker from the queue (and the first job's broker message gets acknowledged).
CONTINUE_SECONDS = 2.0


def _run_job(engine: Engine, job_id: str, owner: str) -> str:
    call = engine.claim_job(job_id, owner)
    if call is None:
        return "skipped"
    deadline = time.monotonic() + CONTINUE_SECONDS
    steps = 1 + max(0, engine.settings.continue_steps)
    outcome = ""
    for step in range(steps):
        may_continue = step + 1 < steps and time.monotonic() < deadline
        outcome, next_call = _run_guarded(engine, call, owner, may_continue)
        if next_call is None:
            break
        call = next_call
    return outcome


def _run_guarded(engine: Engine, call: JobCall, owner: str, may_continue: bool) -> tuple[str, JobCall | None]:
    """Run one claimed job; nothing it raises escapes (see :func:`run_job`)."""
    job_id = call.job_id
    try:
        return _run_claimed(engine, call, owner, may_continue)
    except JobNotHeld as exc:
        # Our lease ran out and another worker (or a later attempt) has the job: its outcome counts.
        log.warning("job %s (%s) attempt %s: result refused: %s", job_id, call.element_id, call.attempt, exc)
        return "refused", None
    except Exception as exc:
        failure: EndpointFailure
        if isinstance(exc, SandboxUnavailable) or database_unavailable(exc):
            # the machine's trouble, not a bug: a line, no traceback
            log.warning("job %s (%s) attempt %s: %s", job_id, call.element_id, call.attempt,
                        exc if isinstance(exc, SandboxUnavailable) else f"the database is not reachable "
                        f"({type(exc).__name__})")
        else:
            log.exception("job %s (%s, %s) attempt %s raised", job_id, call.kind, call.element_id, call.attempt)
        if isinstance(exc, InvalidRequest):  # e.g. a result that is not JSON: the same next time
            failure = FatalFailure(f"{type(exc).__name__}: {exc}")
        else:
            failure = RetryableFailure(f"{type(exc).__name__}: {exc}")
        try:
            engine.fail_job(job_id, failure, owner=owner, attempt=call.attempt)
        except JobNotHeld as exc:
            log.warning("job %s: failure refused: %s", job_id, exc)
        except Exception as lost:  # the database is gone too: the lease ends, the relay sends it again
            if not database_unavailable(lost):
                raise
            log.warning("job %s: its failure waits for the database; its lease ends and it runs again", job_id)
        return "failed", None


def _run_claimed(engine: Engine, call: JobCall, owner: str, may_continue: bool) -> tuple[str, JobCall | None]:
    """Run one claimed job; with ``may_continue``, also claim the instance's next service or continue job."""
    job_id = call.job_id
    if call.kind == "timer":
        engine.fire_timer(job_id)
        return "fired", None
    if call.kind == "call":
        engine.start_child(job_id)
        return "called", None
    if call.kind == "return":
        engine.return_from_child(job_id)
        return "returned", None
    if call.kind == "cancel_child":  # a call activity was cancelled: its called instances end too
        engine.cancel_called_instances(job_id)
        return "cancelled", None
    if call.kind in ("publish", "signal"):
        return _hand_on(engine, call, owner), None
    if call.kind == "continue":  # camunda:asyncBefore/asyncAfter: go on from the commit point
        return "continued", engine.continue_job(job_id, owner=owner, attempt=call.attempt, take_next=may_continue)
    started = time.time()
    try:
        result = adapter_for(call.endpoint).call(call)
    except EndpointFailure as failure:
        engine.record_attempt(call, started, failure)
        log.info("job %s (%s) attempt %s failed: %s", job_id, call.element_id, call.attempt, failure)
        engine.fail_job(job_id, failure, owner=owner, attempt=call.attempt)
        return "failed", None
    except Exception as exc:  # an adapter bug must not lose the job: it becomes an incident
        engine.record_attempt(call, started, exc)
        log.exception("job %s crashed its adapter", job_id)
        engine.fail_job(job_id, FatalFailure(f"adapter error {type(exc).__name__}: {exc}"), owner=owner,
                        attempt=call.attempt)
        return "failed", None
    if not may_continue:
        engine.complete_job(job_id, result, owner=owner, attempt=call.attempt, call=call, started=started)
        return "done", None
    return "done", engine.complete_job_and_take_next(job_id, result, owner=owner, attempt=call.attempt,
                                                     call=call, started=started)


class InlineDriver:
    """Runs jobs in this process, right after they are created: the embedded, broker-less mode.

    Pass ``driver.notify`` as the engine's notifier and call :meth:`drain` after each engine
    call. Used by benchmarks and tests; delayed retries run when their time has come.
    """

    def __init__(self) -> None:
        self.queue: deque[JobTicket] = deque()
        self.engine: Engine | None = None

    def notify(self, tickets: list[JobTicket]) -> None:
        self.queue.extend(t for t in tickets if t.kind != "external")  # fetched by their workers

    def drain(self) -> int:
        assert self.engine is not None, "set driver.engine first"
        ran = 0
        while self.queue:
            ticket = self.queue.popleft()
            if ticket.eta_seconds > 0:
                time.sleep(ticket.eta_seconds)
            try:
                run_job(self.engine, ticket.id, "inline")
            except Exception:
                # There is no relay here to send it again: keep the job's ticket, say what broke.
                log.exception("inline job %s failed; kept for the next drain", ticket.id)
                self.queue.append(ticket)
                raise
            ran += 1
        return ran
