"""Forms deployed beside a diagram: a Camunda Form (Camunda 8) and a SpiffArena JSON Schema form.

The form files are real ones from ../shared/bpmn (camunda-8-tutorials' escalate-to-human.form,
spiff-arena's simple_form.json and simple_form_ui.json); the diagrams around them are written
here as the two modellers write them. Through the engine's API and the task page:
- the task's form is the file's fields, prefilled from the task's variables (a Zeebe input);
- a submission is validated on the server against the form's schema, field by field, and a
  refused one changes nothing;
- SpiffArena instructions are Markdown with {{ variables }}, rendered escaped on the page;
- a form file missing from the deployment is refused naming the task.
"""

from __future__ import annotations

import pytest

from engine import DeploymentError, FormInvalid
from tests.auth_helpers import csrf_of, login
from tests.conftest import IN_CI, SHARED

TUTORIAL = SHARED / "bpmn/camunda8/camunda__camunda-8-tutorials/solutions/bank-ai-loan-approval"
ONBOARDING = (SHARED / "bpmn/spiffarena/sartography__spiff-arena/spiffworkflow-backend/tests/data"
              / "onboarding_with_user_task")
ESCALATE = TUTORIAL / "escalate-to-human.form"

if not ESCALATE.is_file():
    if IN_CI:
        pytest.fail(f"the reference corpus {TUTORIAL} is missing; CI needs it", pytrace=False)
    pytest.skip("the reference corpus is missing", allow_module_level=True)

ZEEBE_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="escalation" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="escalate" name="Escalate to a human">
      <bpmn:extensionElements>
        <zeebe:userTask/>
        <zeebe:formDefinition formId="escalate-to-human-0gkm2u8"/>
        <zeebe:assignmentDefinition candidateGroups="support"/>
        <zeebe:ioMapping>
          <zeebe:input source="=request.text" target="requestDetails"/>
          <zeebe:output source="=responseToRequest" target="reply"/>
          <zeebe:output source="=knowledgeBaseDecision = &quot;yes&quot;" target="learn"/>
        </zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="escalate"/>
    <bpmn:sequenceFlow id="f2" sourceRef="escalate" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

SPIFF_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="onboarding" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="Activity_SimpleForm" name="Simple Form">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>## Welcome, {{ guest }}
Your desk is **{{ desk }}**.</spiffworkflow:instructionsForEndUser>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="simple_form.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="simple_form_ui.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Activity_SimpleForm"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Activity_SimpleForm" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def spiff_files() -> list[tuple[str, bytes]]:
    return [("onboarding.bpmn", SPIFF_TASK), ("simple_form.json", (ONBOARDING / "simple_form.json").read_bytes()),
            ("simple_form_ui.json", (ONBOARDING / "simple_form_ui.json").read_bytes())]


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    return bare_engine


def test_a_camunda_form_is_the_tasks_form_prefilled_and_validated(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("escalation.bpmn", ZEEBE_TASK), (ESCALATE.name, ESCALATE.read_bytes())])
    instance_id = engine.start("escalation", {"request": {"text": "My card was swallowed"}})
    [task] = engine.list_user_tasks(groups=["support"])
    fields = {f["id"]: f for f in task["form"] if f["type"] != "text"}
    assert list(fields) == ["requestDetails", "taking_full_control", "responseToRequest", "knowledgeBaseDecision"]
    assert fields["requestDetails"]["default"] == "My card was swallowed"  # the Zeebe input, prefilled
    assert fields["knowledgeBaseDecision"]["options"] == [{"id": "yes", "name": "Yes"}, {"id": "no", "name": "No"}]
    assert any(f["type"] == "text" and f["html"].strip() for f in task["form"])

    with pytest.raises(FormInvalid) as caught:
        engine.complete_user_task_by_id(task["id"], {"requestDetails": "x", "knowledgeBaseDecision": "maybe"})
    assert caught.value.errors == {"knowledgeBaseDecision": "must be one of yes, no",
                                   "responseToRequest": "is required"}  # every field to change, at once
    with pytest.raises(FormInvalid) as caught:
        engine.complete_user_task_by_id(task["id"], {"requestDetails": "x", "knowledgeBaseDecision": "yes"})
    assert caught.value.errors == {"responseToRequest": "is required"}
    assert engine.get_instance(instance_id)["status"] != "completed"  # a refused submission changes nothing

    engine.complete_user_task_by_id(task["id"], {"requestDetails": "x", "taking_full_control": "true",
                                                 "responseToRequest": "A new card is on its way",
                                                 "knowledgeBaseDecision": "yes"})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    # Zeebe output mappings: only the outputs reach the process, not the form's own fields
    assert doc["variables"] == {"request": {"text": "My card was swallowed"}, "reply": "A new card is on its way",
                                "learn": True}


