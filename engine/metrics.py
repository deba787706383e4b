"""Baton's Prometheus metrics: the counters the engine increments and the gauges read at scrape.

The only module of the engine that knows ``prometheus_client``, and it imports it lazily: the
counters are made on first use, after :func:`configure` chose where their values live. Where
they are incremented is one line each::

    metrics.LEASE_TAKEOVERS.inc()             # claim_job took a job whose lease had expired
    metrics.RELAY_RESENDS.inc(len(tickets))   # the relay sent jobs again
    metrics.SANDBOX_EVALUATIONS.labels("eval").inc()

**Several processes.** gunicorn and a Celery worker's pool are several processes, and lease
takeovers happen in workers while ``/metrics`` is served by the web process. So Baton uses
prometheus_client's multiprocess mode: each process writes its values to files in one folder
(``PROMETHEUS_MULTIPROC_DIR`` when set, else ``BATON_METRICS_DIR``, default
``$BATON_HOME/metrics``), and ``/metrics`` sums every process of the machine that shares it.
Gauges are not kept in processes at all: :func:`gauges` reads them from the database when
Prometheus scrapes, so any web process answers them for the whole cluster.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .models import Incident, Job, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from .config import Settings
    from .runtime import Engine

_lock = threading.Lock()


def configure(settings: Settings) -> Path:
    """Choose the folder of the multiprocess values, once per process, before any value exists
    (``Engine()`` calls this). An operator's ``PROMETHEUS_MULTIPROC_DIR`` wins; otherwise it is
    set here, so the processes this one starts (a worker's pool) write to the same folder."""
    with _lock:
        chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not chosen:
            chosen = str(Path(settings.metrics_dir or settings.home / "metrics").resolve())
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = chosen
        Path(chosen).mkdir(parents=True, exist_ok=True)
        import sys

        if "prometheus_client.values" in sys.modules:  # imported before us: make it read the folder
            from prometheus_client import values

            values.ValueClass = values.get_value_class()
        return Path(chosen)


def directory() -> Path | None:
    found = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(found) if found else None


class _Lazy:
    """A metric made on first use (after :func:`configure`), so that importing the engine
    neither imports prometheus_client nor fixes where the values live."""

    def __init__(self, kind: str, name: str, documentation: str, labels: tuple[str, ...] = (),
                 **options: Any):
        self._args = (kind, name, documentation, labels, options)
        self._metric: Any = None

    def _get(self) -> Any:
        if self._metric is None:
            with _lock:
                if self._metric is None:
                    import prometheus_client

                    kind, name, documentation, labels, options = self._args
                    self._metric = getattr(prometheus_client, kind)(name, documentation, labels, **options)
        return self._metric

    def inc(self, amount: float = 1) -> None:
        self._get().inc(amount)

    def observe(self, amount: float) -> None:
        self._get().observe(amount)

    def labels(self, *values: str) -> Any:
        return self._get().labels(*values)


RELAY_RESENDS = _Lazy("Counter", "baton_relay_resends", "Jobs the relay sent again (lost messages, due timers, "
                      "expired leases)")
LEASE_TAKEOVERS = _Lazy("Counter", "baton_lease_takeovers", "Jobs claimed from an owner whose lease had expired "
                        "(a worker died or hung mid-job)")
SANDBOX_EVALUATIONS = _Lazy("Counter", "baton_sandbox_evaluations", "Scripts and expressions run in the sandbox",
                            ("kind",))
JOB_LATENCY = _Lazy("Histogram", "baton_job_latency_seconds", "From a job's due time to a worker claiming it",
                    ("kind",), buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
JOB_ATTEMPTS = _Lazy("Histogram", "baton_job_attempts", "The attempt number of each claim (1: first try)",
                     ("kind",), buckets=(1, 2, 3, 4, 5, 8, 13))


def job_claimed(kind: str, previous_status: str, due: datetime, now: datetime, attempt: int) -> None:
    """Count one claim: its wait since the job was due, its attempt, and whether it took the job
    over from an owner whose lease had expired (the job was still ``running``)."""
    if due.tzinfo is None:  # SQLite hands back naive UTC
        due = due.replace(tzinfo=now.tzinfo)
    JOB_LATENCY.labels(kind).observe(max(0.0, (now - due).total_seconds()))
    JOB_ATTEMPTS.labels(kind).observe(attempt)
    if previous_status == "running":
        LEASE_TAKEOVERS.inc()


def gauges(engine: Engine) -> dict[str, Any]:
    """What Prometheus gauges show, read from the database now (the whole cluster's truth):
    instances by definition key, version and status; jobs by kind and status (finished ones
    left out: they only grow); open incidents."""
    with engine.db.reading() as session:
        instances = session.execute(
            select(ProcessDefinition.key, ProcessDefinition.version, ProcessInstance.status, func.count())
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .group_by(ProcessDefinition.key, ProcessDefinition.version, ProcessInstance.status)).all()
        jobs = session.execute(
            select(Job.kind, Job.status, func.count())
            .where(Job.status.in_(("pending", "running", "waiting", "failed")))
            .group_by(Job.kind, Job.status)).all()
        incidents = session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)))
    return {
        "instances": [(key, str(version), status, count) for key, version, status, count in instances],
        "jobs": [(kind, status, count) for kind, status, count in jobs],
        "open_incidents": incidents or 0,
    }
