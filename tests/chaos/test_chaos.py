"""The chaos suite in CI: hundreds of sagas while workers are SIGKILLed, the broker, PostgreSQL
and the web process restarted, and the invariants hold (``tests/chaos/invariants.py`` says which).

Both runs use a PostgreSQL and a broker of their own (started here, on free ports) because they
restart them; the machine's PostgreSQL and RabbitMQ/Redis are required anyway (CI has them, and
so the binaries), so under ``CI=true`` a missing one fails the test instead of skipping it.
By hand, bigger: ``python -m tests.chaos --instances 2000 --kill-every 2 --duration 300``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI, need_service

from .driver import ChaosConfig, Report, run
from .servers import PrivateRabbitMQ, postgres_bin

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def need_binaries(broker: str) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    if broker == "rabbitmq":
        need_service("RabbitMQ", "127.0.0.1", 5672)
    else:
        need_service("Redis", "127.0.0.1", 6379)
    missing = [what for what, there in (
        ("PostgreSQL's initdb/pg_ctl in /usr/lib/postgresql/*/bin (and runuser as root)", postgres_bin() is not None),
        ("rabbitmq-server", broker != "rabbitmq" or Path(PrivateRabbitMQ.SERVER).exists()),
        ("redis-server", broker != "redis" or shutil.which("redis-server") is not None),
    ) if not there]
    if missing:
        message = f"the chaos run starts private servers and needs {', '.join(missing)}"
        pytest.fail(message + "; CI needs it", pytrace=False) if IN_CI else pytest.skip(message)


def assert_held(report: Report) -> None:
    print("\n" + report.table())
    shown = "\n".join(report.violations[:60])
    assert report.ok, (f"{len(report.violations)} invariant(s) broken (logs kept in {report.folder}):\n{shown}\n"
                       + report.table())


@pytest.mark.timeout(600)
def test_sagas_end_as_their_inputs_dictate_through_worker_kills_and_restarts_on_rabbitmq():
    need_binaries("rabbitmq")
    report = run(ChaosConfig(instances=200, duration=75, kill_every=4, broker="rabbitmq"))
    assert len(report.planned) >= 200 and len(report.kills) >= 10, report.table()
    assert set(report.outages) == {"broker", "postgres", "web"}, report.outages
    assert_held(report)
    assert report.total_seconds < 480, f"the CI chaos run took {report.total_seconds:.0f}s, more than 8 minutes"


@pytest.mark.timeout(420)
def test_sagas_end_as_their_inputs_dictate_through_worker_kills_and_restarts_on_redis():
    need_binaries("redis")
    report = run(ChaosConfig(instances=60, duration=50, kill_every=5, broker="redis"))
    assert len(report.kills) >= 5, report.table()
    assert set(report.outages) == {"broker", "postgres", "web"}, report.outages
    assert_held(report)
