"""Claiming jobs. A worker owns a job through a lease, taken with one conditional UPDATE.

SQLite has no ``FOR UPDATE``; ``UPDATE ... WHERE <claimable>`` is atomic on both databases,
so two workers that receive the same message (a redelivery, the relay) never both run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import logs, metrics
from .endpoints import Endpoint
from .models import Job, Lease, ProcessInstance, utcnow

if TYPE_CHECKING:
    from .runtime import Engine

log = logging.getLogger("baton.relay")


@dataclass(frozen=True)
class JobCall:
    """Everything an endpoint adapter needs for one attempt: the seam's input."""

    job_id: str
    instance_id: str
    element_id: str
    kind: str
    topic: str | None
    endpoint: Endpoint | None
    variables: dict[str, Any]
    idempotency_key: str
    attempt: int
    traceparent: str
    payload: dict[str, Any] | None = None
    # What went over the wire, filled by the adapter that made the call (``request``, ``response``):
    # the runner hands it to ``engine.record_attempt`` for the incident page.
    exchange: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def headers(self) -> dict[str, str]:
        """The task's ``zeebe:taskHeaders`` (``_bpmn/task_headers.py``), sent with the call."""
        return dict((self.payload or {}).get("headers") or {})


@dataclass(frozen=True)
class JobTicket:
    """A job that became runnable; handed to the notifier after the transaction commits."""

    id: str
    instance_id: str
    kind: str
    eta_seconds: float = 0.0
    resend: bool = False  # the relay sends it again (its first message is presumed lost)


def _claimable(now: Any) -> Any:
    return or_(
        and_(Job.status == "pending", Job.next_run_at <= now),
        and_(Job.status == "running", Job.locked_until < now),
    )


def claim_job(engine: Engine, job_id: str, owner: str) -> JobCall | None:
    """Take the job if it is due and nobody holds it; None if it is not ours to run now.

    The lease lasts the endpoint's timeout plus ``BATON_JOB_LEASE_SECONDS``: a worker that dies
    mid-call loses the job to the relay soon after the call could have ended anyway.

    A job whose attempts reached its maximum is never run again: its last run ended without an
    outcome (its process died), so it becomes an incident (``outcomes.give_up_job``).
    """
    call = _claim(engine, job_id, owner)
    if call is _EXHAUSTED:
        from .outcomes import give_up_job  # outcomes imports this module

        give_up_job(engine, job_id)
        return None
    return call


_EXHAUSTED: Any = object()


def _claim(engine: Engine, job_id: str, owner: str) -> JobCall | None:
    now = utcnow()
    with engine.db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("pending", "running") or job.kind == "external":
            return None  # an external task is fetched by its worker (external_tasks.py), never run here
        endpoint = _endpoint(engine, job)
        suspended = exists().where(ProcessInstance.id == Job.instance_id, ProcessInstance.status == "suspended")
        claimed = session.execute(  # not for a suspended instance: resume sends it again
            update(Job).where(Job.id == job_id, _claimable(now), ~suspended, Job.attempts < Job.max_attempts)
            .values(status="running", lock_owner=owner, locked_until=lease_until(engine, endpoint, now),
                    attempts=Job.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            if job.attempts < job.max_attempts:
                return None
            due = session.scalar(select(Job.id).where(Job.id == job_id, _claimable(now), ~suspended))
            return _EXHAUSTED if due else None
        previous_status = job.status
        session.expunge(job)  # the UPDATE wrote the claim; the copy below is only read
        job.attempts += 1
        return _call(engine, job, endpoint, now, previous_status=previous_status)


def take_new_job(engine: Engine, job: Job, owner: str, trace_id: str | None) -> JobCall:
    """Claim for ``owner`` a job that the caller's advance has just made (same-worker continuation,
    ``adapters.runner``): it is written ``running`` and leased like any claim, in that advance."""
    now = utcnow()
    endpoint = _endpoint(engine, job)
    job.status, job.lock_owner, job.locked_until = "running", owner, lease_until(engine, endpoint, now)
    job.attempts = (job.attempts or 0) + 1
    job.updated_at = now
    if job.next_run_at is None:
        job.next_run_at = now
    if job.trace_id is None and trace_id is not None:
        job.trace_id = trace_id
    return _call(engine, job, endpoint, now, previous_status="pending")


def _endpoint(engine: Engine, job: Job) -> Endpoint | None:
    payload = job.payload or {}
    if payload.get("endpoint"):
        return Endpoint.from_dict(payload["endpoint"])
    return engine.endpoints.resolve(job.topic) if job.topic else None


def lease_until(engine: Engine, endpoint: Endpoint | None, now: Any) -> Any:
    """The lease of a claim: the endpoint's timeout plus ``BATON_JOB_LEASE_SECONDS``."""
    return now + timedelta(seconds=(endpoint.timeout if endpoint else 30.0) + engine.settings.job_lease_seconds)


def _call(engine: Engine, job: Job, endpoint: Endpoint | None, now: Any, *, previous_status: str) -> JobCall:
    engine._job_instances.put(job.id, job.instance_id)
    metrics.job_claimed(job.kind, previous_status, job.next_run_at, now, job.attempts)
    payload = job.payload or {}
    return JobCall(
        job_id=job.id, instance_id=job.instance_id, element_id=job.element_id, kind=job.kind, topic=job.topic,
        endpoint=endpoint, variables=payload.get("variables", {}),
        idempotency_key=job.idempotency_key, attempt=job.attempts,
        traceparent=logs.job_traceparent(job), payload=payload,
    )


def release_job(engine: Engine, job_id: str, owner: str) -> None:
    """Give a claimed job back untouched (a worker shutting down before it called out)."""
    with engine.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.lock_owner == owner, Job.status == "running")
                        .values(status="pending", lock_owner=None, locked_until=None,
                                attempts=Job.attempts - 1, sent_at=None, updated_at=utcnow()))


