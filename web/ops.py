"""The operations surface: probes for the orchestrator, metrics for Prometheus.

- ``GET /healthz``: liveness. The process serves requests; nothing else is asked (no database
  call), so a database outage never makes an orchestrator restart healthy web processes.
  ``GET /api/v1/health`` answers the same.
- ``GET /readyz``: readiness. The database answers, its schema is this Baton's Alembic head, and
  the broker accepts a connection. 200 with each check, or 503 with ``Retry-After`` and the
  same body saying which check failed.
- ``GET /metrics``: Prometheus text format. Counters and histograms from every Baton process of
  this machine (``engine.metrics``: multiprocess mode), gauges read from the database now.
  Who may read it: a caller on loopback (no ``X-Forwarded-For``: a proxy on the same machine
  does not make the world local), or ``Authorization: Bearer`` with ``BATON_METRICS_TOKEN`` or
  any live API token (a viewer token is enough).

All three are in ``web.auth.OPEN``: a probe carries no token, and ``/metrics`` checks its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from engine import Engine, SchemaOutdated, check_schema, metrics

from .problems import RETRY_AFTER_SECONDS, problem

ops = Blueprint("ops", __name__)

BROKER_TIMEOUT_SECONDS = 2.0


def _engine() -> Engine:
    return current_app.extensions["baton"]


@ops.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "alive"})


def _revisions() -> list[str]:
    found = current_app.extensions.get("baton_revisions")
    if found is None:  # read the migration scripts once per process
        import migrations

        found = current_app.extensions["baton_revisions"] = migrations.revisions()
    return found


def check_database(engine: Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    """(database, schema) checks: reachable, and at the Alembic head this code needs."""
    head = _revisions()[-1]
    try:
        revision = check_schema(engine.settings.database_url, _revisions())
    except SchemaOutdated as exc:
        return {"ok": True}, {"ok": False, "revision": exc.current, "head": head, "detail": str(exc)}
    except Exception as exc:  # any failure to connect or to read is "not reachable"
        return {"ok": False, "detail": _first_line(exc)}, {"ok": False, "head": head, "detail": "unknown"}
    return {"ok": True}, {"ok": True, "revision": revision, "head": head}


def check_broker(broker_url: str) -> dict[str, Any]:
    """Can a connection to the Celery broker be made now (within a couple of seconds)?"""
    from adapters.broker import is_embedded

    if is_embedded(broker_url):  # a SQLite file next to the database: there when the database is
        return {"ok": True, "detail": "embedded"}
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=BROKER_TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # kombu raises its own and the transport's errors
        return {"ok": False, "detail": _first_line(exc)}
    return {"ok": True}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


@ops.get("/readyz")
def readyz() -> Response:
    engine = _engine()
    started = time.monotonic()
    database, schema = check_database(engine)
    checks = {"database": database, "schema": schema, "broker": check_broker(engine.settings.broker_url)}
    ready = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ready" if ready else "unready", "checks": checks,
                        "took_ms": round((time.monotonic() - started) * 1000, 1)})
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- /metrics ---------------------------------------------------------------------------------------

def _may_read_metrics(engine: Engine) -> bool:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        secret = header[7:].strip()
        wanted = engine.settings.metrics_token
        if wanted and hmac.compare_digest(secret.encode(), wanted.encode()):
            return True
        return engine.token_identity(secret) is not None
    if request.headers.get("X-Forwarded-For"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


class _DatabaseGauges:
    """A custom collector: the gauges, read through ``engine.metrics.gauges`` at each scrape."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("baton_database_up", "1 when the database answered this scrape")
        try:
            found = metrics.gauges(self.engine)
        except Exception:  # the counters are still worth serving while the database is away
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        instances = GaugeMetricFamily("baton_instances", "Process instances by definition, version and status",
                                      labels=["definition", "version", "status"])
        for key, version, status, count in found["instances"]:
            instances.add_metric([key, version, status], count)
        yield instances
        jobs = GaugeMetricFamily("baton_jobs", "Jobs not finished, by kind and state", labels=["kind", "state"])
        for kind, status, count in found["jobs"]:
            jobs.add_metric([kind, status], count)
        yield jobs
        yield GaugeMetricFamily("baton_incidents_open", "Open incidents", value=found["open_incidents"])


class _ThisProcess:
    """The default registry (this process only), when no multiprocess folder is configured."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


@ops.get("/metrics", endpoint="metrics")
def metrics_text() -> Response:
    engine = _engine()
    if not _may_read_metrics(engine):
        return problem(403, "Forbidden", "/metrics answers loopback callers, BATON_METRICS_TOKEN or an API token "
                       "(Authorization: Bearer ...)")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    folder = metrics.directory()
    if folder is not None:
        MultiProcessCollector(registry, path=str(folder))
    else:
        registry.register(_ThisProcess())
    registry.register(_DatabaseGauges(engine))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
