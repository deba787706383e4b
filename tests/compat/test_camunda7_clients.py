"""Camunda 7's own clients against a real Baton: the Python and JavaScript external-task clients
(workers written with their public API, unmodified) and Camunda Modeler's Deploy / Start instance.

Every test runs ``processes/camunda7_invoice.bpmn`` (drawn as Camunda Modeler 5 writes it for
Camunda 7) on ``baton serve`` + ``baton worker`` (``conftest.py``). Each test has its own case
(business key and process variable ``case``) and its workers take only that case's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import httpx

from tests.auth_helpers import csrf_of
from tests.compat.conftest import ADMIN, DIAGRAM, PASSWORD, PYTHON_CLIENT, Baton, read_log, wait_log
from tests.conftest import PROCESSES

ENDED = ("completed", "compensated", "cancelled")


def case() -> str:
    return f"case-{uuid.uuid4().hex[:10]}"


def path(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["element_id"], h["event"]) for h in doc["history"] if h["element_id"] != "process"]


def test_modeler_deploy_and_start_instance_as_camunda_modeler_5_sends_them(workers: Baton) -> None:
    """Connection check, version probe, multipart deploy (with a form attachment), the web app
    links, then Start instance: the Modeler's requests, headers and bodies (CamundaAPI.js)."""
    auth = httpx.BasicAuth(ADMIN, PASSWORD)
    headers = {"accept": "application/json"}
    rest = workers.engine_rest
    with httpx.Client(timeout=30, trust_env=False) as http:
        check = http.get(f"{rest}/deployment?maxResults=0", auth=auth, headers=headers)
        assert check.status_code == 200 and check.json() == []  # maxResults=0: an empty page, the server answers
        version = http.get(f"{rest}/version", auth=auth, headers=headers)
        assert version.status_code == 200 and version.json()["version"].startswith("7.")

        form = {"deployment-name": "camunda7_invoice", "deployment-source": "Camunda Modeler",
                "enable-duplicate-filtering": "true"}
        files = [("camunda7_invoice.bpmn", ("camunda7_invoice.bpmn", DIAGRAM.read_bytes(), "text/xml")),
                 ("invoice.form", ("invoice.form", b'{"components": [], "type": "default"}',
                                   "application/octet-stream"))]
        deployed = http.post(f"{rest}/deployment/create", data=form, files=files, auth=auth, headers=headers)
        assert deployed.status_code == 200, deployed.text
        body = deployed.json()
        [(definition_id, definition)] = body["deployedProcessDefinitions"].items()
        assert definition["key"] == "camunda7_invoice" and definition["resource"] == "camunda7_invoice.bpmn"
        assert body["id"] and body["source"] == "Camunda Modeler" and definition["deploymentId"] == body["id"]

        # the Modeler asks the server's root where Cockpit is, without credentials
        links = http.get(f"{workers.base}/.well-known/camunda-automation-platform/webapps", headers=headers)
        assert links.status_code == 200 and links.json()["cockpitUrl"].startswith(workers.base)

        # deployed again unchanged (duplicate filtering): the definition is still named, so Start works
        again = http.post(f"{rest}/deployment/create", data=form, files=files, auth=auth, headers=headers)
        assert list(again.json()["deployedProcessDefinitions"]) == [definition_id]

        started = http.post(f"{rest}/process-definition/{definition_id}/start", content=b"{}", auth=auth,
                            headers={**headers, "content-type": "application/json"})
        assert started.status_code == 200, started.text
        instance = started.json()
        assert instance["definitionId"] == definition_id and instance["ended"] is False

        # the user watches it in Baton's UI: it waits at "Check invoice" for a worker
        page = http.get(f"{workers.base}/login")
        signed_in = http.post(f"{workers.base}/login", data={"username": ADMIN, "password": PASSWORD,
                                                            "csrf_token": csrf_of(page.text)})
        assert signed_in.status_code == 302
        shown = http.get(f"{workers.base}/instances/{instance['id']}")
        assert shown.status_code == 200 and "Check invoice" in shown.text
    doc = workers.instance(instance["id"])
    assert doc["status"] == "waiting" and ("Activity_check_invoice", "entered") in path(doc)


def test_a_refused_deployment_lists_each_problem_with_its_file_line_and_element(workers: Baton) -> None:
    broken = DIAGRAM.read_bytes().replace(b'camunda:topic="invoice-check"', b'camunda:class="com.acme.Check"')
    broken = broken.replace(b'camunda:type="external" camunda:class', b"camunda:class")
    with workers.http(ADMIN) as http:
        refused = http.post("/deployment/create", data={"deployment-name": "broken"},
                            files=[("broken.bpmn", ("broken.bpmn", broken, "text/xml"))])
    assert refused.status_code == 400
    body = refused.json()
    assert body["type"] == "ParseException"
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert "broken.bpmn:8: Activity_check_invoice: " in body["message"]
    assert body["details"]["broken.bpmn"]["errors"][0]["mainElementId"] == "Activity_check_invoice"


