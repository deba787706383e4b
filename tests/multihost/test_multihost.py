"""Baton across hosts: one machine, six network namespaces, one private /24.

    bmh-db   10.231.77.10   PostgreSQL (a private cluster, initdb'd here, run as `postgres`) + Redis
    bmh-web  10.231.77.20   baton serve (gunicorn, 2 processes)
    bmh-w1   10.231.77.31   baton worker (3 pool processes and the relay)
    bmh-w2   10.231.77.32   baton worker (3 pool processes and the relay)
    bmh-svc  10.231.77.40   the demo endpoint services
    bmh-cli  10.231.77.50   the test's client threads (API calls, the job sampler)

all plugged into one bridge that lives in a namespace of its own (``bmh-sw``). Nothing is added to
the machine's own network namespace; no address outside 10.231.77.0/24 is ever used.

A few hundred ``order_fulfillment`` and ``order_saga`` instances (four scenarios: plain, shipping
answering the BPMN error, and each with a lost answer on the payment) are started through the
web's REST API. Once a third of them has ended and w1 holds running jobs, w1's cable is pulled
(its port on the bridge goes down): its jobs are stranded with their leases. The test measures how
long until w2 has taken every one of them over, then plugs w1 back in, starts a second batch (so
w1 has to work again), and checks:

- every instance reached the end its scenario leads to, with no incident;
- no job is left pending or running, in the database;
- each service effect happened once per instance and step (the demo services record every call
  with its Idempotency-Key: a step retried or taken over repeats its key and is answered from the
  store, never applied twice);
- w1 took jobs again after it came back, and no Baton process logged a traceback.

Figures are printed (run with ``-s`` to see them) and feed docs/SCALING.md.

``BATON_MULTIHOST_INSTANCES`` changes the first batch's size (default 160; the second is a quarter).
Needs root, iproute2, PostgreSQL's server programs and redis-server: skipped without them, failed
under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, PROCESSES

from .cluster import (
    IDLE_IN_TRANSACTION_TIMEOUT,
    Client,
    JobSampler,
    Postgres,
    Proc,
    baton_argv,
    baton_env,
    baton_in,
    missing_programs,
    redis_argv,
    tcp_open,
    wait_for,
)
from .netns import Network, can_make_namespaces, exclusive, remove_leftovers

pytestmark = [pytest.mark.multihost, pytest.mark.slow, pytest.mark.timeout(280)]

SUBNET = "10.231.77.0/24"
HOSTS = {"db": "10.231.77.10", "web": "10.231.77.20", "w1": "10.231.77.31", "w2": "10.231.77.32",
         "svc": "10.231.77.40", "cli": "10.231.77.50"}
WEB = f"http://{HOSTS['web']}:8000"
SERVICES = f"http://{HOSTS['svc']}:8010"
TOKEN = "multihost-admin-token-0123456789abcdef"
LEASE_SECONDS = 5
ENDPOINT_TIMEOUT = 10  # processes/endpoints.toml: a claim's lease is this + BATON_JOB_LEASE_SECONDS
ENDED = {"completed", "compensated", "cancelled", "terminated"}

#: scenario -> (process, expected status, end event, effects per path for one instance)
SCENARIOS: dict[str, tuple[str, str, str, dict[str, int]]] = {
    "fulfil": ("order_fulfillment", "completed", "order_fulfilled",
               {"/payment/charge": 1, "/inventory/reserve": 1, "/shipping/create": 1}),
    "fulfil_noship": ("order_fulfillment", "completed", "order_not_shipped",
                      {"/payment/charge": 1, "/inventory/reserve": 1, "/notify/send": 1}),
    "saga": ("order_saga", "completed", "order_completed",
             {"/payment/charge": 1, "/inventory/reserve": 1, "/shipping/create": 1}),
    "saga_noship": ("order_saga", "compensated", "order_cancelled",
                    {"/payment/charge": 1, "/inventory/reserve": 1, "/inventory/release": 1, "/payment/refund": 1}),
}
NAMES = list(SCENARIOS)
ERROR_LINE = re.compile(r"^[\w.]+(?:Error|Exception)\b.*$", re.M)
LOST_CONNECTION = re.compile(r"OperationalError|InterfaceError|connection|Connection|idle-in-transaction|timeout")


def prerequisites() -> str:
    reason = can_make_namespaces()
    return reason or (f"missing: {missing_programs()}" if missing_programs() else "")


@pytest.fixture(scope="module")
def able() -> None:
    reason = prerequisites()
    if reason:
        message = f"multihost test cannot run here: {reason}"
        if IN_CI:
            pytest.fail(message + " (CI runs as root on a machine that can)", pytrace=False)
        pytest.skip(message)


def plan(count: int, offset: int) -> list[dict[str, Any]]:
    """``count`` starts: the scenarios in turn; every fifth instance loses its payment's first answer,
    every third waits a second for its inventory (so a worker is caught holding calls when cut)."""
    starts = []
    for n in range(offset, offset + count):
        scenario = NAMES[n % len(NAMES)]
        variables = {"amount": 10 + n % 90, "scenario": scenario, "lossy": n % 5 == 0, "slow": n % 3 == 0}
        starts.append({"n": n, "scenario": scenario, "key": SCENARIOS[scenario][0], "variables": variables})
    return starts


def api_start(http: Any, start: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(f"{WEB}/api/v1/process-definitions/{start['key']}/start",
                       headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"variables": start["variables"], "business_key": f"mh-{start['n']}"})
    assert answer.status_code in (200, 201, 202), f"start {start}: {answer.status_code} {answer.text}"
    return {**start, "id": answer.json()["id"]}


def api_get(http: Any, path: str) -> Any:
    answer = http.get(f"{WEB}/api/v1{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:500]}"
    return answer.json()


def ended_count(client: Client) -> tuple[int, dict[str, int]]:
    by_status = client.call(api_get, "/overview")["by_status"]
    return sum(v for k, v in by_status.items() if k in ENDED), by_status


def stranded_jobs(client: Client, dsn: str, owner_pids: set[int]) -> list[tuple[str, str, Any]]:
    """Jobs the database says are running under one of ``owner_pids`` (id, owner, lease end)."""
    import psycopg

    def query(_http: Any) -> list[tuple[str, str, Any]]:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute("SELECT id, lock_owner, locked_until FROM job WHERE status = 'running'").fetchall()
        return [r for r in rows if r[1] and int(r[1].rsplit(":", 1)[1]) in owner_pids]

    return client.call(query)


def redis_unacked(_http: Any) -> int:
    """Messages Redis handed to a consumer that has not acknowledged them (kombu's ``unacked`` hash)."""
    import redis

    with redis.Redis(host=HOSTS["db"], port=6379, socket_timeout=5) as r:
        return int(r.hlen("unacked"))


def redis_queued(_http: Any) -> int:
    """Job messages waiting in the broker's queue (a message sent now waits behind them)."""
    import redis

    from adapters.broker import JOB_QUEUE

    with redis.Redis(host=HOSTS["db"], port=6379, socket_timeout=5) as r:
        return int(r.llen(JOB_QUEUE))


def sql(client: Client, dsn: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    def query(_http: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(statement).fetchall()

    return client.call(query)


def test_many_instances_across_hosts_survive_a_worker_cut_off(able: None) -> None:  # noqa: C901
    first_batch = int(os.environ.get("BATON_MULTIHOST_INSTANCES", "160"))
    second_batch = max(8, first_batch // 4)
    figures: dict[str, Any] = {"instances": first_batch + second_batch}
    began = time.monotonic()
    with exclusive():
        leftovers = remove_leftovers()
        if leftovers:
            print(f"\nremoved leftovers of an earlier run: {leftovers}")
        net = Network(HOSTS)
        workdir = Path(tempfile.mkdtemp(prefix="baton-multihost-", dir="/tmp"))
        workdir.chmod(0o755)
        logs = workdir / "logs"
        logs.mkdir()
        procs: list[Proc] = []
        postgres: Postgres | None = None
        client: Client | None = None
        sampler: JobSampler | None = None
        try:
            net.create()
            postgres = Postgres(net, "db", HOSTS["db"], SUBNET, workdir)
            procs.append(Proc(net, "db", "redis", redis_argv(HOSTS["db"], workdir), logs))
            client = Client(net.ns("cli"))
            wait_for(lambda: client.call(lambda _h: tcp_open(HOSTS["db"], 6379)), bool, timeout=20,
                     what="redis on the db host")

            def env(machine: str, **more: str) -> dict[str, str]:
                return baton_env(workdir / f"home-{machine}", database_url=postgres.url,
                                 broker_url=f"redis://{HOSTS['db']}:6379/0",
                                 endpoints=str(PROCESSES / "endpoints.toml"), demo_services_url=SERVICES,
                                 api_token=TOKEN, job_lease_seconds=str(LEASE_SECONDS),
                                 idle_transaction_seconds=str(IDLE_IN_TRANSACTION_TIMEOUT),
                                 retry_base_seconds="0.5", relay_interval_seconds="1", relay_stale_seconds="5",
                                 worker_concurrency="3", **more)

            baton_in(net, "web", env("web"), "db", "upgrade")
            deployed = baton_in(net, "web", env("web"), "deploy", str(PROCESSES / "order_fulfillment.bpmn"),
                                str(PROCESSES / "order_saga.bpmn"))
            assert deployed.count("deployed") == 2, deployed
            procs.append(Proc(net, "svc", "services",
                              [baton_argv()[0], "-m", "tests.multihost.services_host", HOSTS["svc"], "8010"], logs))
            procs.append(Proc(net, "web", "web", baton_argv("serve"), logs,
                              env("web", host=HOSTS["web"], port="8000", web_processes="2", web_threads="8")))
            workers = {host: Proc(net, host, f"worker-{host}", baton_argv("worker", "--loglevel", "WARNING"), logs,
                                  env(host)) for host in ("w1", "w2")}
            procs.extend(workers.values())

            wait_for(lambda: client.call(lambda h: h.get(f"{SERVICES}/_control/health").status_code),
                     lambda c: c == 200, timeout=30, what="the demo services")
            wait_for(lambda: client.call(lambda h: h.get(f"{WEB}/readyz").status_code), lambda c: c == 200,
                     timeout=60, what="baton serve to be ready")
            for rule in ({"path": "/shipping/create", "mode": "bpmn_error", "match": {"scenario": "fulfil_noship"}},
                         {"path": "/shipping/create", "mode": "bpmn_error", "match": {"scenario": "saga_noship"}},
                         {"path": "/payment/charge", "mode": "lose_answer", "match": {"lossy": True}},
                         {"path": "/inventory/reserve", "mode": "slow", "seconds": 1.0, "match": {"slow": True}}):
                answer = client.call(lambda h, r=rule: h.post(f"{SERVICES}/_control/fail", json=r))
                assert answer.status_code == 200, answer.text
            sampler = JobSampler(net.ns("cli"), postgres.dsn, net, ["w1", "w2"])
            sampler.start()

            # -- batch 1, and the cut ------------------------------------------------------------
            started_at = time.monotonic()
            started = client.map(api_start, plan(first_batch, 0))
            figures["start_batch1_s"] = round(time.monotonic() - started_at, 1)
            wait_for(lambda: ended_count(client), lambda v: v[0] >= first_batch // 3, timeout=150,
                     what="a third of the first batch to end")
            for worker in workers.values():
                worker.assert_alive()
            # Cut when w1 visibly holds running jobs.
            wait_for(lambda: sampler.latest(), lambda jobs: sum(h == "w1" for h, _ in jobs.values()) >= 2,
                     timeout=30, interval=0.05, what="w1 to hold two running jobs")
            ended_at_cut = ended_count(client)[0]
            net.cut("w1")
            cut_at = time.monotonic()
            time.sleep(1.0)  # what w1 had on the wire before the cut has arrived (or never will)
            # Each job w1 was running stays `running` in the database: settling it needs the database.
            w1_pids = net.pids("w1")
            stranded = stranded_jobs(client, postgres.dsn, w1_pids)
            assert stranded, "w1 held no running job at the cut: nothing to take over"
            stranded_ids = {job for job, _, _ in stranded}
            # A transaction w1 had open stays open in PostgreSQL (nothing tells the server the client
            # is gone), with its row locks: whoever needs those rows waits for w1 to come back.
            held_tx = sql(client, postgres.dsn,
                          "SELECT state, left(query, 70) FROM pg_stat_activity"
                          f" WHERE client_addr = '{HOSTS['w1']}' AND xact_start IS NOT NULL")
            figures["w1_jobs_stranded"] = len(stranded_ids)
            figures["w1_open_transactions_at_cut"] = [f"{state}: {query}" for state, query in held_tx]
            figures["ended_per_s_before_cut"] = round(ended_at_cut / (cut_at - started_at), 1)
            lock_waits: list[int] = []
            unacked: list[int] = []
            queued: list[int] = []

            # w2 takes each stranded job over once its lease is out (or the job was settled otherwise).
            taken: dict[str, float] = {}

            def takeover_progress() -> int:
                now = time.monotonic()
                running_w1 = {j for j, _, _ in stranded_jobs(client, postgres.dsn, w1_pids)}
                lock_waits.append(sql(client, postgres.dsn, "SELECT count(*) FROM pg_stat_activity"
                                                              " WHERE wait_event_type = 'Lock'")[0][0])
                unacked.append(client.call(redis_unacked))
                queued.append(client.call(redis_queued))
                for job in stranded_ids - taken.keys():
                    if job not in running_w1:  # no longer running under w1: re-claimed by w2, or settled
                        taken[job] = now - cut_at
                return len(taken)

            wait_for(takeover_progress, lambda n: n == len(stranded_ids), timeout=60, interval=0.2,
                     what=f"w2 to take over w1's {len(stranded_ids)} stranded job(s)")
            figures["takeover_s"] = {"first": round(min(taken.values()), 1), "last": round(max(taken.values()), 1),
                                     "median": round(statistics.median(taken.values()), 1)}
            figures["taken_by_w2"] = len(stranded_ids & sampler.held_by("w2", since=cut_at))
            wait_for(lambda: ended_count(client)[0], lambda n: n > ended_at_cut + 10, timeout=60,
                     what="w2 alone to keep ending instances")
            ended_at_restore = ended_count(client)[0]
            cut_seconds = time.monotonic() - cut_at
            figures["cut_s"] = round(cut_seconds, 1)
            figures["ended_during_cut"] = ended_at_restore - ended_at_cut
            figures["ended_per_s_during_cut"] = round((ended_at_restore - ended_at_cut) / cut_seconds, 1)
            figures["max_sessions_waiting_on_a_lock_during_cut"] = max(lock_waits, default=0)
            figures["max_redis_unacked_during_cut"] = max(unacked, default=0)
            figures["job_queue_depth_during_cut"] = {"max": max(queued, default=0), "at_end": queued[-1]}
            net.restore("w1")
            restored_at = time.monotonic()

            # -- batch 2: w1 works again ---------------------------------------------------------
            started += client.map(api_start, plan(second_batch, first_batch))
            total = first_batch + second_batch
            wait_for(lambda: ended_count(client), lambda v: v[0] >= total, timeout=150, interval=1,
                     what=f"all {total} instances to end")
            figures["all_ended_s"] = round(time.monotonic() - started_at, 1)
            after = time.monotonic() - restored_at
            figures["ended_per_s_after_restore"] = round((total - ended_at_restore) / after, 1)
            figures["w1_jobs_after_restore"] = len(sampler.held_by("w1", since=restored_at))
            sampler.stop()
            assert sampler.error is None, f"the job sampler failed: {sampler.error!r}"

            # -- what the database says --------------------------------------------------------
            _, by_status = ended_count(client)
            assert set(by_status) <= {"completed", "compensated"}, by_status
            unsettled = sql(client, postgres.dsn,
                            "SELECT id, element_id, status, attempts FROM job WHERE status IN ('pending', 'running')")
            assert unsettled == [], f"jobs stuck: {unsettled}"
            incidents = sql(client, postgres.dsn, "SELECT instance_id, element_id, message FROM incident")
            assert incidents == [], f"incidents: {incidents}"
            attempts = Counter(a for (a,) in sql(client, postgres.dsn, "SELECT attempts FROM job"))
            ids = ", ".join(f"'{job}'" for job in stranded_ids)
            figures["stranded_jobs_resends_attempts"] = sql(
                client, postgres.dsn, f"SELECT resends, attempts FROM job WHERE id IN ({ids})")
            [(figures["relay_resends_total"],)] = sql(client, postgres.dsn, "SELECT coalesce(sum(resends), 0) FROM job")
            figures["jobs_by_attempts"] = dict(sorted(attempts.items()))

            # -- every instance at its end ---------------------------------------------------------
            docs = client.map(lambda h, s: api_get(h, f"/process-instances/{s['id']}"), started)
            wrong = []
            for start, doc in zip(started, docs, strict=True):
                _, status, end, _ = SCENARIOS[start["scenario"]]
                ends = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
                if doc["status"] != status or end not in ends or doc["incidents"]:
                    wrong.append((start["scenario"], doc["id"], doc["status"], ends[-3:]))
            assert not wrong, f"{len(wrong)} instance(s) did not reach their end: {wrong[:10]}"
            stale_retries = sum(1 for doc in docs for h in doc["history"] if h["event"] == "retrying")
            figures["retrying_notes"] = stale_retries  # each lost answer makes one; more: a stale worker's failure

            # -- the effects: once per instance and step -------------------------------------------
            snapshot = client.call(lambda h: h.get(f"{SERVICES}/_control/calls").json())
            effects = Counter((e["instance_id"], e["path"]) for e in snapshot["effects"])
            per_key = Counter((e["path"], e["idempotency_key"]) for e in snapshot["effects"])
            assert max(per_key.values()) == 1, [k for k, n in per_key.items() if n > 1][:10]
            bad = []
            for start in started:
                expected = SCENARIOS[start["scenario"]][3]
                got = {path: n for (iid, path), n in effects.items() if iid == start["id"]}
                if got != expected:
                    bad.append((start["scenario"], start["id"], got))
            assert not bad, f"{len(bad)} instance(s) with wrong effects: {bad[:10]}"
            calls = snapshot["calls"]
            figures["service_calls"] = len(calls)
            figures["effects"] = len(snapshot["effects"])
            figures["replayed_calls"] = sum(1 for c in calls if c["replayed"])
            figures["answers_lost_on_purpose"] = sum(1 for c in calls if c["outcome"] == "lose_answer")

            # -- the processes ---------------------------------------------------------------------
            for proc in procs:
                proc.assert_alive()
            for host, worker in workers.items():
                text = worker.log(1_000_000)
                figures[f"{host}_log_tracebacks"] = text.lower().count("traceback")
                figures[f"{host}_log_errors"] = sorted({m.group(0)[:160] for m in ERROR_LINE.finditer(text)})
            figures["total_s"] = round(time.monotonic() - began, 1)
            figures["load_average_1m"] = round(os.getloadavg()[0], 1)
            print("\nmultihost figures: " + json.dumps(figures, sort_keys=True))
            assert figures["w1_jobs_after_restore"] > 0, "w1 took no job after it came back"
            assert figures["w2_log_tracebacks"] == 0, workers["w2"].log()
            # w1's transaction cut short by the server (idle in transaction) fails when w1 is back:
            # the one kind of error it may log, with what it was doing.
            unexpected = [e for e in figures["w1_log_errors"] if not LOST_CONNECTION.search(e)]
            assert not unexpected, workers["w1"].log()
        except BaseException:
            print(f"\nmultihost figures so far: {json.dumps(figures, sort_keys=True, default=str)}")
            for proc in procs:
                print(f"--- {proc.name} (last lines)\n{proc.log(3000)}")
            if postgres is not None:
                print(f"--- postgres\n{postgres.log_path.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            if sampler is not None:
                sampler.stop()
            if client is not None:
                client.close()
            for proc in reversed(procs):
                proc.stop()
            if postgres is not None:
                postgres.stop()
            net.destroy()
            shutil.rmtree(workdir, ignore_errors=True)
