"""The chaos run's invariants: what each instance must end with (:data:`EXPECTED`), and
:func:`check`, which reads the database, the demo services' records and every process's log
(:func:`scan_logs`) after a run and appends each broken invariant to the run's report.

What must hold, whatever was killed or restarted:

1. every planned instance exists once and reached the end its inputs dictate;
2. every effect happened once per instance and step, every call of a step with one
   Idempotency-Key;
3. nothing is left running with an expired lease or pending with nothing to deliver it, and
   there is no incident;
4. no history row is repeated;
5. no lock error, deadlock or traceback is in any process's log.

:mod:`.driver` runs the chaos and calls :func:`check`; this module only reads.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa

if TYPE_CHECKING:
    from .driver import Cluster, Report

SAGA, FULFILLMENT = "order_saga", "order_fulfillment"
CHARGE, RESERVE, SHIP = "/payment/charge", "/inventory/reserve", "/shipping/create"
REFUND, RELEASE, NOTIFY, CANCEL_SHIPMENT = "/payment/refund", "/inventory/release", "/notify/send", "/shipping/cancel"
SERVICE_PATHS = (CHARGE, RESERVE, SHIP, REFUND, RELEASE, NOTIFY, CANCEL_SHIPMENT)

#: (definition, scenario) -> (final status, end event, the paths whose effect happens exactly once;
#: every other path: never).
EXPECTED: dict[tuple[str, str], tuple[str, str, frozenset[str]]] = {
    (SAGA, "ok"): ("completed", "order_completed", frozenset({CHARGE, RESERVE, SHIP})),
    (SAGA, "ship_fail"): ("compensated", "order_cancelled", frozenset({CHARGE, RESERVE, RELEASE, REFUND})),
    (FULFILLMENT, "ok"): ("completed", "order_fulfilled", frozenset({CHARGE, RESERVE, SHIP})),
    (FULFILLMENT, "ship_fail"): ("completed", "order_not_shipped", frozenset({CHARGE, RESERVE, NOTIFY})),
}
ENDED = ("completed", "compensated", "cancelled")


def check(cluster: Cluster, report: Report) -> None:
    """Read the database and the demo services' records; append every broken invariant."""
    v = report.violations
    with cluster.db.connect() as conn:
        instances = {r.business_key: r for r in conn.execute(sa.text(
            "SELECT i.id, i.business_key, i.status, d.key AS definition FROM process_instance i "
            "JOIN process_definition d ON d.id = i.definition_id"))}
        per_key = Counter(r[0] for r in conn.execute(sa.text("SELECT business_key FROM process_instance")))
        ends: dict[str, list[str]] = defaultdict(list)
        for r in conn.execute(sa.text(
                "SELECT instance_id, element_id FROM activity_event WHERE event = 'completed' AND element_id IN "
                "('order_completed', 'order_cancelled', 'order_fulfilled', 'order_not_shipped')")):
            ends[r.instance_id].append(r.element_id)
        duplicated_history = list(conn.execute(sa.text(
            "SELECT instance_id, element_id, event, task_id, attempt, count(*) AS n FROM activity_event "
            "WHERE event IN ('started', 'entered', 'completed', 'compensating', 'compensated', 'error') "
            "GROUP BY instance_id, element_id, event, task_id, attempt HAVING count(*) > 1")))
        unfinished_jobs = list(conn.execute(sa.text(
            "SELECT id, instance_id, element_id, kind, status, attempts, lock_owner, locked_until, sent_at, resends, "
            "locked_until < now() AS expired FROM job WHERE status IN ('pending', 'running')")))
        incidents = list(conn.execute(sa.text("SELECT instance_id, element_id, message FROM incident")))
        job_stats = conn.execute(sa.text("SELECT coalesce(sum(resends), 0), count(*) FROM job")).one()
        killed_jobs = {k for kill in report.kills for k in kill.jobs}
        done_at = {r.id: r.updated_at for r in conn.execute(
            sa.text("SELECT id, status, updated_at FROM job WHERE id = ANY(:ids)"), {"ids": list(killed_jobs)})
            if r.status == "done"}
    calls = httpx.get(f"http://127.0.0.1:{cluster.services_port}/_control/calls", timeout=60, trust_env=False).json()

    # 1. Every planned instance exists once and reached the end its inputs dictate.
    ends_seen: Counter[str] = Counter()
    for p in report.planned:
        status, end, _ = p.expected
        row = instances.get(p.business_key)
        if row is None:
            v.append(f"{p.business_key} ({p.definition} {p.scenario}) was never started: {p.start_error} "
                     f"after {p.start_attempts} attempt(s)")
            continue
        if per_key[p.business_key] != 1:
            v.append(f"{p.business_key}: {per_key[p.business_key]} instances for one Idempotency-Key")
        if p.instance_id and p.instance_id != row.id:
            v.append(f"{p.business_key}: the start answered {p.instance_id}, the database holds {row.id}")
        ends_seen[f"{row.definition} {row.status}"] += 1
        if row.status != status or ends[row.id] != [end]:
            v.append(f"instance {row.id} ({p.business_key}, {p.definition} {p.scenario}, lose={p.lose}) is "
                     f"{row.status} with end events {ends[row.id]}, expected {status} at {end}")
    report.counts["ends"] = dict(ends_seen)

    # 2. Every effect once per instance and step, every call of a step with one Idempotency-Key.
    by_instance = {row.id: p for p in report.planned if (row := instances.get(p.business_key))}
    effects: Counter[tuple[str, str]] = Counter()
    effect_keys: Counter[tuple[str, str]] = Counter()
    for e in calls["effects"]:
        effects[(e["instance_id"], e["path"])] += 1
        effect_keys[(e["path"], e["idempotency_key"])] += 1
    for (path, key), n in effect_keys.items():
        if n != 1 or key is None:
            v.append(f"{n} effects on {path} for Idempotency-Key {key}")
    for instance_id, p in by_instance.items():
        wanted = p.expected[2]
        for path in SERVICE_PATHS:
            n, should = effects[(instance_id, path)], 1 if path in wanted else 0
            if n != should:
                v.append(f"instance {instance_id} ({p.definition} {p.scenario}): {n} effects on {path}, "
                         f"expected {should}")
    strangers = {e["instance_id"] for e in calls["effects"]} - set(by_instance)
    if strangers:
        v.append(f"effects for instances the run did not start: {sorted(strangers)[:5]}")
    keys_per_step: dict[tuple[str, str], set[str]] = defaultdict(set)
    per_key_calls: Counter[tuple[str, str]] = Counter()
    for c in calls["calls"]:
        keys_per_step[(c["instance_id"], c["path"])].add(c["idempotency_key"])
        per_key_calls[(c["path"], c["idempotency_key"])] += 1
    for (instance_id, path), keys in keys_per_step.items():
        if len(keys) != 1:
            v.append(f"instance {instance_id} called {path} with {len(keys)} Idempotency-Keys: "
                     f"{sorted(map(str, keys))}")
    report.counts["lost_answers"] = sum(1 for c in calls["calls"] if c["outcome"] == "lose_answer")
    report.counts["repeated_calls"] = sum(n - 1 for n in per_key_calls.values())
    report.counts["replays"] = sum(1 for c in calls["calls"] if c["replayed"])

    # 3. Nothing left running with an expired lease, or pending with nothing to deliver it; no incident.
    for j in unfinished_jobs:
        why = "running with an expired lease" if j.status == "running" and j.expired else f"left {j.status}"
        v.append(f"job {j.id} ({j.kind} {j.element_id}, instance {j.instance_id}) {why} after quiescence: "
                 f"attempts {j.attempts}, owner {j.lock_owner}, locked until {j.locked_until}, sent {j.sent_at}, "
                 f"resends {j.resends}")
    for i in incidents:
        v.append(f"incident on instance {i.instance_id} at {i.element_id}: {i.message[:300]}")

    # 4. No duplicated history rows.
    for h in duplicated_history:
        v.append(f"history row repeated {h.n}x: instance {h.instance_id} {h.element_id} {h.event} "
                 f"task {h.task_id} attempt {h.attempt}")

    # 5. No lock error, deadlock or traceback in any process's log (but kombu's own crash below).
    findings = scan_logs(cluster.logs)
    known = Counter({k: n for k, n in findings.items() if k[2] == KOMBU_REDIS_CLOSE_RACE})
    report.counts["log_findings"] = sum(findings.values()) - sum(known.values())
    report.counts["workers_ended_by_kombu_close_race"] = sum(known.values())
    for (name, headline, error), n in sorted((findings - known).items()):
        v.append(f"{name}: {n}x {headline} -> {error}")

    report.counts["relay_resends"] = int(job_stats[0])
    report.counts["jobs"] = int(job_stats[1])
    report.counts["skipped_deliveries"] = sum(
        len(re.findall(r"succeeded in [0-9.]+s: 'skipped'", log.read_text(errors="replace")))
        for log in cluster.logs.glob("worker*.log"))
    report.counts["handover_seconds"] = sorted(
        (done_at[job] - kill.at).total_seconds() for kill in report.kills for job in kill.jobs if job in done_at)
    for kill in report.kills:
        for job in kill.jobs:
            if job not in done_at:
                v.append(f"job {job}, held by {kill.worker} when it was killed at {kill.at:%H:%M:%S}, is not done")
    report.counts["lease_takeovers"] = _metric(cluster, "baton_lease_takeovers_total")


