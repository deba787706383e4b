"""Found by the chaos run: two ``baton worker`` of one machine on RabbitMQ.

Celery names a worker ``celery@<host>`` unless told otherwise, and on RabbitMQ (Celery 5.7) each
node's control queue is exclusive: the second worker of a machine, or a worker restarted while its
predecessor's connection was still open, died at start with ``RESOURCE_LOCKED``. Each
``baton worker`` now names itself ``baton-<pid>@<host>``.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e import baton_env, cli, wait_for, worker_pool

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.timeout(180)]


def test_two_workers_of_one_machine_both_consume_from_one_rabbitmq(tmp_path, rabbitmq_url):  # type: ignore[no-untyped-def]
    from adapters.tasks import create_celery
    from engine import Settings

    env = baton_env(tmp_path / "home", "http://127.0.0.1:9", broker_url=rabbitmq_url)
    cli(env, "db", "upgrade")
    app = create_celery(Settings.from_env(env))
    try:
        with worker_pool(env, tmp_path, "first", "second", concurrency=1) as workers:
            replies = wait_for(lambda: app.control.ping(timeout=0.5), lambda r: len(r) >= 2, timeout=90,
                               interval=0.5, what="both workers to answer a ping")
            time.sleep(2)  # the losing worker used to exit right after its control queue was refused
            for worker in workers:
                worker.assert_alive()
                assert "RESOURCE_LOCKED" not in worker.stderr(), worker.stderr()[-2000:]
    finally:
        app.close()
    names = {name for reply in replies for name in reply}
    assert len(names) == 2 and all(name.startswith("baton-") for name in names), names
