"""Same-worker continuation: a worker that finishes a job runs the instance's next service job
itself, claimed and leased in the advance that made it, instead of a broker round trip.

Every step still commits on its own (``BATON_COMMIT_EVERY_STEP``); what goes is the message and
the claim's transaction. A worker that dies holding a continued job loses it at its lease, like
any claim, and another worker finishes the instance.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import ROOT

STRAIGHT_TEN = ROOT / "bench" / "straight_ten.bpmn"
BENCH_ENDPOINTS = ROOT / "bench" / "endpoints.toml"


def _engine(settings_factory, inline_engine_factory, endpoints=BENCH_ENDPOINTS,  # type: ignore[no-untyped-def]
            **settings):
    engine = inline_engine_factory(settings_factory(endpoints=endpoints, commit_every_step=True, **settings))
    engine.deploy([(STRAIGHT_TEN.name, STRAIGHT_TEN.read_bytes())])
    return engine


def _jobs(engine, instance_id: str) -> list[tuple[str, str, int, str | None]]:  # type: ignore[no-untyped-def]
    from engine.models import Job

    with engine.db.reading() as session:
        return [tuple(row) for row in session.execute(
            select(Job.element_id, Job.status, Job.attempts, Job.lock_owner)
            .where(Job.instance_id == instance_id).order_by(Job.created_at))]


def test_a_worker_runs_the_next_steps_itself_each_committed(settings_factory, inline_engine_factory):
    from adapters.runner import run_job

    engine = _engine(settings_factory, inline_engine_factory)
    sent: list[str] = []
    notify = engine.driver.notify
    engine.notifier = lambda tickets: (sent.extend(t.id for t in tickets), notify(tickets))
    instance_id = engine.start("straight_ten", {})
    assert len(sent) == 1  # the first step's job, through the "broker"
    first = engine.driver.queue.popleft()

    assert run_job(engine, first.id, "w1") == "done"

    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert len(sent) == 1 and not engine.driver.queue  # the nine others never went to the broker
    jobs = _jobs(engine, instance_id)
    assert len(jobs) == 10
    assert all(status == "done" and attempts == 1 for _, status, attempts, _ in jobs), jobs
    assert doc["variables"]["steps"] == 10  # each step saw the one before it: none ran twice or was lost


def test_continuation_stops_at_its_budget_and_hands_the_rest_to_the_broker(settings_factory,
                                                                            inline_engine_factory):
    from adapters.runner import run_job

    engine = _engine(settings_factory, inline_engine_factory, continue_steps=3)
    instance_id = engine.start("straight_ten", {})
    run_job(engine, engine.driver.queue.popleft().id, "w1")
    statuses = [status for _, status, _, _ in _jobs(engine, instance_id)]
    assert statuses == ["done"] * 4 + ["pending"], statuses  # the first job and three continued
    assert len(engine.driver.queue) == 1  # the fifth went to the broker
    engine.driver.drain()
    assert engine.get_instance(instance_id)["status"] == "completed"


def test_a_continued_job_of_a_dead_worker_comes_back_at_its_lease(settings_factory, inline_engine_factory,
                                                                   tmp_path):
    """w1 completes step_1 and takes step_2 in the same commit, then dies before calling it."""
    from adapters.runner import run_job
    from engine.models import Job, utcnow

    endpoints = tmp_path / "endpoints.toml"  # the bench's step, with retries: w1's lost attempt counts
    endpoints.write_text('[topics.bench-step]\npython = "bench.handlers:step"\ntimeout = 10\nretries = 2\n')
    engine = _engine(settings_factory, inline_engine_factory, endpoints)
    instance_id = engine.start("straight_ten", {})
    first = engine.driver.queue.popleft()
    call = engine.claim_job(first.id, "w1")
    taken = engine.complete_job_and_take_next(call.job_id, {"steps": 1}, owner="w1")
    assert taken is not None and taken.element_id != call.element_id and taken.attempt == 1
    assert not engine.driver.queue  # announced to nobody: w1 holds it
    assert ("running", "w1") in {(status, owner) for _, status, _, owner in _jobs(engine, instance_id)}
    assert engine.due_jobs(0.0) == []  # leased: the relay leaves it alone

    with engine.db.transaction() as session:  # w1 is gone and its lease runs out
        session.execute(update(Job).where(Job.id == taken.job_id)
                        .values(locked_until=utcnow() - timedelta(seconds=1)))
    tickets = engine.due_jobs(0.0)
    assert [t.id for t in tickets] == [taken.job_id]
    assert run_job(engine, taken.job_id, "w2") == "done"
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["variables"]["steps"] == 10  # w2 ran step_02 once, and the rest after it
    continued = [j for j in _jobs(engine, instance_id) if j[0] == taken.element_id]
    assert continued == [(taken.element_id, "done", 2, None)], continued  # w1's attempt, then w2's