def test_python_client_worker_from_processes_runs_the_invoice_diagram(workers: Baton) -> None:
    """processes/camunda7_worker.py (the README's example) on all three paths of the diagram."""
    mine = case()
    approved = workers.start(mine, amount=120, invoiceNumber="INV-1")
    declined = workers.start(mine, amount=5000, invoiceNumber="INV-2")
    invalid = workers.start(mine, amount=80)
    env = dict(os.environ, PYTHONPATH=str(PYTHON_CLIENT), BATON_TOKEN=workers.token,
               CAMUNDA_URL=workers.engine_rest, WORKER_ID="invoice-worker-1")
    with open(workers.logs / "camunda7_worker.out", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "processes.camunda7_worker"], cwd=PROCESSES.parent, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    workers.workers.append(proc)

    paid = workers.wait(approved, lambda d: d["status"] in ENDED, what="its end")
    assert paid["status"] == "completed" and ("Event_invoice_paid", "completed") in path(paid)
    assert paid["variables"]["paymentReference"] == "PAY-INV-1"
    assert paid["variables"]["checkedBy"] == "invoice-worker-1"

    # ${not approved}, then the PT1S timer (a Baton job), then the notify task
    notified = workers.wait(declined, lambda d: d["status"] in ENDED, what="its end")
    assert ("Event_wait_before_notice", "completed") in path(notified)
    assert ("Event_invoice_declined", "completed") in path(notified) and notified["variables"]["notified"] is True
    # the notify task's input parameter (JUEL in text) reached the worker, and stayed local to the task
    assert notified["variables"]["sentNotice"] == "Invoice INV-2 over 5000 was declined"
    assert "notice" not in notified["variables"]

    # the BPMN error INVOICE_INVALID is caught by the boundary event, with the worker's variables
    rejected = workers.wait(invalid, lambda d: d["status"] in ENDED, what="its end")
    assert ("Event_invoice_invalid", "completed") in path(rejected)
    assert ("Event_invoice_rejected", "completed") in path(rejected)
    assert rejected["variables"]["rejection"] == "the invoice has no number"


def test_python_client_typed_variables_a_failure_retried_after_its_timeout_and_one_that_gives_up(
        workers: Baton) -> None:
    flaky, gone = case(), case()
    first = workers.start(flaky, amount=10, invoiceNumber="INV-3")
    second = workers.start(gone, amount=10, invoiceNumber="INV-4")
    _, log = workers.worker("python", "py-flaky", flaky, "flaky")
    workers.worker("python", "py-give-up", gone, "give-up")

    done = workers.wait(first, lambda d: d["status"] in ENDED, what="its end")
    events = [e for e in path(done) if e[0] == "Activity_check_invoice"]
    assert events[:3] == [("Activity_check_invoice", "entered"), ("Activity_check_invoice", "retrying"),
                          ("Activity_check_invoice", "completed")], events
    seen = read_log(log)
    assert [e["event"] for e in seen if e["topic"] == "invoice-check"] == ["failing", "completing"]
    # the variables the process started with reach the worker typed, as Camunda sends them
    assert seen[0]["variables"]["amount"] == {"type": "Integer", "value": 10, "valueInfo": {}}
    assert seen[0]["variables"]["invoiceNumber"]["type"] == "String"
    variables = done["variables"]
    assert variables["approved"] is True and variables["score"] == 7.5 and variables["big"] == 2**40
    assert variables["details"] == {"lines": [1, 2]} and variables["note"] is None
    # and come back typed: what the pay task's worker was sent
    pay = next(e for e in seen if e["topic"] == "invoice-pay")
    assert pay["variables"]["big"]["type"] == "Long" and pay["variables"]["score"]["type"] == "Double"
    assert pay["variables"]["details"] == {"type": "Json", "value": '{"lines":[1,2]}', "valueInfo": {}}

    stuck = workers.wait(second, lambda d: d["status"] == "incident", what="an incident")
    [incident] = stuck["incidents"]
    assert incident["element_id"] == "Activity_check_invoice" and "the ledger is gone" in incident["message"]


