"""Retention: ``baton history prune`` and ``POST /api/v1/history/prune`` delete exactly the
instances that ended before the cut-off, with every row they own, and nothing else, on SQLite
and PostgreSQL, while the engine keeps running the others."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import migrations
from engine import EndpointMap, Engine, InvalidRequest
from engine.models import Base, ProcessInstance, utcnow
from tests.auth_helpers import use_token

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{id}" targetNamespace="t">
  {extra}<bpmn:process id="{id}" isExecutable="true">
    <bpmn:startEvent id="s"/>{body}
  </bpmn:process>
</bpmn:definitions>"""


def _chain(*elements: str) -> str:
    """start -> each element -> end, in order."""
    ids = ["s"] + [e.split('id="', 1)[1].split('"', 1)[0] for e in elements] + ["e"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    return "".join(elements) + '<bpmn:endEvent id="e"/>' + flows


PROCESSES = {
    "instant": _chain(),
    "review": _chain('<bpmn:userTask id="approve" name="Approve"/>'),
    "broken": _chain('<bpmn:scriptTask id="divide" scriptFormat="python"><bpmn:script>x = 1 / 0</bpmn:script>'
                     '</bpmn:scriptTask>'),
    "paid": _chain('<bpmn:intermediateCatchEvent id="wait_paid"><bpmn:messageEventDefinition messageRef="m_paid"/>'
                   '</bpmn:intermediateCatchEvent>'),
    "onboard": _chain('<bpmn:callActivity id="get_review" calledElement="review"/>',
                      '<bpmn:userTask id="confirm" name="Confirm"/>'),
}


def _deploy(engine: Engine) -> None:
    for key, body in PROCESSES.items():
        extra = '<bpmn:message id="m_paid" name="Paid"/>' if key == "paid" else ""
        engine.deploy([(f"{key}.bpmn", BPMN.format(id=key, extra=extra, body=body).encode())])


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, settings_factory) -> str:  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return settings_factory().database_url


@pytest.fixture
def engine(database_url, settings_factory):  # type: ignore[no-untyped-def]
    from adapters.runner import InlineDriver

    settings = settings_factory(database_url=database_url)
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    found = Engine(settings, notifier=driver.notify, endpoints=EndpointMap())
    driver.engine = found
    found.driver = driver  # type: ignore[attr-defined]
    _deploy(found)
    yield found
    found.close()


def _set_back(engine: Engine, ids: list[str], days: int = 100) -> None:
    """Move instances' start (and end, if they ended) ``days`` into the past."""
    with engine.db.transaction() as session:
        for instance in session.scalars(sa.select(ProcessInstance).where(ProcessInstance.id.in_(ids))):
            instance.created_at = instance.created_at - timedelta(days=days)
            if instance.ended_at is not None:
                instance.ended_at = instance.ended_at - timedelta(days=days)


def _child(engine: Engine, parent_id: str) -> str:
    [child] = engine.get_instance(parent_id)["children"]
    return child["id"]


def _mix(engine: Engine) -> dict[str, Any]:
    """Finished instances old and recent, and live ones (some started long ago)."""
    drain = engine.driver.drain  # type: ignore[attr-defined]
    gone: list[str] = [engine.start("instant"), engine.start("instant")]
    reviewed = engine.start("review")
    engine.complete_user_task(reviewed, "approve", {"ok": True})
    cancelled = engine.start("review")
    engine.cancel(cancelled, "changed our mind")
    given_up = engine.start("broken")  # an incident, then cancelled: its incident row goes too
    drain()
    assert engine.get_instance(given_up)["status"] == "incident"
    engine.cancel(given_up)
    unpaid = engine.start("paid", business_key="inv-1")
    engine.cancel(unpaid)
    tree = engine.start("onboard")  # a call tree that ended: caller and child go together
    drain()
    engine.complete_user_task(_child(engine, tree), "approve")
    drain()
    engine.complete_user_task(tree, "confirm")
    gone += [reviewed, cancelled, given_up, unpaid, tree, _child(engine, tree)]

    caller_waits = engine.start("onboard")  # its child ended long ago, but it still names it
    drain()
    finished_child = _child(engine, caller_waits)
    engine.complete_user_task(finished_child, "approve")
    drain()
    caller_cancelled = engine.start("onboard")  # ended long ago, but its child still waits
    drain()
    engine.cancel(caller_cancelled)
    # the job that cancels its child has not run yet (call_cancellation.py): the child still waits
    held = [t for t in engine.driver.queue if t.kind == "cancel_child"]  # type: ignore[attr-defined]
    for ticket in held:
        engine.driver.queue.remove(ticket)  # type: ignore[attr-defined]
    live = {"waiting": engine.start("review", business_key="live-1"), "incident": engine.start("broken"),
            "paid": engine.start("paid", business_key="inv-2"), "caller_waits": caller_waits,
            "running_child": _child(engine, caller_cancelled)}
    drain()
    recent = engine.start("instant")
    _set_back(engine, [*gone, finished_child, caller_cancelled, *live.values()])
    for instance_id in gone + [finished_child, caller_cancelled, recent]:
        assert engine.get_instance(instance_id)["status"] in ("completed", "cancelled")
    assert engine.get_instance(live["incident"])["status"] == "incident"
    return {"gone": gone, "live": live, "kept": [finished_child, caller_cancelled, recent, *live.values()],
            "held": held}


