"""Dashboard, lists and modeler through Chromium: live updates, filters, banner, model-deploy."""

from __future__ import annotations

import time

from tests.auth_helpers import login
from tests.browser.conftest import markers, screenshot
from tests.browser.test_modeler_panel import fill, open_group, select
from tests.browser.test_operator_ui import deploy_bundled


def test_dashboard_follows_new_instances_and_warns_when_no_worker_takes_jobs(page, live):
    deploy_bundled(live.engine)
    live.engine.start("order_fulfillment", {"amount": 5}, business_key="dash-1")
    live.wait_for(lambda: live.engine.monitor_overview()["by_status"].get("completed") == 1, what="a completion")
    live.fail_service("/inventory/reserve", "http500", count=-1)
    live.engine.start("order_fulfillment", {"amount": 6}, business_key="dash-2")
    live.wait_for(lambda: live.engine.monitor_overview()["open_incidents"] == 1, what="an incident")
    page.goto("/")
    assert page.query_selector(".banner") is None
    assert page.inner_text(".tile-incident .tile-n") == "1"

    # The worker stops: a new instance's job waits; the open dashboard shows it without a reload.
    live.drainer.pause()
    live.engine.start("user_registration", {"email": "b@example.org"})
    live.engine.start("order_fulfillment", {"amount": 7}, business_key="dash-3")
    # Polled from here: a string predicate would be eval'd in the page, which the CSP forbids.
    live.wait_for(lambda: page.inner_text(".tile-running .tile-n").strip() == "1", what="the running tile at 1")
    time.sleep(1.2)  # past BATON_UI_OVERDUE_SECONDS
    page.reload()
    assert "no worker seems to be taking jobs" in page.inner_text(".banner")
    screenshot(page, "dashboard.png")
    live.drainer.resume()
    live.reset_services()
    assert live.console_errors == []


def test_instances_list_filters_pages_and_follows_changes(page, live):
    deploy_bundled(live.engine)
    for n in range(7):
        live.engine.start("order_fulfillment", {"amount": n, "tier": "gold" if n % 2 else "silver"},
                          business_key=f"list-{n}")
    live.wait_for(lambda: live.engine.find_instances(status="completed")["total"] == 7, what="7 completions")
    page.goto("/instances?limit=25")
    assert page.inner_text("#instance-total") == "7"

    page.fill("input[name=variable]", "tier")
    page.fill("input[name=value]", "gold")
    page.click(".filters button[type=submit]")
    assert page.inner_text("#instance-total") == "3"
    page.fill("input[name=value]", "")
    page.fill("input[name=variable]", "amount")
    page.fill("input[name=value]", "4")
    page.click(".filters button[type=submit]")
    rows = page.query_selector_all("tr[data-instance-id]")
    assert len(rows) == 1 and "list-4" in rows[0].inner_text()

    # Keyset pages of 25 would hold everything: use the API-sized page through the URL instead.
    page.goto("/instances?limit=25&sort=started&order=asc")
    first = [r.get_attribute("data-instance-id") for r in page.query_selector_all("tr[data-instance-id]")]
    assert len(first) == 7
    page.goto("/instances?limit=25")
    assert [r.get_attribute("data-instance-id") for r in page.query_selector_all("tr[data-instance-id]")] == first[::-1]

    # A new instance shows up in the open list without a reload.
    page.evaluate("window.__sameDocument = true")
    new_id = live.engine.start("user_registration", {"email": "c@example.org"}, business_key="list-new")
    page.wait_for_selector(f'tr[data-instance-id="{new_id}"]', timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#instance-total") == "8"
    screenshot(page, "instances.png")
    assert live.console_errors == []


def test_model_in_the_modeler_deploy_and_land_on_the_definition_page(page, live):
    deploy_bundled(live.engine)
    page.goto("/modeler?key=order_fulfillment")
    page.wait_for_selector("#modeler[data-ready]")
    assert page.query_selector(".bjs-powered-by") is not None  # the bpmn.io watermark stays
    screenshot(page, "modeler.png")

    # Rename the process (a new version) in the properties panel, then deploy.
    select(page, "order_fulfillment")
    open_group(page, "General")
    fill(page, "#bio-properties-panel-name", "Order fulfillment, renamed")
    page.click("#modeler-deploy")
    page.wait_for_url("**/definitions/order_fulfillment?version=2")
    assert "deployed order_fulfillment v2" in page.inner_text(".flash-ok")

    # A blank diagram with a service task bound to nothing is refused, on the element.
    page.goto("/modeler")
    page.wait_for_selector("#modeler[data-ready]")
    page.evaluate("""() => {
        const m = window.batonModeler;
        const shape = m.get('elementFactory').createShape({ type: 'bpmn:ServiceTask' });
        const root = m.get('canvas').getRootElement();
        const start = m.get('elementRegistry').get('start');
        const task = m.get('modeling').createShape(shape, { x: 340, y: 178 }, root);
        m.get('modeling').connect(start, task);
        m.get('modeling').updateProperties(task, { id: 'call_nowhere', name: 'Call nowhere' });
    }""")
    page.click("#modeler-deploy")
    row = page.wait_for_selector('#refusals tr.refusal[data-element-id="call_nowhere"]')
    assert "no endpoint binding" in row.inner_text() and "camunda:topic" in row.inner_text()
    assert "baton-failed" in markers(page, "call_nowhere")
    # the reason is drawn on the canvas above the element, clear of it and of its label
    overlay = page.locator('.djs-overlay-baton .baton-refusal').bounding_box()
    shape = page.locator('.djs-element[data-element-id="call_nowhere"] .djs-visual').bounding_box()
    assert overlay is not None and shape is not None and overlay["y"] + overlay["height"] <= shape["y"] + 1
    assert "new_process" not in [d["key"] for d in live.engine.list_definitions()]
    # bound to a topic in the properties panel, it deploys
    select(page, "call_nowhere")
    open_group(page, "Implementation")
    page.select_option("#bio-properties-panel-implementationType", "external")
    fill(page, "#bio-properties-panel-externalTopic", "payment-charge")
    page.click("#modeler-deploy")
    page.wait_for_url("**/definitions/new_process?version=1")
    # The refusal is answered 422, which Chromium logs as a failed resource: that one is expected.
    assert [e for e in live.console_errors if "status of 422" not in e] == []


def test_banner_says_so_when_the_broker_does_not_answer(settings_factory):
    """No browser needed: the banner is server-rendered on every page."""
    import migrations
    from adapters.broker import CeleryNotifier
    from adapters.tasks import create_celery
    from engine import Engine
    from web.app import create_app

    settings = settings_factory(broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    migrations.upgrade(settings.database_url)
    engine = Engine(settings, notifier=CeleryNotifier(create_celery(settings)))
    client = create_app(settings, engine=engine).test_client()
    login(client, "viewer")
    assert b'class="banner"' not in client.get("/").data  # the first look starts the probe
    probe = client.application.extensions["baton_broker_probe"]
    deadline = time.monotonic() + 10
    while probe.result is None and time.monotonic() < deadline:
        time.sleep(0.05)
    page = client.get("/instances").data.decode()
    assert "the broker does not answer" in page
    engine.close()