def test_js_client_typed_variables_extend_lock_and_a_bpmn_error_caught_by_the_boundary_event(
        workers: Baton) -> None:
    extend, invalid, flaky = case(), case(), case()
    held = workers.start(extend, amount=10, invoiceNumber="INV-5")
    rejected = workers.start(invalid, amount=10, invoiceNumber="INV-6")
    retried = workers.start(flaky, amount=10, invoiceNumber="INV-7")
    _, extend_log = workers.worker("js", "js-extend", extend, "extend", lock_ms=2000, hold_ms=3000)
    workers.worker("js", "js-invalid", invalid, "invalid")
    _, flaky_log = workers.worker("js", "js-flaky", flaky, "flaky")

    [extended] = wait_log(extend_log, lambda lines: any(e["event"] == "extended" for e in lines), what="extendLock")
    with workers.http() as http:
        now = http.get(f"/external-task/{extended['id']}")
    assert now.status_code == 200 and now.json()["workerId"] == "js-extend"
    # fetched with a 2 s lock, extended to 30 s: the lock now ends well after the first one would have
    assert now.json()["lockExpirationTime"] > extended["lockExpirationTime"]
    done = workers.wait(held, lambda d: d["status"] in ENDED, what="its end")
    assert done["status"] == "completed"
    assert done["variables"]["details"] == {"lines": [1, 2], "currency": "EUR"}
    assert done["variables"]["approved"] is True and done["variables"]["lines"] == 3
    assert done["variables"]["checkedAt"] == "2025-01-31T12:00:00.000+0000"

    caught = workers.wait(rejected, lambda d: d["status"] in ENDED, what="its end")
    assert ("Event_invoice_invalid", "completed") in path(caught)
    assert caught["variables"]["rejection"] == "no invoice number"

    again = workers.wait(retried, lambda d: d["status"] in ENDED, what="its end")
    assert ("Activity_check_invoice", "retrying") in path(again) and again["status"] == "completed"
    second = [e for e in read_log(flaky_log) if e["topic"] == "invoice-check"][-1]
    assert second["retries"] == 1 and second["errorMessage"] == "the ledger did not answer"


def test_a_worker_killed_holding_a_lock_loses_it_at_expiry_and_another_worker_finishes(workers: Baton) -> None:
    mine = case()
    instance = workers.start(mine, amount=10, invoiceNumber="INV-8")
    doomed, doomed_log = workers.worker("python", "py-doomed", mine, "hang", lock_ms=2000)
    [holding] = wait_log(doomed_log, lambda lines: any(e["event"] == "holding" for e in lines), what="a lock")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)

    _, heir_log = workers.worker("js", "js-heir", mine, "approve")
    done = workers.wait(instance, lambda d: d["status"] in ENDED, timeout=40, what="its end")
    assert done["status"] == "completed"
    [finished] = [e for e in read_log(heir_log) if e["topic"] == "invoice-check"]
    assert finished["id"] == holding["id"]  # the same task, taken over once the killed worker's lock ran out
    # the late worker's answer would be refused now: the task is gone
    with workers.http() as http:
        late = http.post(f"/external-task/{holding['id']}/complete", json={"workerId": "py-doomed"})
    assert late.status_code == 404 and late.json()["type"] == "RestException"


def test_only_the_worker_holding_the_lock_may_complete_fail_or_extend(workers: Baton) -> None:
    mine = case()
    workers.start(mine, amount=10, invoiceNumber="INV-9")
    with workers.http() as http:
        topics = [{"topicName": "invoice-check", "lockDuration": 60000, "businessKey": mine, "variables": None}]
        [task] = http.post("/external-task/fetchAndLock", json={
            "workerId": "w-1", "maxTasks": 5, "usePriority": None, "asyncResponseTimeout": 1000,
            "topics": topics}).json()
        assert http.post("/external-task/fetchAndLock", json={
            "workerId": "w-2", "maxTasks": 5, "topics": topics}).json() == []
        wrong = http.post(f"/external-task/{task['id']}/complete", json={"workerId": "w-2"})
        assert wrong.status_code == 400
        assert wrong.json() == {"type": "RestException", "message": f"External Task {task['id']} cannot be "
                                "completed by worker 'w-2'. It is locked by worker 'w-1'."}
        failed = http.post(f"/external-task/{task['id']}/failure",
                           json={"workerId": "w-2", "errorMessage": "x", "retries": 1, "retryTimeout": 0})
        assert failed.status_code == 400 and "cannot be reported by worker 'w-2'" in failed.json()["message"]
        extend = http.post(f"/external-task/{task['id']}/extendLock", json={"workerId": "w-2", "newDuration": 1})
        assert extend.status_code == 400
        assert http.post(f"/external-task/{task['id']}/unlock").status_code == 204
        assert http.post(f"/external-task/{task['id']}/lock", json={"workerId": "w-2", "lockDuration": 60000}
                         ).status_code == 204
        bad = http.post(f"/external-task/{task['id']}/complete",
                        json={"workerId": "w-2", "variables": {"n": {"value": "many", "type": "Integer"}}})
        assert bad.status_code == 400 and bad.json()["type"] == "InvalidRequestException"
        assert http.post(f"/external-task/{task['id']}/complete", json={"workerId": "w-2"}).status_code == 204
        missing = http.post("/external-task/no-such-task/complete", json={"workerId": "w-2"})
        assert missing.status_code == 404
        assert missing.json()["message"] == "External task with id no-such-task does not exist"
        nobody = httpx.post(f"{workers.engine_rest}/external-task/fetchAndLock", json={}, trust_env=False)
        assert nobody.status_code == 401 and nobody.json()["type"] == "AuthenticationException"