def _rows(engine: Engine) -> dict[str, set[tuple[str, ...]]]:
    """Every row of every table, as comparable text."""
    found = {}
    with engine.db.reading() as session:
        for table in Base.metadata.sorted_tables:
            found[table.name] = {tuple(json.dumps(v, sort_keys=True, default=str) for v in row)
                                 for row in session.execute(sa.select(table)).all()}
    return found


def _ids(engine: Engine) -> set[str]:
    with engine.db.reading() as session:
        return set(session.scalars(sa.select(ProcessInstance.id)))


def _without(rows: dict[str, set[tuple[str, ...]]], ids: list[str]) -> dict[str, set[tuple[str, ...]]]:
    """``rows`` less every row of the instances ``ids``: what a prune of them must leave."""
    quoted = {json.dumps(i) for i in ids}
    left = {}
    for table in Base.metadata.sorted_tables:
        column = "id" if table.name == "process_instance" else "instance_id" if "instance_id" in table.c else None
        if column is None:
            left[table.name] = rows[table.name]
            continue
        at = list(table.c.keys()).index(column)
        left[table.name] = {row for row in rows[table.name] if row[at] not in quoted}
    return left


def _the_live_ones_carry_on(engine: Engine, mix: dict[str, Any]) -> None:
    live = mix["live"]
    assert engine.complete_user_task(live["waiting"], "approve", {"ok": True}) == "completed"
    assert engine.correlate("Paid", business_key="inv-2")["instance_id"] == live["paid"]
    assert engine.get_instance(live["paid"])["status"] == "completed"
    assert engine.complete_user_task(live["caller_waits"], "confirm") == "completed"
    engine.driver.queue.extend(mix["held"])  # type: ignore[attr-defined]
    engine.driver.drain()  # type: ignore[attr-defined]  (its return job reaches the cancelled caller)
    assert engine.get_instance(live["running_child"])["status"] == "cancelled"  # with its caller
    assert engine.get_instance(live["incident"])["status"] == "incident"
    history = engine.get_instance(live["waiting"])["history"]
    assert [h["event"] for h in history][0] == "started" and history[-1]["event"] == "completed"


