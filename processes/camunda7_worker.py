"""The external-task worker of ``camunda7_invoice.bpmn``, written against Camunda's own Python
client (``camunda-external-task-client-python3``), exactly as it would run against Camunda 7.

Nothing here knows Baton: point ``CAMUNDA_URL`` at Baton's ``/engine-rest`` and it fetches,
completes and throws BPMN errors there. Run it with the client installed (``make`` puts a pinned
copy in ``tests/compat/.python``)::

    PYTHONPATH=tests/compat/.python CAMUNDA_URL=http://127.0.0.1:8000/engine-rest \\
        BATON_TOKEN=$(.venv/bin/baton token create --role operator --name invoices) \\
        .venv/bin/python -m processes.camunda7_worker

``BATON_TOKEN`` is sent as a Bearer token; ``CAMUNDA_USER``/``CAMUNDA_PASSWORD`` (a Baton user)
as HTTP Basic instead.
"""

from __future__ import annotations

import os
from typing import Any

from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

TOPICS = ["invoice-check", "invoice-pay", "invoice-notify"]
#: Invoices up to this amount are approved without a second look.
APPROVAL_LIMIT = 1000


def check_invoice(task: ExternalTask) -> TaskResult:
    number = task.get_variable("invoiceNumber")
    if not number:  # caught by the boundary event "Invoice invalid"
        return task.bpmn_error("INVOICE_INVALID", "the invoice has no number",
                               {"rejection": "the invoice has no number"})
    amount = task.get_variable("amount") or 0
    return task.complete({"approved": amount <= APPROVAL_LIMIT, "checkedBy": task.get_worker_id()})


def pay_invoice(task: ExternalTask) -> TaskResult:
    return task.complete({"paymentReference": f"PAY-{task.get_variable('invoiceNumber')}"})


def notify_requester(task: ExternalTask) -> TaskResult:
    # "notice" is the task's input parameter (camunda:inputOutput), a local variable of the task:
    # set again under that name it would stay local and end with the task, as in Camunda 7
    return task.complete({"notified": True, "sentNotice": task.get_variable("notice")})


HANDLERS = {"invoice-check": check_invoice, "invoice-pay": pay_invoice, "invoice-notify": notify_requester}


def handle(task: ExternalTask) -> TaskResult:
    return HANDLERS[task.get_topic_name()](task)


def config_from_env() -> dict[str, Any]:
    config: dict[str, Any] = {"maxTasks": 1, "lockDuration": 10_000, "asyncResponseTimeout": 5_000,
                              "retries": 3, "retryTimeout": 5_000, "sleepSeconds": 1}
    if os.environ.get("BATON_TOKEN"):
        config["auth_bearer"] = {"access_token": os.environ["BATON_TOKEN"]}
    elif os.environ.get("CAMUNDA_USER"):
        config["auth_basic"] = {"username": os.environ["CAMUNDA_USER"], "password": os.environ["CAMUNDA_PASSWORD"]}
    return config


def main() -> None:
    url = os.environ.get("CAMUNDA_URL", "http://127.0.0.1:8000/engine-rest")
    worker = ExternalTaskWorker(worker_id=os.environ.get("WORKER_ID", "invoice-worker"), base_url=url,
                                config=config_from_env())
    worker.subscribe(TOPICS, handle)


if __name__ == "__main__":
    main()