_NOISE = re.compile(r"\[[0-9a-f-]{36}\]|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
                    r"^\[[^\]]*\] ?|port \d+|:\d{4,5}\b")
_CHAINED = ("The above exception", "During handling of the above exception")


#: A race inside kombu's Redis transport (seen in CI, kombu 5.x): when the broker goes away, the
#: consumer closes its channel, which restores the unacknowledged messages through a connection
#: that is already gone (``_connparams``: ``conninfo`` is None). Celery calls that an
#: "Unrecoverable error" and the worker process exits; its supervisor starts it again, and the
#: restored messages, if any, are re-sent by the relay. Not Baton's code and nothing is lost (the
#: other invariants check that), so it is counted, not failed. Only a traceback that ends in
#: kombu's ``_connparams`` is let through (``scan_logs`` marks it).
KOMBU_REDIS_CLOSE_RACE = "kombu redis close race: AttributeError: 'NoneType' object has no attribute 'hostname'"


def scan_logs(folder: Path) -> Counter[tuple[str, str, str]]:
    """Tracebacks, lock errors and deadlocks in every ``*.log`` of ``folder``, grouped by process
    kind, the line that announced them and their last exception line (ids and ports blanked)."""
    found: Counter[tuple[str, str, str]] = Counter()
    for log in sorted(folder.glob("*.log")):
        kind = re.sub(r"-\d+$", "", log.stem)
        lines = log.read_text(errors="replace").splitlines()
        n = 0
        while n < len(lines):
            line = lines[n]
            if line.startswith("Traceback (most recent call last)"):
                headline = _NOISE.sub("", lines[n - 1]).strip() if n else ""
                start = n
                error, n = _traceback_end(lines, n)
                frames = "\n".join(lines[start:n])
                if ("kombu/transport/redis.py" in frames and "in _connparams" in frames
                        and error.strip() == "AttributeError: 'NoneType' object has no attribute 'hostname'"):
                    error = KOMBU_REDIS_CLOSE_RACE
                found[(kind, headline[:160], error if error == KOMBU_REDIS_CLOSE_RACE
                       else _NOISE.sub("", error).strip()[:200])] += 1
                continue
            if "database is locked" in line.lower() or "deadlock" in line.lower():
                found[(kind, "", _NOISE.sub("", line).strip()[:200])] += 1
            n += 1
    return found


def _traceback_end(lines: list[str], n: int) -> tuple[str, int]:
    """The last exception line of the (chained) traceback starting at ``n``, and the line after it."""
    error = ""
    while n < len(lines):
        n += 1
        while n < len(lines) and (lines[n].startswith((" ", "\t")) or not lines[n].strip()):
            n += 1
        if n >= len(lines):
            break
        error = lines[n]
        n += 1
        while n < len(lines) and (lines[n].startswith(("\t", "(Background", "[SQL", "[parameters"))
                                  or not lines[n].strip()):
            n += 1
        if n < len(lines) and lines[n].startswith(_CHAINED):
            while n < len(lines) and not lines[n].startswith("Traceback"):
                n += 1
            continue
        break
    return error, n


def _metric(cluster: Cluster, name: str) -> int | str:
    """A counter summed over every Baton process of the run (``/metrics``, multiprocess)."""
    try:
        text = httpx.get(f"{cluster.base_url}/metrics", timeout=10, trust_env=False).text
    except httpx.HTTPError:
        return "?"
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name) and not line.startswith("#")]
    return int(sum(values)) if values else 0
