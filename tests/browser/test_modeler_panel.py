"""The modeler's properties panel edits what Baton runs; local files open and save.

``user_registration`` is opened in the modeler; in the bpmn.io properties panel (Camunda 7
dialect) the gateway's two conditions are swapped and ``create_account``'s external-task topic
is rebound to ``notify-send``; the diagram is deployed from the modeler as version 2 and run: a
rejected application now takes the ``create_account`` path, which calls ``/notify/send``, never
``/accounts/create``. The edited diagram is saved as a local file, and a local Zeebe diagram
opens with Zeebe's properties.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Live, screenshot
from tests.conftest import PROCESSES, ROOT

pytestmark = pytest.mark.timeout(90)

ZEEBE_DIAGRAM = ROOT.parent / "shared" / "bpmn" / "camunda8" / "camunda__camunda-8-js-sdk" / "src" / "__tests__" / \
    "testdata" / "Signal.bpmn"


def select(page: Any, element_id: str) -> None:
    page.evaluate("(id) => { const m = window.batonModeler;"
                  " m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)
    page.wait_for_function("(id) => (document.getElementById('bio-properties-panel-id') || {}).value === id",
                           arg=element_id)


def open_group(page: Any, title: str) -> None:
    """Open the panel's group with this title (groups start closed)."""
    header = page.locator(".bio-properties-panel-group-header", has=page.locator(
        f'.bio-properties-panel-group-header-title:text-is("{title}")'))
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def fill(page: Any, selector: str, value: str) -> None:
    field = page.locator(selector)
    field.fill(value)
    field.press("Tab")  # the panel commits on input; Tab leaves the field as a person would


def services_calls(live: Live) -> list[str]:
    return [c["path"] for c in httpx.get(f"{live.services}/_control/calls").json()["calls"]]


def test_conditions_and_a_topic_edited_in_the_panel_are_deployed_and_run(page: Any, live: Live,
                                                                          tmp_path: Path) -> None:
    engine = live.engine
    engine.deploy([("user_registration.bpmn", (PROCESSES / "user_registration.bpmn").read_bytes())])
    page.goto("/modeler?key=user_registration")
    page.wait_for_selector("#modeler[data-ready]")
    assert page.get_attribute("#modeler", "data-dialect") == "camunda7"

    select(page, "Flow_approved")
    open_group(page, "Condition")
    fill(page, "#bio-properties-panel-conditionExpression", "approved == False")
    select(page, "Flow_rejected")
    open_group(page, "Condition")
    fill(page, "#bio-properties-panel-conditionExpression", "approved == True")
    select(page, "create_account")
    open_group(page, "Implementation")
    assert page.input_value("#bio-properties-panel-externalTopic") == "account-create"
    fill(page, "#bio-properties-panel-externalTopic", "notify-send")
    screenshot(page, "modeler-properties-panel.png")

    # saved as a local file: the edits are in it
    with page.expect_download() as download:
        page.click("#modeler-save")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "user_registration.bpmn"
    text = saved.read_text()
    assert "approved == False" in text and 'camunda:topic="notify-send"' in text

    page.click("#modeler-deploy")
    page.wait_for_url("**/definitions/user_registration?version=2")

    instance_id = engine.start("user_registration", {"applicant": "ada"})
    engine.complete_user_task(instance_id, "review_application", {"approved": False})
    live.wait_for(lambda: live.status(instance_id) == "completed", what="the edited diagram to run to its end")
    doc = engine.get_instance(instance_id)
    assert doc["definition"]["version"] == 2
    done = [h["element_id"] for h in doc["history"] if h["event"] == "completed"]
    assert "create_account" in done and "send_welcome" in done and "record_rejection" not in done
    calls = services_calls(live)
    assert calls.count("/notify/send") == 2 and "/accounts/create" not in calls
    assert live.console_errors == []


def test_a_local_zeebe_file_opens_with_zeebe_properties(page: Any, live: Live) -> None:
    page.goto("/modeler")
    page.wait_for_selector("#modeler[data-ready]")
    assert page.get_attribute("#modeler", "data-dialect") == "camunda7"
    page.set_input_files("#modeler-open-file", str(ZEEBE_DIAGRAM))
    page.wait_for_selector('#modeler[data-ready][data-dialect="zeebe"]')
    assert page.inner_text("#modeler-source") == ZEEBE_DIAGRAM.name
    assert "Zeebe" in page.inner_text("#modeler-dialect")
    assert live.console_errors == []
