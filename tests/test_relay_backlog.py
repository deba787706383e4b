"""Under a backlog of 1,000 queued jobs the relay re-sends fewer than 10 % of the deliveries, and
still finds the messages that were really lost.

Real parts: PostgreSQL, Redis, two ``baton worker`` processes (two pool processes each, each with
its own beat and relay, as in production), the re-send age at 2 s, far below how long a job
waits in this queue. 1,000 instances of a one-service-task process are started before any
worker runs, so every message waits behind the others; 20 of the messages are then deleted from
Redis (lost). The workers log every task they ran (Celery's ``succeeded`` line, with what
``run_job`` returned): those are the deliveries; the job rows count the relay's re-sends.

Before this relay (every stale job sent again at every run, by every worker) the same shape
re-sent several times as many jobs as there were (issue 12: 9,443 re-sends for 746 jobs).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.e2e import baton_env, worker_pool
from tests.test_relay import ONE_STEP

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = 1000
LOST = 20
TASK_LINE = re.compile(r"Task baton\.run_job\[[^\]]+\] succeeded in [0-9.e-]+s: '(\w[\w ]*)'")
RELAY_LINE = re.compile(r"Task baton\.relay\[[^\]]+\] succeeded in [0-9.e-]+s: (\d+)")


def test_a_backlog_of_a_thousand_jobs_is_not_sent_again(tmp_path, postgres_url, redis_url):  # type: ignore[no-untyped-def]
    import redis

    import migrations
    from adapters.broker import JOB_QUEUE, CeleryNotifier
    from adapters.tasks import create_celery
    from engine import Engine, Settings
    from engine.models import Job, ProcessInstance

    env = baton_env(tmp_path / "home", "http://127.0.0.1:9", database_url=postgres_url, broker_url=redis_url,
                    endpoints=ROOT / "bench" / "endpoints.toml")
    env.update({"BATON_RELAY_STALE_SECONDS": "2", "BATON_RELAY_INTERVAL_SECONDS": "1",
                "BATON_WORKER_CONCURRENCY": "2"})
    settings = Settings.from_env(env)
    migrations.upgrade(settings.database_url)
    celery_app = create_celery(settings)
    engine = Engine(settings, notifier=CeleryNotifier(celery_app))
    try:
        engine.deploy([("one_step.bpmn", ONE_STEP)], name="relay backlog")
        began = time.monotonic()
        with ThreadPoolExecutor(4) as pool:  # the backlog: 1,000 messages, no worker yet
            ids = list(pool.map(lambda n: engine.start("one_step", {"n": n}), range(INSTANCES)))
        queue = redis.Redis.from_url(redis_url)
        assert queue.llen(JOB_QUEUE) == INSTANCES
        for _ in range(LOST):  # lose 20 messages from the middle of the queue
            middle = queue.lindex(JOB_QUEUE, queue.llen(JOB_QUEUE) // 2)
            assert queue.lrem(JOB_QUEUE, 1, middle) == 1
        queue.close()
        started_in = time.monotonic() - began
        time.sleep(3)  # every job is older than the re-send age before a worker even starts

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("E2E_WORKER_LOGLEVEL", "INFO")  # Celery's line per task: the deliveries
            with worker_pool(env, tmp_path, "worker-1", "worker-2", concurrency=2) as workers:
                deadline = time.monotonic() + 300
                while True:
                    with engine.db.reading() as session:
                        done = session.scalar(select(func.count()).select_from(ProcessInstance)
                                              .where(ProcessInstance.status == "completed"))
                    if done == INSTANCES:
                        break
                    for worker in workers:
                        worker.assert_alive()
                    assert time.monotonic() < deadline, f"only {done} of {INSTANCES} completed in 300 s"
                    time.sleep(0.5)
                drained_in = time.monotonic() - began - started_in
                time.sleep(2)  # the duplicates still queued are delivered (and skipped) too
                logs = "".join(w.stdout_path.read_text(errors="replace") + w.stderr() for w in workers)

        outcomes: dict[str, int] = {}
        for outcome in TASK_LINE.findall(logs):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        deliveries = sum(outcomes.values())
        relay_runs = RELAY_LINE.findall(logs)
        with engine.db.reading() as session:
            resends = session.scalar(select(func.coalesce(func.sum(Job.resends), 0))
                                     .where(Job.instance_id.in_(ids)))
            most = session.scalar(select(func.max(Job.resends)).where(Job.instance_id.in_(ids)))
        print(f"\n{INSTANCES} jobs ({LOST} messages lost), started in {started_in:.1f}s, drained in "
              f"{drained_in:.1f}s: {deliveries} deliveries {outcomes}, {resends} re-sends "
              f"({resends / max(1, deliveries):.1%}), at most {most} for one job; {len(relay_runs)} relay runs "
              f"re-sent {sum(int(n) for n in relay_runs)}")
        assert outcomes.get("done", 0) == INSTANCES, outcomes  # each job ran exactly once
        assert resends >= LOST, "the lost messages came back through the relay"
        assert resends < 0.10 * deliveries, f"{resends} re-sends for {deliveries} deliveries"
        assert outcomes.get("skipped", 0) < 0.10 * deliveries, outcomes
        assert sum(int(n) for n in relay_runs) == resends, "each re-send was made by one relay run"
    finally:
        engine.close()
        celery_app.close()
