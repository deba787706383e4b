"""How fast the operator UI answers on a big PostgreSQL database.

Fills a fresh database with 100,000 instances (bulk inserts, a few history rows each, incidents
for the failed ones) plus one instance with 5,000 history rows, then times the instances list
(first page, filtered pages, a deep keyset page) and that instance's page through the Flask test
client (the whole request: routing, queries, Jinja). Goal: list p95 < 150 ms, instance page
p95 < 300 ms. Run by hand::

    .venv/bin/python bench/ui.py                  # fills baton_bench_ui, then times
    .venv/bin/python bench/ui.py --keep           # reuse the filled database
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from engine import Engine, Settings  # noqa: E402
from engine.models import ActivityEvent, Incident, Job, ProcessInstance  # noqa: E402
from web.app import create_app  # noqa: E402

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
    start = datetime.now(UTC) - timedelta(days=30)
    steps = ["order_received", "charge_payment", "reserve_inventory", "create_shipment", "order_fulfilled"]
    started = time.perf_counter()
    with engine.db.engine.begin() as conn:
        for first in range(0, count, BATCH):
            instances, events, incidents, jobs = [], [], [], []
            for n in range(first, min(first + BATCH, count)):
                key, definition_id = definitions[n % len(definitions)]
                status = rng.choice(STATUSES)
                created = start + timedelta(seconds=n * 25.9)
                instance_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                ended = created + timedelta(seconds=3) if status in ("completed", "cancelled", "compensated") else None
                instances.append({
                    "id": instance_id, "definition_id": definition_id, "business_key": f"{key}-{n}",
                    "status": status, "created_at": created, "updated_at": ended or created, "ended_at": ended,
                    "revision": 3, "event_seq": 3, "state": "",
                    "variables": {"amount": n % 500, "tier": ("gold", "silver", "bronze")[n % 3],
                                  "customer": f"c{n % 1000}", "items": [{"sku": f"s{n % 50}", "qty": 1 + n % 3}]},
                })
                for seq, (element, event) in enumerate([("process", "started"), (steps[0], "entered"),
                                                        (steps[0], "completed")], start=1):
                    events.append({"instance_id": instance_id, "seq": seq, "at": created, "element_id": element,
                                   "element_type": None, "name": None, "event": event, "task_id": None})
                if status == "incident":
                    job_id = str(uuid.uuid4())
                    jobs.append({"id": job_id, "instance_id": instance_id, "task_id": str(uuid.uuid4()),
                                 "element_id": "charge_payment", "kind": "service", "topic": "payment-charge",
                                 "status": "failed", "attempts": 4, "max_attempts": 4, "next_run_at": created,
                                 "last_error": "POST /payment/charge answered 500", "idempotency_key": job_id,
                                 "created_at": created, "updated_at": created})
                    incidents.append({"id": str(uuid.uuid4()), "instance_id": instance_id, "job_id": job_id,
                                      "element_id": "charge_payment", "message": "charge_payment: answered 500",
                                      "created_at": created})
            conn.execute(sa.insert(ProcessInstance), instances)
            conn.execute(sa.insert(ActivityEvent), events)
            if jobs:
                conn.execute(sa.insert(Job), jobs)
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
    with engine.db.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(f"filled {count:,} instances (+{count * 3:,} history rows) and one with 5,000 rows "
          f"in {time.perf_counter() - started:.1f} s")
    return big


def timed(client, path: str, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    for _ in range(3):  # warm caches and the connection pool
        assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(path)
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
    client = create_app(settings, engine=engine).test_client()

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
    ]
    print(f"\n{'request':42} {'p50 ms':>8} {'p95 ms':>8}   ({args.runs} runs each, Flask test client)")
    for label, path in cases:
        p50, p95 = timed(client, path, args.runs)
        print(f"{label:42} {p50:8.1f} {p95:8.1f}")
    engine.close()


if __name__ == "__main__":
    main()
