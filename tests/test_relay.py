"""The relay cannot storm: it re-sends a job only when its message cannot still be queued, each
job with a growing backoff, one relay at a time per database (docs/relay.md).

Through the engine's public door (``Engine.due_jobs``, what the ``baton.relay`` task calls) on
the embedded database; jobs are aged by moving their clocks back rather than by sleeping.
``tests/test_relay_backlog.py`` is the end-to-end figure: 1,000 queued jobs, real workers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

ROOT = Path(__file__).resolve().parent.parent
STALE = 2.0

ONE_STEP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_one_step" targetNamespace="http://baton.test">
  <bpmn:process id="one_step" name="One step" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="step" name="Step" camunda:type="external" camunda:topic="bench-step">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="step"/>
    <bpmn:sequenceFlow id="f1" sourceRef="step" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def relay_engine(settings_factory):  # type: ignore[no-untyped-def]
    """An embedded engine whose notifier sends nothing: every job's message is as good as lost."""
    import migrations
    from engine import Engine

    settings = settings_factory(endpoints=ROOT / "bench" / "endpoints.toml", relay_stale_seconds=STALE,
                                relay_interval_seconds=1.0, worker_concurrency=2)
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=lambda tickets: None)
    engine.deploy([("one_step.bpmn", ONE_STEP)], name="relay test")
    yield engine
    engine.close()


