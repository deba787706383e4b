"""How fast the operator UI answers on a big PostgreSQL database.

Fills a fresh database with 100,000 instances (bulk inserts through the engine's models: each
instance's history along order_fulfillment's path as far as its status took it, a live job for
the running and waiting ones, incidents for the failed ones; half of them order_fulfillment v1)
plus one instance with 5,000 history rows, then times, through the Flask test client (the whole
request: routing, auth, queries, Jinja or JSON), signed in as an admin:

- the instances list (first page, filtered pages, a deep keyset page) and that instance's page;
- business-key search: prefix (``order_fulfillment-42*``) and contains, in the UI and the API,
  and a variable's value by prefix; goal p95 < 150 ms for the prefix search;
- the definition diagram's per-element counts (``GET .../element-counts`` for the version with
  50,000 instances); goal p95 < 300 ms.

Run by hand::

    .venv/bin/python bench/ui.py                  # fills baton_bench_ui, then times
    .venv/bin/python bench/ui.py --keep           # reuse the filled database
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from engine import Engine, Settings  # noqa: E402
from engine.models import ActivityEvent, Incident, Job, ProcessInstance  # noqa: E402
from web.app import create_app  # noqa: E402

PASSWORD = "bench-ui correct horse battery"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STATUSES = ["completed"] * 70 + ["running"] * 12 + ["waiting"] * 10 + ["incident"] * 3 + ["cancelled"] * 3 \
    + ["compensated"] * 2
BATCH = 5_000


def database_url(name: str, fresh: bool) -> str:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if fresh and exists:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if fresh or not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def fill(engine: Engine, count: int, rng: random.Random) -> str:
    """Insert ``count`` instances and their history in batches; return the big instance's id."""
    files = [(p.name, p.read_bytes()) for p in sorted((ROOT / "processes").glob("*.bpmn"))]
    definitions = [(d.key, d.id) for d in engine.deploy(files, name="bench")]
    order_id = next(i for k, i in definitions if k == "order_fulfillment")
    others = [(k, i) for k, i in definitions if k != "order_fulfillment"]
    start = datetime.now(UTC) - timedelta(days=30)
    steps = ["order_received", "charge_payment", "reserve_inventory", "create_shipment", "order_fulfilled"]
    # How far along the path each status got: index of the step it stopped at.
    stops = {"completed": len(steps), "compensated": 2, "cancelled": 2, "running": 1, "waiting": 3, "incident": 1}
    started = time.perf_counter()
    rows = 0
    with engine.db.engine.begin() as conn:
        for first in range(0, count, BATCH):
            instances, events, incidents, jobs = [], [], [], []
            for n in range(first, min(first + BATCH, count)):
                key, definition_id = ("order_fulfillment", order_id) if n % 2 else others[(n // 2) % len(others)]
                status = rng.choice(STATUSES)
                created = start + timedelta(seconds=n * 25.9)
                instance_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                ended = created + timedelta(seconds=3) if status in ("completed", "cancelled", "compensated") else None
                instances.append({
                    "id": instance_id, "definition_id": definition_id, "business_key": f"{key}-{n}",
                    "status": status, "created_at": created, "updated_at": ended or created, "ended_at": ended,
                    "revision": 3, "event_seq": 3, "state": "",
                    "variables": {"amount": n % 500, "tier": ("gold", "silver", "bronze")[n % 3],
                                  "customer": f"c{n % 1000}", "email": f"buyer{n}@example.org",
                                  "items": [{"sku": f"s{n % 50}", "qty": 1 + n % 3}]},
                })
                trail = [("process", "started")]
                stop = stops[status]
                for step in steps[:stop]:
                    trail += [(step, "entered"), (step, "completed")]
                if status in ("running", "waiting", "incident", "cancelled", "compensated"):
                    trail.append((steps[stop], "entered"))
                if status in ("cancelled", "compensated"):
                    trail += [(steps[stop], "cancelled"), ("process", status)]
                for seq, (element, event) in enumerate(trail, start=1):
                    events.append({"instance_id": instance_id, "seq": seq, "at": created, "element_id": element,
                                   "element_type": None, "name": None, "event": event,
                                   "task_id": None if element == "process" else f"{instance_id[:8]}-{element}"})
                if status in ("running", "waiting", "incident"):
                    job_id = str(uuid.uuid4())
                    failed = status == "incident"
                    jobs.append({"id": job_id, "instance_id": instance_id, "task_id": str(uuid.uuid4()),
                                 "element_id": steps[stop], "kind": "service", "topic": "bench",
                                 "status": "failed" if failed else "waiting" if status == "waiting" else "pending",
                                 "attempts": 4 if failed else 0, "max_attempts": 4,
                                 "next_run_at": created + timedelta(days=3650),
                                 "last_error": "POST /payment/charge answered 500" if failed else None,
                                 "idempotency_key": job_id, "created_at": created, "updated_at": created})
                    if failed:
                        incidents.append({"id": str(uuid.uuid4()), "instance_id": instance_id, "job_id": job_id,
                                          "element_id": steps[stop], "message": f"{steps[stop]}: answered 500",
                                          "created_at": created})
            conn.execute(sa.insert(ProcessInstance), instances)
            conn.execute(sa.insert(ActivityEvent), events)
            rows += len(events)
            if jobs:
                conn.execute(sa.insert(Job), jobs)
            if incidents:
                conn.execute(sa.insert(Incident), incidents)
        # One long-lived instance: a loop that ran 2,500 times (5,000 history rows).
        big = str(uuid.uuid4())
        now = datetime.now(UTC)
        conn.execute(sa.insert(ProcessInstance), [{
            "id": big, "definition_id": order_id, "business_key": "the-long-one", "status": "completed",
            "created_at": now - timedelta(hours=2), "updated_at": now, "ended_at": now, "revision": 5000,
            "event_seq": 5000, "state": "", "variables": {"amount": 1, "loops": 2500}}])
        conn.execute(sa.insert(ActivityEvent), [
            {"instance_id": big, "seq": seq, "at": now - timedelta(seconds=5000 - seq), "element_id": "charge_payment",
             "element_type": "ServiceTask", "name": "Charge payment", "event": "entered" if seq % 2 else "completed",
             "task_id": f"task-{(seq + 1) // 2}", "details": None}
            for seq in range(1, 5001)])
    # Outside a transaction: statistics written inside one that rolls back are lost (the planner
    # then guesses 0.5% of rows for every filter), and VACUUM makes index-only scans possible.
    with engine.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"filled {count:,} instances (+{rows:,} history rows) and one with 5,000 rows "
          f"in {time.perf_counter() - started:.1f} s")
    return big


def signed_in(app: Any, engine: Engine) -> tuple[Any, str]:
    """A test client with an admin's UI session (the login form, its CSRF token) and API token."""
    name = "bench-admin"
    if not any(u["name"] == name for u in engine.list_users()):
        engine.create_user(name, "admin", PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf, "the login page has no CSRF token"
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf.group(1)})
    assert answer.status_code == 302, answer.status_code
    _, token = engine.create_token("viewer", "bench/ui.py", created_by="bench")
    return client, token


