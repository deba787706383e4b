"""Bare Celery: the ten steps of ``straight_ten`` as ten Celery tasks, with no engine and no database.

The peer ``bench/peers.py`` measures Baton's Celery mode against: each step is one task message
through the same Redis broker, with the same worker settings Baton uses (``adapters/tasks.py``:
late acknowledgement, prefetch 1, no result backend, JSON). A task runs ``bench.handlers.step``
on the variables it carries and sends the next step with the new variables; the tenth counts the
instance as done with ``INCR`` on the broker's Redis (``DONE_KEY``), which the benchmark polls.

The worker reads its broker from ``BENCH_BARE_BROKER``::

    BENCH_BARE_BROKER=redis://127.0.0.1:6379/15 celery -A bench.bare_celery worker -Q bench_bare -c 2
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from bench.handlers import step

QUEUE = "bench_bare"
DONE_KEY = "bench:bare:done"
STEPS = 10

app = Celery("bench_bare", broker=os.environ.get("BENCH_BARE_BROKER", "redis://127.0.0.1:6379/15"))
app.conf.update(
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_ignore_result=True, task_serializer="json", accept_content=["json"],
    task_default_queue=QUEUE, broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
)
_redis: Any = None


@app.task(name="bench.bare_step")
def bare_step(variables: dict[str, Any]) -> None:
    variables = {**variables, **step(variables)}
    if variables["steps"] < STEPS:
        bare_step.apply_async((variables,))
        return
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(app.conf.broker_url)
    _redis.incr(DONE_KEY)
