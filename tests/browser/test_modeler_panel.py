"""The modeler's properties panel edits what Baton runs; local files open and save.

``user_registration`` is opened in the modeler; in the bpmn.io properties panel (Camunda 7
dialect) the gateway's two conditions are swapped and ``create_account``'s external-task topic
is rebound to ``notify-send``; the diagram is deployed from the modeler as version 2 and run: a
rejected application now takes the ``create_account`` path, which calls ``/notify/send``, never
``/accounts/create``. The edited diagram is saved as a local file, and a local Zeebe diagram
opens with Zeebe's properties.

The panel's other Camunda 7 entries, one each, on a bare local diagram: a script task's format
and inline script, an input mapping (``camunda:inputOutput``) its script reads, a timer's
duration, a new message's name on a receive task, a generated form field on a user task; the
deployed XML carries each and an instance runs through them. Marking a compensation handler is
not a panel entry (bpmn-js marks the activity ``isForCompensation`` when it is connected to a
compensation boundary event on the canvas; the panel only edits a compensation throw event's
activity), so it is not exercised here. A Zeebe diagram's task type edited in Zeebe's panel is
deployed from the modeler and its job runs with the handler of the new type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_helpers import make_token
from tests.browser.bpmn_builder import linear_bpmn
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


def add_to(page: Any, group: str) -> None:
    """The "+" of a list group (Inputs, Form fields): a new item, opened."""
    open_group(page, group)
    page.click(f'.bio-properties-panel-group:has(.bio-properties-panel-group-header-title:text-is("{group}")) '
               '.bio-properties-panel-add-entry')


def open_local(page: Any, path: Path, dialect: str) -> None:
    page.goto("/modeler")
    page.wait_for_selector("#modeler[data-ready]")
    page.set_input_files("#modeler-open-file", str(path))
    page.wait_for_selector(f'#modeler[data-ready][data-dialect="{dialect}"]')
    page.wait_for_function("(name) => document.getElementById('modeler-source').textContent === name", arg=path.name)


def deployed_xml(live: Live, key: str) -> str:
    headers = {"Authorization": f"Bearer {make_token(live.engine, 'viewer')}"}
    answer = httpx.get(f"{live.url}/api/v1/process-definitions/{key}/xml", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


BARE_TOUR = linear_bpmn("panel_tour", "Panel tour", [
    ("startEvent", "start", "", ""), ("scriptTask", "compute", 'name="Compute"', ""),
    ("intermediateCatchEvent", "pause", 'name="Pause"', '<bpmn:timerEventDefinition id="pause_timer"/>'),
    ("receiveTask", "await_payment", 'name="Await payment"', ""), ("userTask", "approve", 'name="Approve"', ""),
    ("endEvent", "end", "", "")])


def test_script_timer_message_form_and_input_entries_are_deployed_and_run(page: Any, live: Live,
                                                                           tmp_path: Path) -> None:
    bare = tmp_path / "panel_tour.bpmn"
    bare.write_bytes(BARE_TOUR)
    open_local(page, bare, "camunda7")

    select(page, "compute")
    open_group(page, "Script")
    fill(page, "#bio-properties-panel-scriptFormat", "python")
    page.select_option("#bio-properties-panel-scriptType", "script")
    fill(page, "#bio-properties-panel-scriptValue", "total = amount * int(factor)")
    add_to(page, "Inputs")
    fill(page, "#bio-properties-panel-compute-inputParameter-0-name", "factor")
    fill(page, "#bio-properties-panel-compute-inputParameter-0-stringOrExpression", "3")
    select(page, "pause")
    open_group(page, "Timer")
    page.select_option("#bio-properties-panel-timerEventDefinitionType", "timeDuration")
    fill(page, "#bio-properties-panel-timerEventDefinitionValue", "PT0.5S")
    select(page, "await_payment")
    open_group(page, "Message")
    page.select_option("#bio-properties-panel-messageRef", "create-new")
    fill(page, "#bio-properties-panel-messageName", "payment_received")
    select(page, "approve")
    open_group(page, "Forms")
    page.select_option("#bio-properties-panel-formType", "formData")
    add_to(page, "Form fields")
    fill(page, "#bio-properties-panel-approve-formField-0-formFieldID", "approved")
    fill(page, "#bio-properties-panel-approve-formField-0-formFieldLabel", "Approved")
    page.select_option("#bio-properties-panel-approve-formField-0-formFieldType", "boolean")
    screenshot(page, "modeler-panel-entries.png")

    page.click("#modeler-deploy")
    page.wait_for_url("**/definitions/panel_tour?version=1")
    xml = deployed_xml(live, "panel_tour")
    assert 'scriptFormat="python"' in xml and "total = amount * int(factor)" in xml
    assert '<camunda:inputParameter name="factor">3</camunda:inputParameter>' in xml
    assert "PT0.5S</bpmn:timeDuration>" in xml
    assert 'name="payment_received"' in xml and 'messageRef="' in xml
    assert '<camunda:formField id="approved" label="Approved" type="boolean"' in xml

    engine = live.engine
    instance_id = engine.start("panel_tour", {"amount": 7}, business_key="tour-1")
    assert engine.get_instance(instance_id, history=False)["variables"]["total"] == 21  # the script, with its input
    # the timer fires (the drainer runs its job when due), then the receive task waits for the message
    live.wait_for(lambda: any(h["element_id"] == "pause" and h["event"] == "completed"
                              for h in engine.get_instance(instance_id)["history"]), what="the timer to fire")
    live.wait_for(lambda: engine.correlate("payment_received", business_key="tour-1")["result"] == "delivered",
                  what="the message to correlate")
    operator = {"Authorization": f"Bearer {make_token(engine, 'operator')}"}
    tasks = httpx.get(f"{live.url}/api/v1/tasks", headers=operator).json()["items"]
    [task] = [t for t in tasks if t["instance_id"] == instance_id]
    assert task["element_id"] == "approve" and [f["id"] for f in task["form"]] == ["approved"]
    refused = httpx.post(f"{live.url}/api/v1/tasks/{task['id']}/complete", headers=operator,
                         json={"variables": {"approved": "perhaps"}})
    assert refused.status_code == 422  # the generated form's field is a boolean
    done = httpx.post(f"{live.url}/api/v1/tasks/{task['id']}/complete", headers=operator,
                      json={"variables": {"approved": True}})
    assert done.status_code == 200, done.text
    live.wait_for(lambda: live.status(instance_id) == "completed", what="the tour to end")
    assert live.console_errors == []


ZEEBE_TASK = linear_bpmn("zeebe_panel", "Zeebe panel", [
    ("startEvent", "start", "", ""),
    ("serviceTask", "notify", 'name="Notify" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
     '<bpmn:extensionElements><zeebe:taskDefinition type="account-create"/></bpmn:extensionElements>'),
    ("endEvent", "end", "", "")])


def test_a_zeebe_diagram_edited_in_zeebes_panel_is_deployed_and_runs(page: Any, live: Live, tmp_path: Path) -> None:
    local = tmp_path / "zeebe_panel.bpmn"
    local.write_bytes(ZEEBE_TASK)
    open_local(page, local, "zeebe")
    select(page, "notify")
    open_group(page, "Task definition")
    assert page.input_value("#bio-properties-panel-taskDefinitionType") == "account-create"
    fill(page, "#bio-properties-panel-taskDefinitionType", "notify-send")

    page.click("#modeler-deploy")
    page.wait_for_url("**/definitions/zeebe_panel?version=1")
    assert '<zeebe:taskDefinition type="notify-send"' in deployed_xml(live, "zeebe_panel")
    instance_id = live.engine.start("zeebe_panel", {"applicant": "ada"})
    live.wait_for(lambda: live.status(instance_id) == "completed", what="the Zeebe job to run")
    calls = services_calls(live)
    assert "/notify/send" in calls and "/accounts/create" not in calls
    assert live.console_errors == []
