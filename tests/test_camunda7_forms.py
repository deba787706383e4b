"""Camunda 7's form references, as Camunda 7 reads them (engine/forms/_camunda7.py):
``camunda:formKey="camunda-forms:deployment:NAME.form"`` and ``camunda:formRef`` show the Camunda
Form deployed with the diagram; ``embedded:deployment:NAME.html`` shows the HTML form's
``cam-variable-name`` fields as a generated form (the HTML itself is never served); forms served
by a Java web application (``app:``) and external keys are refused naming the element. A start
event's form is the form to start an instance with. Completion validates the required fields.
"""

from __future__ import annotations

import json

import pytest

from engine import DeploymentError, FormInvalid
from tests.auth_helpers import csrf_of, login

CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def diagram(start: str = "", task: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {CAMUNDA} id="d" targetNamespace="t">
  <bpmn:process id="invoice" isExecutable="true">
    <bpmn:startEvent id="start" {start}/>
    <bpmn:userTask id="approve" name="Approve invoice" {task}/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


APPROVE_FORM = json.dumps({
    "id": "approve-form", "type": "default", "components": [
        {"type": "textfield", "key": "comment", "label": "Comment", "validate": {"required": True}},
        {"type": "checkbox", "key": "approved", "label": "Approved"}]}).encode()

START_HTML = b"""<form role="form" name="form">
  <div class="form-group">
    <label for="creditor">Creditor</label>
    <input required cam-variable-name="creditor" cam-variable-type="String" id="creditor" class="form-control"/>
  </div>
  <label>Amount <input cam-variable-name="amount" cam-variable-type="Double" min="0" required/></label>
  <select cam-variable-name="category" cam-variable-type="String">
    <option value="travel">Travel</option><option value="office">Office supplies</option>
  </select>
  <input name="not-submitted" placeholder="Camunda submits cam-variable fields only"/>
  <p onclick="alert(1)">Fill in the invoice <b>carefully</b>.</p>
</form>"""


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    return bare_engine


def test_a_camunda_form_by_deployment_key_and_by_form_ref_is_the_tasks_form(engine):  # type: ignore[no-untyped-def]
    for attrs in ('camunda:formKey="camunda-forms:deployment:forms/approve.form"',
                  'camunda:formRef="approve-form" camunda:formRefBinding="deployment"'):
        engine.deploy([("invoice.bpmn", diagram(task=attrs)), ("approve.form", APPROVE_FORM)])
        instance_id = engine.start("invoice", {"comment": "prefilled"})
        [task] = engine.list_user_tasks(instance_id=instance_id)
        fields = {f["id"]: f for f in task["form"]}
        assert list(fields) == ["comment", "approved"] and fields["comment"]["default"] == "prefilled"
        with pytest.raises(FormInvalid) as caught:
            engine.complete_user_task_by_id(task["id"], {"comment": "", "approved": "true"})
        assert caught.value.errors == {"comment": "is required"}
        engine.complete_user_task_by_id(task["id"], {"comment": "ok", "approved": "true"})
        doc = engine.get_instance(instance_id)
        assert doc["status"] == "completed" and doc["variables"]["approved"] is True


def test_an_embedded_html_form_becomes_a_generated_start_form_never_served(engine):  # type: ignore[no-untyped-def]
    from web import create_app

    engine.deploy([("invoice.bpmn", diagram(start='camunda:formKey="embedded:deployment:start.html"')),
                   ("start.html", START_HTML)])
    form = engine.start_form("invoice")
    assert form["key"] == "embedded:deployment:start.html"
    fields = {f["id"]: f for f in form["fields"]}
    assert list(fields) == ["creditor", "amount", "category"]
    assert fields["creditor"]["label"] == "Creditor" and fields["amount"]["label"] == "Amount"
    assert fields["amount"]["type"] == "number" and fields["amount"]["validation"] == {"required": None, "min": 0}
    assert fields["category"]["options"] == [{"id": "travel", "name": "Travel"},
                                             {"id": "office", "name": "Office supplies"}]
    with pytest.raises(FormInvalid) as caught:
        engine.validate_start_form("invoice", {"amount": "-3"})
    assert set(caught.value.errors) == {"creditor", "amount"}
    assert engine.validate_start_form("invoice", {"creditor": "ACME", "amount": "12.5"}) == {
        "creditor": "ACME", "amount": 12.5}

    client = create_app(engine.settings, engine=engine).test_client()
    login(client, "operator")
    page = client.get("/definitions/invoice").get_data(as_text=True)
    assert 'name="v.creditor"' in page and 'name="v.amount"' in page and "onclick" not in page
    refused = client.post("/definitions/invoice/start", data={"csrf_token": csrf_of(page), "v.amount": "x"})
    assert refused.status_code == 422 and 'id="error-creditor"' in refused.get_data(as_text=True)
    started = client.post("/definitions/invoice/start", data={"csrf_token": csrf_of(page), "v.creditor": "ACME",
                                                              "v.amount": "7", "v.category": "travel"})
    assert started.status_code == 302
    [instance] = engine.find_instances(definition="invoice")["items"]
    assert engine.get_instance(instance["id"])["variables"] == {"creditor": "ACME", "amount": 7, "category": "travel"}


@pytest.mark.parametrize(("attrs", "files", "reason"), [
    ('camunda:formKey="camunda-forms:app:forms/approve.form"', [],
     "names a form served by the process application, a Java web application Baton does not run; deploy the "
     "form file with the diagram and name it camunda-forms:deployment:NAME.form"),
    ('camunda:formKey="embedded:app:forms/approve.html"', [], "a Java web application Baton does not run"),
    ('camunda:formKey="app:approve.jsf"', [], "a Java web application Baton does not run"),
    ('camunda:formKey="approveInvoice"', [], "is an external form (a link to a custom application)"),
    ('camunda:formKey="camunda-forms:deployment:missing.form"', [], "no file 'missing.form' is in this deployment"),
    ('camunda:formKey="embedded:deployment:start.html"',
     [("start.html", b"<form><script>x()</script><input cam-variable-name='a'/></form>")],
     "start.html cannot be shown: the form runs JavaScript"),
    ('camunda:formKey="embedded:deployment:start.html"',
     [("start.html", b"<form><input cam-variable-name='a' cam-variable-type='Json'/></form>")],
     "cam-variable-type 'Json'"),
    ('camunda:formRef="approve-form" camunda:formRefBinding="version" camunda:formRefVersion="2"',
     [("approve.form", APPROVE_FORM)], "Baton keeps a form with the diagram that uses it"),
    ('camunda:formRef="other-form"', [("approve.form", APPROVE_FORM)], "no Camunda Form with that id"),
])
def test_forms_baton_cannot_show_are_refused_naming_the_task(engine, attrs, files, reason):  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError) as caught:
        engine.deploy([("invoice.bpmn", diagram(task=attrs)), *files])
    [problem] = caught.value.problems
    assert problem.element_id == "approve" and reason in problem.reason