def timed(client, path: str, runs: int, headers: dict[str, str] | None = None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    for _ in range(3):  # warm caches and the connection pool
        assert client.get(path, headers=headers, follow_redirects=True).status_code == 200, path
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers, follow_redirects=True)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="baton_bench_ui")
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="reuse a database filled by an earlier run")
    args = parser.parse_args()

    url = database_url(args.database, fresh=not args.keep)
    migrations.upgrade(url)
    settings = Settings(home=ROOT / ".baton" / "bench-ui", database_url=url,
                        endpoints=ROOT / "processes" / "endpoints.toml")
    engine = Engine(settings, notifier=lambda tickets: None)
    with engine.db.reading() as session:
        big = session.scalar(sa.select(ProcessInstance.id).where(ProcessInstance.business_key == "the-long-one"))
    if big is None:
        big = fill(engine, args.instances, random.Random(4))
    client, token = signed_in(create_app(settings, engine=engine), engine)
    api = {"Authorization": f"Bearer {token}"}

    page = engine.find_instances(limit=50)
    cursor = page["next"]
    for _ in range(39):  # the 41st page, 2,000 rows deep, by keyset
        cursor = engine.find_instances(limit=50, after=cursor)["next"]
    cases = [
        ("instances, first page", "/instances"),
        ("instances, status=incident", "/instances?status=incident"),
        ("instances, definition+version+status", "/instances?definition=order_fulfillment&version=1&status=completed"),
        ("instances, variable tier=gold", "/instances?variable=tier&value=gold"),
        ("instances, variable + started between", "/instances?variable=customer&value=c42"
         "&started_from=2000-01-01T00:00&started_to=2100-01-01T00:00"),
        ("instances, business key", "/instances?business_key=order_fulfillment-4242"),
        ("instances, sorted by status", "/instances?sort=status&order=asc"),
        ("instances, page 41 (keyset)", f"/instances?after={cursor}"),
        ("instance page, 5,000 history rows", f"/instances/{big}"),
        ("instance live update, 5,000 rows", f"/instances/{big}/live?token=stale"),
        ("dashboard", "/"),
        ("incidents", "/incidents"),
        ("search: key prefix (UI list)", "/instances?business_key=order_fulfillment-4242&key_match=prefix"),
        ("search: key prefix, 1 char deep (UI list)", "/instances?business_key=o&key_match=prefix"),
        ("search: header box, part of a key", "/search?q=fulfillment-4242"),
        ("search: key contains (UI list)", "/instances?business_key=fillment-4242&key_match=contains"),
        ("search: variable prefix (UI list)", "/instances?variable=email&value=buyer4242&value_match=prefix"),
        ("filter: waiting at an element", "/instances?definition=order_fulfillment&version=1&element=create_shipment"),
        ("filter: open incident", "/instances?incident=yes"),
    ]
    api_cases = [
        ("API search: key prefix", "/api/v1/process-instances?business_key=order_fulfillment-4242*"),
        ("API search: key contains", "/api/v1/process-instances?business_key=*fillment-4242*"),
        ("API diagram counts (50,000 instances)",
         "/api/v1/process-definitions/order_fulfillment/versions/1/element-counts"),
        ("definition page (HTML, counts load after)", "/definitions/order_fulfillment?version=1"),
    ]
    print(f"\n{'request':46} {'p50 ms':>8} {'p95 ms':>8}   ({args.runs} runs each, Flask test client)")
    for label, path in cases:
        p50, p95 = timed(client, path, args.runs)
        print(f"{label:46} {p50:8.1f} {p95:8.1f}")
    for label, path in api_cases:
        p50, p95 = timed(client, path, args.runs, api if path.startswith("/api/") else None)
        print(f"{label:46} {p50:8.1f} {p95:8.1f}")
    engine.close()


if __name__ == "__main__":
    main()
