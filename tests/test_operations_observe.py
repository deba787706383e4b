"""What an operator watches and what a careful client relies on: /metrics, JSON log lines with
their ids, the caller's W3C trace carried to endpoints, and Idempotency-Key on start."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import timedelta

import pytest

from tests.auth_helpers import make_token
from tests.conftest import PROCESSES

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_PARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def _world(settings):  # type: ignore[no-untyped-def]
    """An app whose jobs wait (no broker, no driver): the test claims them itself."""
    import migrations
    from engine import Engine
    from web import create_app

    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=lambda tickets: None)
    engine.deploy([("order_fulfillment.bpmn", (PROCESSES / "order_fulfillment.bpmn").read_bytes())])
    client = create_app(settings, engine=engine).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + make_token(engine, "operator")
    return engine, client


def _pending_job(engine, instance_id: str) -> dict:  # type: ignore[no-untyped-def]
    jobs = [j for j in engine.get_instance(instance_id)["jobs"] if j["status"] == "pending"]
    assert len(jobs) == 1, jobs
    return jobs[0]


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_show_the_gauges_and_count_a_lease_takeover(settings_factory):
    from engine.models import Job

    engine, client = _world(settings_factory())
    before = _samples(client.get("/metrics").get_data(as_text=True))
    instance_id = client.post("/api/v1/process-definitions/order_fulfillment/start",
                              json={"variables": {"amount": 5}}).json["id"]
    job_id = _pending_job(engine, instance_id)["id"]
    assert engine.claim_job(job_id, "worker-a") is not None
    with engine.db.transaction() as session:  # worker-a hangs: its lease runs out
        session.get(Job, job_id).locked_until -= timedelta(hours=1)
    assert engine.claim_job(job_id, "worker-b").attempt == 2  # taken over

    answer = client.get("/metrics", environ_base={"HTTP_AUTHORIZATION": ""})  # loopback needs no token
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    after = _samples(answer.get_data(as_text=True))
    takeovers = ("baton_lease_takeovers_total", frozenset())
    assert after[takeovers] == before.get(takeovers, 0) + 1
    assert after[("baton_instances", frozenset({"definition": "order_fulfillment", "version": "1",
                                                "status": "running"}.items()))] == 1
    assert after[("baton_jobs", frozenset({"kind": "service", "state": "running"}.items()))] == 1
    assert after[("baton_incidents_open", frozenset())] == 0
    assert after[("baton_database_up", frozenset())] == 1
    claims = ("baton_job_attempts_count", frozenset({"kind": "service"}.items()))
    assert after[claims] == before.get(claims, 0) + 2
    assert ("baton_job_latency_seconds_count", frozenset({"kind": "service"}.items())) in after
    engine.close()


def test_metrics_from_elsewhere_need_a_token(settings_factory):
    engine, client = _world(settings_factory(metrics_token="scrape-secret"))
    remote = {"REMOTE_ADDR": "10.1.2.3", "HTTP_AUTHORIZATION": ""}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    proxied = {"HTTP_AUTHORIZATION": "", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=proxied).status_code == 403  # a local proxy is not loopback
    for secret in ("scrape-secret", make_token(engine, "viewer")):
        allowed = client.get("/metrics", environ_base={**remote, "HTTP_AUTHORIZATION": f"Bearer {secret}"})
        assert allowed.status_code == 200 and b"baton_instances" in allowed.data
    assert client.get("/metrics", environ_base={**remote, "HTTP_AUTHORIZATION": "Bearer nope"}).status_code == 403
    engine.close()


def test_the_callers_traceparent_is_continued_by_every_endpoint_call(settings_factory):
    engine, client = _world(settings_factory())
    started = client.post("/api/v1/process-definitions/order_fulfillment/start", json={"variables": {"amount": 5}},
                          headers={"traceparent": CALLER_PARENT})
    instance_id = started.json["id"]
    first = engine.claim_job(_pending_job(engine, instance_id)["id"], "worker")
    version, trace_id, parent_id, flags = first.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01") and parent_id != CALLER_PARENT.split("-")[2]
    engine.complete_job(first.job_id, {"payment_id": "p-1"})  # in the worker: the next job continues it
    second = engine.claim_job(_pending_job(engine, instance_id)["id"], "worker")
    assert second.traceparent.split("-")[1] == CALLER_TRACE and second.traceparent != first.traceparent

    plain = client.post("/api/v1/process-definitions/order_fulfillment/start", json={"variables": {"amount": 5}},
                        headers={"traceparent": "not-a-traceparent"}).json["id"]  # ignored, as W3C says
    call = engine.claim_job(_pending_job(engine, plain)["id"], "worker")
    assert call.traceparent.split("-")[1] == plain.replace("-", "")
    engine.close()


def test_json_log_lines_carry_the_ids_of_the_job_at_hand(settings_factory):
    from engine import logs

    engine, client = _world(settings_factory())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logs.configure("json")
        instance_id = client.post("/api/v1/process-definitions/order_fulfillment/start", json={},
                                  headers={"traceparent": CALLER_PARENT}).json["id"]
        call = engine.claim_job(_pending_job(engine, instance_id)["id"], "worker")
        logging.getLogger("baton.test").warning("calling %s", call.topic)
        with logs.bound(job_id=None, element_id=None):
            logging.getLogger("baton.test").info("no exception")
    finally:
        root.removeHandler(handler)
        for other in root.handlers:  # pytest's own handlers keep their text format
            if isinstance(other.formatter, logs.JsonFormatter):
                other.setFormatter(logging.Formatter())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    line = next(entry for entry in lines if entry["message"] == "calling payment-charge")
    assert line["level"] == "WARNING" and line["logger"] == "baton.test" and line["time"].endswith("+00:00")
    assert (line["instance_id"], line["job_id"], line["element_id"], line["trace_id"]) == (
        instance_id, call.job_id, call.element_id, CALLER_TRACE)
    assert logs.parse_traceparent(CALLER_PARENT) == CALLER_TRACE
    assert logs.parse_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    engine.close()


def test_a_start_retried_with_its_idempotency_key_returns_the_first_instance(settings_factory):
    engine, client = _world(settings_factory())
    url = "/api/v1/process-definitions/order_fulfillment/start"
    body = {"variables": {"amount": 7}, "business_key": "order-7"}
    first = client.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.json.keys() == first.json.keys()

    other = client.post(url, json={**body, "variables": {"amount": 8}}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.mimetype == "application/problem+json"
    assert "Idempotency-Key" in other.json["detail"]

    someone_else = client.post(url, json=body, headers={"Idempotency-Key": "k-1",
                                                        "Authorization": "Bearer " + make_token(engine, "operator")})
    assert someone_else.status_code == 201 and someone_else.json["id"] != first.json["id"]  # keys are per caller
    without = client.post(url, json=body)
    assert without.json["id"] not in (first.json["id"], someone_else.json["id"])
    assert len(engine.find_instances(business_key="order-7")["items"]) == 3
    engine.close()


@pytest.mark.postgres
def test_two_concurrent_starts_with_one_idempotency_key_make_one_instance(settings_factory, postgres_url):
    engine, client = _world(settings_factory(database_url=postgres_url))
    token = client.environ_base["HTTP_AUTHORIZATION"]
    url = "/api/v1/process-definitions/order_fulfillment/start"
    answers: list = []
    gate = threading.Barrier(4)

    def start() -> None:
        mine = client.application.test_client()
        gate.wait()
        answers.append(mine.post(url, json={"business_key": "race"},
                                 headers={"Idempotency-Key": "race-1", "Authorization": token}))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [201] * 4, [a.json for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert len(engine.find_instances(business_key="race")["items"]) == 1
    engine.close()


def test_a_message_that_starts_an_instance_keeps_the_senders_trace(settings_factory):
    from engine.models import ProcessInstance

    engine, client = _world(settings_factory())
    engine.deploy([("await_shipment.bpmn", (PROCESSES.parent / "tests/diagrams/await_shipment.bpmn").read_bytes())])
    sent = client.post("/api/v1/messages", json={"name": "NewOrder", "variables": {"order_id": "o-1"}},
                       headers={"traceparent": CALLER_PARENT})
    assert sent.status_code == 200 and sent.json["result"] == "started", sent.json
    with engine.db.reading() as session:
        assert session.get(ProcessInstance, sent.json["instance_id"]).trace_id == CALLER_TRACE
    engine.close()