def test_html_a_diagram_does_not_name_is_not_refused(engine):  # type: ignore[no-untyped-def]
    # an HTML file no formKey names is never read as a form (nor served): the diagram deploys
    made = engine.deploy([("invoice.bpmn", diagram()), ("readme.html", b"<p><script>x()</script></p>")])
    assert [d.key for d in made] == ["invoice"]


def test_engine_rest_reports_the_form_key_of_a_task_and_of_the_start_event(engine):  # type: ignore[no-untyped-def]
    from web import create_app

    engine.deploy([("invoice.bpmn", diagram(start='camunda:formKey="embedded:deployment:start.html"',
                                            task='camunda:formRef="approve-form"')),
                   ("start.html", START_HTML), ("approve.form", APPROVE_FORM)])
    _, token = engine.create_token("viewer", "rest")
    client = create_app(engine.settings, engine=engine).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    start = client.get("/engine-rest/process-definition/key/invoice/startForm")
    assert start.json == {"key": "embedded:deployment:start.html", "camundaFormRef": None, "contextPath": None}
    instance_id = engine.start("invoice", {})
    [task] = engine.list_user_tasks(instance_id=instance_id)
    assert client.get(f"/engine-rest/task/{task['id']}/form").json == {
        "key": None, "contextPath": None,
        "camundaFormRef": {"key": "approve-form", "binding": "latest", "version": None}}
    assert client.get("/engine-rest/task/nope/form").status_code == 404


def test_the_api_answers_the_start_form_and_validates_a_start_against_it(engine):  # type: ignore[no-untyped-def]
    from tests.auth_helpers import use_token
    from web import create_app

    engine.deploy([("invoice.bpmn", diagram(start='camunda:formKey="embedded:deployment:start.html"')),
                   ("start.html", START_HTML)])
    client = create_app(engine.settings, engine=engine).test_client()
    use_token(client, "operator")
    answer = client.get("/api/v1/process-definitions/invoice/start-form")
    assert answer.status_code == 200 and (answer.json["key"], answer.json["version"]) == ("invoice", 1)
    assert answer.json["form"]["key"] == "embedded:deployment:start.html"
    assert [f["id"] for f in answer.json["form"]["fields"]] == ["creditor", "amount", "category"]
    refused = client.post("/api/v1/process-definitions/invoice/start", json={"variables": {"amount": -3}})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"creditor", "amount"}
    started = client.post("/api/v1/process-definitions/invoice/start",
                          json={"variables": {"creditor": "ACME", "amount": "7"}})
    assert started.status_code == 201 and started.json["variables"] == {"creditor": "ACME", "amount": 7}

    engine.deploy([("invoice.bpmn", diagram())])  # version 2 has no start form: a start takes what it is given
    assert client.get("/api/v1/process-definitions/invoice/start-form").json["form"] is None
    assert client.get("/api/v1/process-definitions/invoice/start-form?version=1").json["form"] is not None
    assert client.get("/api/v1/process-definitions/invoice/start-form?version=3").status_code == 404
    unchecked = client.post("/api/v1/process-definitions/invoice/start", json={"variables": {"amount": -3}})
    assert unchecked.status_code == 201