def _baton(engine: Engine, *args: str) -> Any:
    from web.cli import main

    env = {"BATON_DATABASE_URL": engine.settings.database_url, "BATON_HOME": str(engine.settings.home)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_prune_removes_exactly_the_finished_instances_past_the_cut_off_via_the_cli(engine):
    mix = _mix(engine)
    before = _rows(engine)

    dry = _baton(engine, "history", "prune", "--older-than", "90d", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith(f"would delete {len(mix['gone'])} instances that ended before ")
    assert "kept 1 call trees" in dry.output
    assert _rows(engine) == before

    done = _baton(engine, "history", "prune", "--older-than", "90d", "--batch-size", "2", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["instances"] == len(mix["gone"]) and report["kept"] == 1 and not report["dry_run"]
    assert report["by_definition"] == {"broken": 1, "instant": 2, "onboard": 1, "paid": 1, "review": 3}
    assert all(report["rows"][table] > 0 for table in ("activity_event", "job", "incident", "process_instance"))
    after = _rows(engine)
    assert after == _without(before, mix["gone"]), "prune deleted other rows, or left some of the pruned"
    assert sum(len(rows) for rows in before.values()) - sum(len(rows) for rows in after.values()) \
        == sum(report["rows"].values())

    _the_live_ones_carry_on(engine, mix)
    # The cancelled caller's child has ended now: that tree goes whole, with its recent child.
    # The caller that waited ended just now, so its long-finished child stays with it.
    again = _baton(engine, "history", "prune", "--older-than", "P90D", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["instances"] == 2
    assert _ids(engine) == set(mix["kept"]) - {mix["kept"][1], mix["live"]["running_child"]}


def test_prune_through_the_api_is_for_admins_and_reports_counts(engine):
    from web import create_app

    mix = _mix(engine)
    before = _rows(engine)
    client = create_app(engine.settings, engine=engine).test_client()
    use_token(client, "operator")
    assert client.post("/api/v1/history/prune", json={"older_than": "90d"}).status_code == 403
    use_token(client, "admin")
    before = _rows(engine)  # the tokens are rows too
    bad = client.post("/api/v1/history/prune", json={"older_than": "P1Y"})
    assert bad.status_code == 400 and "not years or months" in bad.json["detail"]
    assert client.post("/api/v1/history/prune", json={"older_than": "forever"}).status_code == 400

    dry = client.post("/api/v1/history/prune", json={"older_than": "2160h", "dry_run": True})
    assert dry.status_code == 200 and dry.json["instances"] == len(mix["gone"]) and dry.json["dry_run"]
    assert _rows(engine) == before

    done = client.post("/api/v1/history/prune", json={"older_than": "P90D", "dry_run": False, "batch_size": 3})
    assert done.status_code == 200, done.json
    assert done.json["instances"] == len(mix["gone"]) and done.json["rows"] == dry.json["rows"]
    assert _rows(engine) == _without(before, mix["gone"])
    assert client.get(f"/api/v1/process-instances/{mix['gone'][0]}").status_code == 404
    _the_live_ones_carry_on(engine, mix)


def test_prune_runs_while_a_worker_advances_other_instances(engine):
    """Many small batches against a second engine (another process's connections) that starts
    instances and completes their tasks the whole time: neither waits long, neither fails."""
    old = [engine.start("instant") for _ in range(150)]
    _set_back(engine, old)
    worker = Engine(engine.settings, endpoints=EndpointMap())
    done: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def advance_others() -> None:
        try:
            while not stop.is_set() or len(done) < 10:
                instance_id = worker.start("review")
                assert worker.complete_user_task(instance_id, "approve") == "completed"
                done.append(instance_id)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    thread = threading.Thread(target=advance_others)
    thread.start()
    try:
        while len(done) < 3:  # the worker is under way before the prune starts
            time.sleep(0.01)
        began, done_before = time.monotonic(), len(done)
        report = engine.prune_history("90d", batch_size=10)
        took, done_during = time.monotonic() - began, len(done) - done_before
    finally:
        stop.set()
        thread.join(60)
        worker.close()
    assert not errors, errors
    assert report["instances"] == 150 and report["batches"] == 15
    assert took < 60, f"prune took {took:.1f}s"
    assert done_during > 0, "the worker was shut out while the prune ran"
    with engine.db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).where(ProcessInstance.id.in_(old))) == 0
    for instance_id in done:
        doc = engine.get_instance(instance_id)
        assert doc["status"] == "completed" and doc["history"][0]["event"] == "started"


@pytest.mark.parametrize("text, days", [("90d", 90), ("12h", 0.5), ("30m", 30 / 1440), ("P90D", 90),
                                        ("PT12H", 0.5), ("P2W", 14), ("P1DT12H", 1.5)])
def test_durations(text: str, days: float) -> None:
    from engine.retention import parse_duration

    assert parse_duration(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["90", "P1Y", "P1M", "P", "PT", "0d", "-1d", "99999999999999999999d", "1w"])
def test_durations_refused(text: str) -> None:
    from engine.retention import parse_duration

    with pytest.raises(InvalidRequest):
        parse_duration(text)


def test_every_table_that_names_an_instance_is_pruned() -> None:
    from engine.retention import owned_tables

    names = {table.name for table, _ in owned_tables()}
    for table in Base.metadata.sorted_tables:
        if "instance_id" in table.c:
            assert table.name in names
    order = [table.name for table, _ in owned_tables()]
    assert order.index("incident") < order.index("job")


def test_utcnow_is_aware() -> None:  # the cut-off compares with stored UTC times
    assert utcnow().tzinfo is not None