def test_a_spiff_json_schema_form_with_instructions_on_the_task_page(engine):  # type: ignore[no-untyped-def]
    from web import create_app

    engine.deploy(spiff_files())
    instance_id = engine.start("onboarding", {"guest": "<script>alert(1)</script>Ada", "desk": "4B"})
    [task] = engine.list_user_tasks(instance_id=instance_id)
    client = create_app(engine.settings, engine=engine).test_client()
    login(client, "operator")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    token = csrf_of(page)
    assert "<h2>Welcome, &lt;script&gt;alert(1)&lt;/script&gt;Ada</h2>" in page  # Markdown, the variable escaped
    assert "<strong>4B</strong>" in page and "<script>alert(1)" not in page
    assert 'name="v.name"' in page and 'value="World"' in page  # the schema's default
    assert "(Your department)" in page  # the UI schema's description
    assert all(f'<option value="{d}"' in page for d in ("Finance", "HR", "IT"))

    refused = client.post(f"/tasks/{task['id']}", data={"v.name": "", "v.department": "Sales",
                                                         "csrf_token": token})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="error-name"' in body and 'id="error-department"' in body
    done = client.post(f"/tasks/{task['id']}", data={"v.name": "Ada", "v.department": "IT",
                                                      "csrf_token": token})
    assert done.status_code == 302
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed"
    assert doc["variables"]["name"] == "Ada" and doc["variables"]["department"] == "IT"
    assert "instructions" not in doc["variables"]


def test_a_form_file_missing_from_the_deployment_is_refused_naming_the_task(engine):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy(spiff_files()[:2])
    [problem] = caught.value.problems
    assert problem.element_id == "Activity_SimpleForm" and "'simple_form_ui.json'" in problem.reason
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("escalation.bpmn", ZEEBE_TASK)])
    [problem] = caught.value.problems
    assert problem.element_id == "escalate" and "formId 'escalate-to-human-0gkm2u8'" in problem.reason


def test_a_json_schema_form_posted_as_json_is_judged_against_the_deployed_schema(engine):  # type: ignore[no-untyped-def]
    """What the browser's form (web/static/schema_form.js) is drawn from and posts; the browser
    itself: tests/browser/test_schema_form.py."""
    import json
    import re

    from web import create_app

    def config(html: str) -> dict:  # type: ignore[type-arg]
        found = re.search(r'<script type="application/json" id="schema-form-config">(.*?)</script>', html, re.S)
        assert found, "no schema form on the page"
        return json.loads(found.group(1))

    engine.deploy(spiff_files())
    instance_id = engine.start("onboarding", {"guest": "Ada", "desk": "4B"})
    [task] = engine.list_user_tasks(instance_id=instance_id)
    client = create_app(engine.settings, engine=engine).test_client()
    login(client, "operator")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    drawn = config(page)
    assert drawn["schema"]["required"] == ["name"] and drawn["ui"]["ui:order"] == ["name", "department"]
    assert drawn["values"] == {"name": "World"} and drawn["errors"] == {}
    assert drawn["orders"] == {"root": ["name", "department"]}  # the file's order, which jsonb would not keep

    sent = {"name": "", "department": "Sales"}
    refused = client.post(f"/tasks/{task['id']}", data={"json": json.dumps(sent), "csrf_token": csrf_of(page)})
    assert refused.status_code == 422
    again = config(refused.get_data(as_text=True))
    assert again["values"] == sent  # what was typed, kept
    assert set(again["errors"]) == {"name", "department"}
    assert engine.get_instance(instance_id)["status"] != "completed"

    done = client.post(f"/tasks/{task['id']}", data={"json": json.dumps({"name": "Ada", "department": "IT"}),
                                                     "csrf_token": csrf_of(page)})
    assert done.status_code == 302
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "completed" and doc["variables"]["department"] == "IT"
