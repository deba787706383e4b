"""Claiming jobs. A worker owns a job through a lease, taken with one conditional UPDATE.

SQLite has no ``FOR UPDATE``; ``UPDATE ... WHERE <claimable>`` is atomic on both databases,
so two workers that receive the same message (a redelivery, the relay) never both run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select, update

from .endpoints import Endpoint
from .models import Job, ProcessInstance, utcnow

if TYPE_CHECKING:
    from .runtime import Engine


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


@dataclass(frozen=True)
class JobTicket:
    """A job that became runnable; handed to the notifier after the transaction commits."""

    id: str
    instance_id: str
    kind: str
    eta_seconds: float = 0.0


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
        if job is None or job.status not in ("pending", "running"):
            return None
        payload = job.payload or {}
        endpoint = None
        if payload.get("endpoint"):
            endpoint = Endpoint.from_dict(payload["endpoint"])
        elif job.topic:
            endpoint = engine.endpoints.resolve(job.topic)
        timeout = endpoint.timeout if endpoint else 30.0
        lease = now + timedelta(seconds=timeout + engine.settings.job_lease_seconds)
        suspended = exists().where(ProcessInstance.id == Job.instance_id, ProcessInstance.status == "suspended")
        claimed = session.execute(  # not for a suspended instance: resume sends it again
            update(Job).where(Job.id == job_id, _claimable(now), ~suspended, Job.attempts < Job.max_attempts)
            .values(status="running", lock_owner=owner, locked_until=lease,
                    attempts=Job.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            if job.attempts < job.max_attempts:
                return None
            due = session.scalar(select(Job.id).where(Job.id == job_id, _claimable(now), ~suspended))
            return _EXHAUSTED if due else None
        attempt = job.attempts + 1  # what the UPDATE just wrote
        engine._job_instances.put(job.id, job.instance_id)
        trace_id = job.instance_id.replace("-", "")
        span_id = job.id.replace("-", "")[:16]
        return JobCall(
            job_id=job.id, instance_id=job.instance_id, element_id=job.element_id, kind=job.kind, topic=job.topic,
            endpoint=endpoint, variables=payload.get("variables", {}),
            idempotency_key=job.idempotency_key, attempt=attempt,
            traceparent=f"00-{trace_id}-{span_id}-01", payload=payload,
        )


def release_job(engine: Engine, job_id: str, owner: str) -> None:
    """Give a claimed job back untouched (a worker shutting down before it called out)."""
    with engine.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.lock_owner == owner, Job.status == "running")
                        .values(status="pending", lock_owner=None, locked_until=None,
                                attempts=Job.attempts - 1, sent_at=None, updated_at=utcnow()))


def due_jobs(engine: Engine, stale_after: float, limit: int = 500) -> list[JobTicket]:
    """Jobs whose message may be lost or was never sent, marked as sent now:

    - calls due for ``stale_after`` seconds and not taken since the last send;
    - timers coming due within the next relay interval (long timers are never held as broker
      ETA messages, so they survive restarts and broker visibility timeouts);
    - jobs held by a worker whose lease expired (the worker died).
    """

    now = utcnow()
    stale = now - timedelta(seconds=stale_after)
    horizon = now + timedelta(seconds=engine.settings.relay_interval_seconds + 1)
    never_or_long_ago = or_(Job.sent_at.is_(None), Job.sent_at < stale)
    with engine.db.transaction() as session:
        rows = session.execute(
            select(Job.id, Job.instance_id, Job.kind, Job.next_run_at)
            .join(ProcessInstance, ProcessInstance.id == Job.instance_id)
            .where(ProcessInstance.status != "suspended").where(or_(
                and_(Job.status == "pending", Job.kind != "timer", Job.next_run_at <= stale, never_or_long_ago),
                and_(Job.status == "pending", Job.kind == "timer", Job.next_run_at <= horizon, never_or_long_ago),
                and_(Job.status == "running", Job.locked_until < now),
            )).order_by(Job.next_run_at).limit(limit)
        ).all()
        if rows:
            session.execute(update(Job).where(Job.id.in_([r.id for r in rows]), Job.status == "pending")
                            .values(sent_at=now).execution_options(synchronize_session=False))
    tickets = []
    for r in rows:
        due = r.next_run_at if r.next_run_at.tzinfo else r.next_run_at.replace(tzinfo=now.tzinfo)
        tickets.append(JobTicket(r.id, r.instance_id, r.kind, max(0.0, (due - now).total_seconds())))
    return tickets