#: The n-th re-send of one job waits ``stale * 2**n`` after the one before it, at most this long.
MAX_RESEND_BACKOFF = 600.0
#: A send younger than this may not have reached the broker yet (``sent_at`` is stamped inside the
#: transaction, the message leaves after its commit): it is not counted against the queue depth.
SEND_SETTLING = 1.0


def resend_backoff(stale_after: float, resends: int) -> float:
    """How long after its ``resends``-th re-send a job waits before the relay may send it again."""
    return min(stale_after * 2 ** min(resends, 32), max(MAX_RESEND_BACKOFF, stale_after))


def _take_lease(session: Any, name: str, holder: str, seconds: float, now: Any) -> bool:
    """One conditional UPDATE on the lease row, inside the caller's transaction: the row stays
    locked (PostgreSQL) or the database is (SQLite) until it commits, so two relays never overlap,
    and the expiry makes the others skip the rest of this interval."""
    values = {"holder": holder, "expires_at": now + timedelta(seconds=seconds)}
    # PostgreSQL: a relay whose transaction is stuck (its worker cut off the network) holds the
    # row; the others skip this run instead of queueing behind it (SQLite renders no lock clause).
    row = session.execute(select(Lease.name).where(Lease.name == name).with_for_update(skip_locked=True)).first()
    if row is None and session.get(Lease, name) is not None:  # there, but locked by another relay
        return False
    taken = session.execute(update(Lease).where(
        Lease.name == name, or_(Lease.expires_at.is_(None), Lease.expires_at <= now))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if taken or session.get(Lease, name) is not None:
        return bool(taken)
    try:  # a database whose row was deleted by hand: make it (another relay may race us)
        with session.begin_nested():
            session.add(Lease(name=name, **values))
        return True
    except IntegrityError:
        return False


def due_jobs(engine: Engine, stale_after: float, limit: int = 500, *, queued: int | None = None,
             holder: str | None = None) -> list[JobTicket]:
    """The jobs the relay sends now, marked as sent; each ticket says whether it is a re-send.

    - never sent: a job handed back by a worker that stopped (``release_job``), a timer coming
      due within the next relay interval (long timers are never held as broker ETA messages);
    - held by a worker whose lease expired (the worker died);
    - sent before, due for ``stale_after`` seconds and not taken, whose message is no longer
      *plausibly queued* (docs/relay.md): its backoff is over (after its n-th re-send a job
      waits ``stale_after * 2**n``, at most :data:`MAX_RESEND_BACKOFF`), and the broker's queue,
      ``queued`` messages deep, cannot still hold it. The queue is first in, first out: if it
      holds fewer messages than there are pending jobs sent at or after this one, this one's
      message is gone (lost, or taken by a worker that died before claiming). Slack for messages
      taken but not yet claimed: ``BATON_WORKER_CONCURRENCY``; an empty queue holds none. With
      ``queued`` None (the depth is unknown) the backoff alone decides. No message is presumed
      queued longer than :data:`MAX_RESEND_BACKOFF`.

    With ``holder``, the relay's lease is taken first: while another relay holds it, nothing is
    returned (one relay at a time per database, at most one run per interval).
    """
    settings = engine.settings
    now = utcnow()
    stale = now - timedelta(seconds=stale_after)
    horizon = now + timedelta(seconds=settings.relay_interval_seconds + 1)
    backoff_over = or_(Job.resend_at.is_(None), Job.resend_at <= now)
    live = ProcessInstance.status != "suspended"
    columns = (Job.id, Job.instance_id, Job.kind, Job.next_run_at, Job.sent_at, Job.resends, Job.status)
    with engine.db.transaction() as session:
        if holder is not None and not _take_lease(session, "relay", holder,
                                                  settings.relay_interval_seconds * 0.9, now):
            return []
        # External tasks are fetched by their workers; their lock is their lease, never the relay's.
        base = (select(*columns).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
                .where(live, Job.kind != "external"))
        first = session.execute(base.where(Job.status == "pending", Job.sent_at.is_(None), or_(
            and_(Job.kind != "timer", Job.next_run_at <= now), and_(Job.kind == "timer", Job.next_run_at <= horizon)))
            .order_by(Job.next_run_at).limit(limit)).all()
        orphaned = session.execute(base.where(Job.status == "running", Job.locked_until < now, backoff_over)
                                   .order_by(Job.locked_until).limit(limit)).all()
        stale_sent = session.execute(base.where(
            Job.status == "pending", Job.sent_at <= stale, Job.next_run_at <= stale, backoff_over)
            .order_by(Job.sent_at).limit(limit)).all()
        if stale_sent and queued:  # an empty queue holds nobody's message; unknown: backoff alone
            stale_sent = _not_queued(session, stale_sent, queued + max(1, settings.worker_concurrency), now)
        resent = [*orphaned, *stale_sent][:max(0, limit - len(first))]
        # Only what the stamp still found unsettled is sent: a job a worker finished between the
        # read and the stamp is neither sent again nor counted as a re-send.
        stamped = _mark(session, first, resent, stale_after, now)
        first = [r for r in first if r.id in stamped]
        resent = [r for r in resent if r.id in stamped]
    tickets = []
    for r, again in [*((r, False) for r in first), *((r, True) for r in resent)]:
        due = _aware(r.next_run_at, now)
        tickets.append(JobTicket(r.id, r.instance_id, r.kind, max(0.0, (due - now).total_seconds()), resend=again))
    if resent:
        log.info("relay: %d job(s) sent again (queue depth %s)", len(resent), queued)
    return tickets


def _not_queued(session: Any, candidates: list[Any], queued: int, now: Any) -> list[Any]:
    """The candidates whose message the queue cannot hold any more (see :func:`due_jobs`).

    ``newest_lost`` is the send time of the pending job at position ``queued`` when pending sends
    are ranked newest first: the queue holds at most the ``queued`` newest of them, so this one
    and every job sent before it are not in it."""
    settled = now - timedelta(seconds=SEND_SETTLING)
    newest_lost = session.execute(
        select(Job.sent_at).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
        .where(ProcessInstance.status != "suspended", Job.status == "pending", Job.kind != "external",
               Job.sent_at <= settled,
               Job.next_run_at <= now)
        .order_by(Job.sent_at.desc()).offset(queued).limit(1)).scalar()
    # Counting cannot tell which messages are missing when several were lost mid-queue, so no
    # message is presumed queued for longer than the longest backoff: a lost one cannot hide.
    cap = now - timedelta(seconds=MAX_RESEND_BACKOFF)
    return [r for r in candidates
            if (newest_lost is not None and r.sent_at <= newest_lost) or _aware(r.sent_at, now) <= cap]


def _aware(moment: Any, now: Any) -> Any:
    """SQLite hands datetimes back without their zone (they were stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def _mark(session: Any, first: list[Any], resent: list[Any], stale_after: float, now: Any) -> set[str]:
    """Stamp the sends; a re-send counts on the job and pushes its next re-send out (backoff).
    Returns the ids stamped (a job settled since it was read is not)."""
    stamped: set[str] = set()
    if first:
        stamped.update(session.scalars(
            update(Job).where(Job.id.in_([r.id for r in first]), Job.status == "pending")
            .values(sent_at=now).returning(Job.id).execution_options(synchronize_session=False)))
    by_count: dict[int, list[str]] = {}
    for r in resent:
        by_count.setdefault(r.resends or 0, []).append(r.id)
    for count, ids in by_count.items():
        stamped.update(session.scalars(
            update(Job).where(Job.id.in_(ids), Job.status.in_(("pending", "running")))
            .values(sent_at=now, resends=Job.resends + 1,
                    resend_at=now + timedelta(seconds=resend_backoff(stale_after, count + 1)))
            .returning(Job.id).execution_options(synchronize_session=False)))
    return stamped
