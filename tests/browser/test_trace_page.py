"""An ``order_hybrid`` order followed across the bus, on the trace page and through the API.

A real RabbitMQ (a vhost of its own): Baton publishes ``OrderCreated`` (a publish job run by the
page's job drainer), the demo shipping service answers ``OrderShipped``, which ``baton bus``'s
consumer (in a thread) correlates to the waiting instance; the demo notification service
publishes ``CustomerNotified``, which only the routes file's ``[watch]`` records. The trace of
the order's id then shows the instance's steps and the three events, who published each, and
which instance the shipment resumed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_helpers import make_token
from tests.browser.conftest import Live, screenshot
from tests.conftest import PROCESSES

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def bus_names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"exchange": f"trace.events.{tag}", "prefix": f"trace.{tag}."}


@pytest.fixture
def inline_engine(settings_factory, services, inline_engine_factory, rabbitmq_url: str,  # type: ignore[no-untyped-def]
                  tmp_path: Path, bus_names: dict[str, str]):
    """The browser fixtures' engine, publishing to and consuming from the bus with the demo's routes."""
    routes = (PROCESSES / "bus_routes.toml").read_text()
    prefix = bus_names["prefix"]
    routes = routes.replace('queue = "baton.bus"', f'queue = "{prefix}bus"\nwatch_queue = "{prefix}watch"')
    routes = routes.replace('dead_letter = "baton.bus.dead"', f'dead_letter = "{prefix}dead"')
    path = tmp_path / "bus_routes.toml"
    path.write_text(routes)
    engine = inline_engine_factory(settings_factory(bus_url=rabbitmq_url, bus_routes=path,
                                                    bus_exchange=bus_names["exchange"]))
    engine.deploy([("order_hybrid.bpmn", (PROCESSES / "order_hybrid.bpmn").read_bytes())])
    return engine


@pytest.fixture
def bus(live: Live, rabbitmq_url: str, bus_names: dict[str, str]) -> Iterator[None]:
    """``baton bus`` and the demo shipping and notification services, each in a thread."""
    from adapters.bus import load_routes, start_consumer_thread
    from processes.services.consumers import start_in_thread as start_demo

    engine = live.engine
    consumer, thread = start_consumer_thread(engine, load_routes(engine.settings.bus_routes))
    demo, demo_thread = start_demo(rabbitmq_url, bus_names["exchange"], queue_prefix=bus_names["prefix"])
    try:
        yield
    finally:
        for running, its_thread in ((demo, demo_thread), (consumer, thread)):
            running.stop()
            its_thread.join(10)


def test_the_trace_of_an_order_shows_its_instance_and_the_bus_events(page: Any, live: Live, bus: None) -> None:
    engine = live.engine
    instance_id = engine.start("order_hybrid", {"amount": 42, "customer": "ada"})
    live.wait_for(lambda: live.status(instance_id) == "completed", timeout=40,
                  what="order_hybrid to be shipped through the bus")
    variables = engine.get_instance(instance_id, history=False)["variables"]
    order_id = variables["order_id"]
    assert variables["shipped_order_id"] == order_id
    live.wait_for(lambda: any(e["event"] == "CustomerNotified" for e in engine.trace(order_id)["events"]),
                  timeout=45, what="the watched CustomerNotified to be recorded")

    page.goto("/")
    page.goto(f"/trace?key={order_id}")
    row = page.locator(f'#trace-instances tr.trace-instance[data-instance-id="{instance_id}"]')
    assert "order_hybrid" in row.inner_text() and "completed" in row.inner_text()
    steps = page.locator(f'.trace-activity[data-instance-id="{instance_id}"]')
    step_elements = {steps.nth(i).get_attribute("data-element-id") for i in range(steps.count())}
    assert {"charge_payment", "create_order", "announce_order_created", "await_shipment"} <= step_elements

    published = page.locator('.trace-event[data-kind="published"]')
    assert published.count() == 1
    assert "OrderCreated" in published.inner_text() and "baton" in published.locator(".trace-source").inner_text()
    assert published.locator(f'a[href$="{instance_id}"]').count() == 1  # the instance that threw it

    consumed = page.locator('.trace-event[data-kind="consumed"]')
    assert consumed.count() == 1
    assert "OrderShipped" in consumed.inner_text()
    assert consumed.locator(".trace-source").inner_text() == "shipping"
    assert consumed.locator(f'.trace-resumed a[href$="{instance_id}"]').count() == 1  # which instance it resumed

    watched = page.locator('.trace-event[data-kind="watched"]')
    assert watched.count() == 1
    assert "CustomerNotified" in watched.inner_text()
    assert watched.locator(".trace-source").inner_text() == "notification"

    # one timeline: the events sit between the instance's steps, in time order
    rows = page.locator(".trace-timeline > li")
    order = [rows.nth(i).get_attribute("data-kind") or rows.nth(i).get_attribute("data-element-id")
             for i in range(rows.count())]
    assert order.index("create_order") < order.index("published") < order.index("consumed")
    assert order.index("await_shipment") < order.index("consumed")  # it waited, then the event came
    screenshot(page, "trace-order-hybrid.png")
    assert live.console_errors == []

    # the same through the API, for a viewer; a key too long is refused with the reason
    headers = {"Authorization": f"Bearer {make_token(engine, 'viewer')}"}
    doc = httpx.get(f"{live.url}/api/v1/trace", params={"key": order_id}, headers=headers).json()
    assert [i["id"] for i in doc["instances"]] == [instance_id]
    kinds = {e["kind"]: e for e in doc["events"]}
    assert set(kinds) == {"published", "consumed", "watched"}
    assert kinds["consumed"]["instance_id"] == instance_id and kinds["consumed"]["outcome"] == "delivered"
    assert kinds["published"]["correlation"] == {"order_id": order_id}
    refused = httpx.get(f"{live.url}/api/v1/trace", params={"key": "x" * 256}, headers=headers)
    assert refused.status_code == 400

    # and from the machine: baton trace
    from tests.conftest import baton_cli

    done = baton_cli("trace", order_id, env={"BATON_HOME": str(engine.settings.home),
                                             "BATON_DATABASE_URL": engine.settings.database_url})
    assert done.returncode == 0, done.stderr
    assert f"instance {instance_id} order_hybrid v1 completed" in done.stdout
    assert "bus consumed OrderShipped from shipping -> delivered " + instance_id in done.stdout
    assert "bus watched CustomerNotified from notification" in done.stdout