def start_jobs(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` instances, each waiting on one pending service job; their job ids, oldest first."""
    from engine.models import Job

    instances = [engine.start("one_step", {"n": n}) for n in range(count)]
    with engine.db.reading() as session:
        rows = session.execute(select(Job.id, Job.instance_id).where(Job.instance_id.in_(instances))).all()
    by_instance = {r.instance_id: r.id for r in rows}
    return [by_instance[i] for i in instances]


def age(engine, job_ids: list[str], seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Move the jobs' clocks back: sent and due ``seconds`` earlier, the order kept."""
    from engine.models import Job

    with engine.db.transaction() as session:
        for job in session.scalars(select(Job).where(Job.id.in_(job_ids))):
            shift = timedelta(seconds=seconds)
            job.next_run_at -= shift
            job.sent_at = job.sent_at - shift if job.sent_at else None
            job.resend_at = job.resend_at - shift if job.resend_at else None


def resends(engine, job_ids: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from engine.models import Job

    with engine.db.reading() as session:
        return dict(session.execute(select(Job.id, Job.resends).where(Job.id.in_(job_ids))).all())


def relay(engine, queued: int | None, holder: str | None = None) -> list:  # type: ignore[no-untyped-def]
    return engine.due_jobs(engine.settings.relay_stale_seconds, queued=queued, holder=holder)


def test_a_lost_job_is_sent_again_with_a_growing_backoff(relay_engine):  # type: ignore[no-untyped-def]
    [job] = start_jobs(relay_engine, 1)
    assert relay(relay_engine, queued=0) == [], "sent less than BATON_RELAY_STALE_SECONDS ago"

    age(relay_engine, [job], STALE + 1)
    [ticket] = relay(relay_engine, queued=0)  # the queue is empty: its message is gone
    assert ticket.id == job and ticket.resend
    assert relay(relay_engine, queued=0) == [], "sent again a moment ago"

    # The n-th re-send waits STALE * 2**n after the one before it.
    from engine.models import Job

    for n in range(1, 5):
        with relay_engine.db.reading() as session:
            sent_at, resend_at = session.execute(select(Job.sent_at, Job.resend_at).where(Job.id == job)).one()
        assert (resend_at - sent_at).total_seconds() == STALE * 2 ** n
        age(relay_engine, [job], STALE * 2 ** n - 0.5)
        assert relay(relay_engine, queued=0) == [], f"re-send {n + 1} before its backoff"
        age(relay_engine, [job], 1.0)
        assert [t.id for t in relay(relay_engine, queued=0)] == [job], f"re-send {n + 1} after its backoff"
    assert resends(relay_engine, [job]) == {job: 5}


def test_jobs_still_plausibly_queued_are_not_sent_again(relay_engine):  # type: ignore[no-untyped-def]
    jobs = start_jobs(relay_engine, 10)
    age(relay_engine, jobs, 60)  # all ten waited a minute: far past the stale age

    # The broker holds ten messages: first in, first out, so all ten are still in there.
    assert relay(relay_engine, queued=10) == []
    # Seven: the three oldest jobs' messages cannot be in it. Two more are spared, as a worker may
    # have taken them and not claimed them yet (BATON_WORKER_CONCURRENCY=2).
    sent = relay(relay_engine, queued=7)
    assert [t.id for t in sent] == jobs[:1] and sent[0].resend
    sent = relay(relay_engine, queued=3)
    assert [t.id for t in sent] == jobs[1:5], "the oldest, minus the one already sent again"
    # The depth is unknown (a broker that cannot say): the backoff alone decides.
    assert sorted(t.id for t in relay(relay_engine, queued=None)) == sorted(jobs[5:])
    assert set(resends(relay_engine, jobs).values()) == {1}


def test_a_dead_workers_job_comes_back_once_per_backoff(relay_engine):  # type: ignore[no-untyped-def]
    from engine.models import Job, utcnow

    [job] = start_jobs(relay_engine, 1)
    assert relay_engine.claim_job(job, "dead-worker") is not None
    with relay_engine.db.transaction() as session:  # the worker died; its lease ran out
        session.execute(update(Job).where(Job.id == job).values(locked_until=utcnow() - timedelta(seconds=1)))
    [ticket] = relay(relay_engine, queued=5)
    assert ticket.id == job and ticket.resend
    assert relay(relay_engine, queued=0) == [], "the next relay run must not send it again at once"
    assert resends(relay_engine, [job]) == {job: 1}


def test_one_relay_at_a_time(relay_engine):  # type: ignore[no-untyped-def]
    jobs = start_jobs(relay_engine, 3)
    age(relay_engine, jobs, 60)
    assert len(relay(relay_engine, queued=0, holder="worker-a:1")) == 3
    age(relay_engine, jobs, 60)  # due again, but worker a's relay holds the lease for this interval
    assert relay(relay_engine, queued=0, holder="worker-b:2") == []
    assert relay(relay_engine, queued=0, holder="worker-a:1") == [], "one run per interval, even for the holder"

    from engine.models import Lease, utcnow

    with relay_engine.db.transaction() as session:  # the interval is over
        session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert len(relay(relay_engine, queued=0, holder="worker-b:2")) == 3


def test_a_released_job_is_sent_at_once_and_is_no_re_send(relay_engine):  # type: ignore[no-untyped-def]
    [job] = start_jobs(relay_engine, 1)
    assert relay_engine.claim_job(job, "stopping-worker") is not None
    relay_engine.release_job(job, "stopping-worker")  # a warm shutdown handed it back
    [ticket] = relay(relay_engine, queued=0)
    assert ticket.id == job and not ticket.resend
    assert resends(relay_engine, [job]) == {job: 0}


def test_no_message_is_presumed_queued_past_the_longest_backoff(relay_engine):  # type: ignore[no-untyped-def]
    from engine.jobs import MAX_RESEND_BACKOFF

    jobs = start_jobs(relay_engine, 3)
    age(relay_engine, jobs, MAX_RESEND_BACKOFF - 5)
    assert relay(relay_engine, queued=100) == [], "a deep queue may still hold them"
    age(relay_engine, jobs, 10)
    assert sorted(t.id for t in relay(relay_engine, queued=100)) == sorted(jobs), "lost mid-queue, say"


def test_a_relay_stuck_in_its_transaction_does_not_block_the_others(settings_factory, postgres_url):  # type: ignore[no-untyped-def]
    """PostgreSQL: a relay whose worker was cut off mid-run still holds the lease row's lock; the
    next relay skips its run at once instead of waiting behind it (for TCP keepalive, hours)."""
    import time

    import sqlalchemy as sa

    import migrations
    from engine import Engine

    settings = settings_factory(database_url=postgres_url, endpoints=ROOT / "bench" / "endpoints.toml",
                                relay_stale_seconds=STALE)
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=lambda tickets: None)
    stuck = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        engine.deploy([("one_step.bpmn", ONE_STEP)], name="relay test")
        jobs = start_jobs(engine, 2)
        age(engine, jobs, 60)
        with stuck.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT name FROM lease WHERE name = 'relay' FOR UPDATE"))
            began = time.monotonic()
            assert relay(engine, queued=0, holder="worker-b:2") == []
            assert time.monotonic() - began < 5
        assert len(relay(engine, queued=0, holder="worker-b:2")) == 2, "the lock is gone: this relay runs"
    finally:
        stuck.dispose()
        engine.close()
