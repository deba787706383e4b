"""A timer that comes due while every Baton process is stopped fires once after the restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e import baton_env, cli, events, show, wait_for, worker_pool
from tests.test_timers import deadline_diagram


def test_a_timer_due_while_everything_is_stopped_fires_once_after_restart(tmp_path: Path, postgres_url, redis_url,
                                                                           services):
    env = baton_env(tmp_path / "home", services, database_url=postgres_url, broker_url=redis_url)
    diagram = tmp_path / "deadline.bpmn"
    # Long enough that the start, a look and stopping the worker take less on a busy machine (a
    # CLI command alone has taken 14 s at a load of 10), the timer's ETA message held meanwhile.
    diagram.write_bytes(deadline_diagram("PT30S"))
    cli(env, "db", "upgrade")
    cli(env, "deploy", str(diagram))
    with worker_pool(env, tmp_path, "before") as workers:
        instance_id = cli(env, "start", "review_with_deadline").stdout.strip()
        doc = show(env, instance_id)
        assert doc["status"] == "waiting"
        workers[0].stop()  # every Baton process is down now; the timer job waits in the database
    [timer] = [j for j in doc["jobs"] if j["kind"] == "timer"]
    assert timer["status"] == "pending", "the timer fired before the worker stopped: the machine is too slow"
    due = datetime.fromisoformat(timer["next_run_at"]).replace(tzinfo=UTC)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.5)  # it comes due while nothing runs
    assert show(env, instance_id)["status"] == "waiting"
    with worker_pool(env, tmp_path, "after"):
        doc = wait_for(lambda: show(env, instance_id), lambda d: d["status"] == "completed", timeout=30)
        time.sleep(2)  # a second firing would show up by now
        doc = show(env, instance_id)
    assert events(doc, "deadline") == ["entered", "completed"]
    assert events(doc, "escalated") == ["entered", "completed"]
    timers = [j for j in doc["jobs"] if j["kind"] == "timer"]
    assert len(timers) == 1 and timers[0]["status"] == "done" and timers[0]["attempts"] == 1
