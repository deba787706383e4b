"""A worker written with Camunda's Python client (camunda-external-task-client-python3), unmodified.

    python python_worker.py BASE_URL WORKER_ID CASE BEHAVIOUR LOG_FILE

It takes only the tasks of its test (process variable ``case`` == CASE), and answers the
``invoice-check`` task of ``processes/camunda7_invoice.bpmn`` the way BEHAVIOUR says; pay and
notify tasks it completes. Every task it sees, and what it did, goes to LOG_FILE as a JSON line.
Credentials come from the environment: BATON_TOKEN (Bearer) or CAMUNDA_USER/CAMUNDA_PASSWORD.
"""

from __future__ import annotations

import json
import os
import sys
import time

from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

BASE_URL, WORKER_ID, CASE, BEHAVIOUR, LOG_FILE = sys.argv[1:6]
SEEN: set[str] = set()


def log(event: str, task: ExternalTask, **more: object) -> None:
    line = {"event": event, "worker": WORKER_ID, "id": task.get_task_id(), "topic": task.get_topic_name(),
            "variables": {k: task.get_variable(k, with_meta=True) for k in task.get_variables()}, **more}
    with open(LOG_FILE, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def check(task: ExternalTask) -> TaskResult:
    first_time = task.get_task_id() not in SEEN
    SEEN.add(task.get_task_id())
    if BEHAVIOUR == "hang":  # holds the lock until it is killed
        log("holding", task)
        time.sleep(600)
    if BEHAVIOUR == "flaky" and first_time:
        log("failing", task)
        return task.failure("the ledger did not answer", "ConnectionError: ledger:5432", max_retries=1,
                            retry_timeout=300)
    if BEHAVIOUR == "give-up":
        log("failing", task)
        return task.failure("the ledger is gone", "no ledger", max_retries=0, retry_timeout=0)
    if BEHAVIOUR == "invalid":
        log("error", task)
        return task.bpmn_error("INVOICE_INVALID", "the invoice has no number", {"rejection": "no number"})
    log("completing", task)
    return task.complete({"approved": True, "checkedBy": WORKER_ID, "score": 7.5, "lines": 3,
                          "big": 2**40, "details": {"lines": [1, 2]}, "note": None})


def other(task: ExternalTask) -> TaskResult:
    log("completing", task)
    return task.complete({f"{task.get_topic_name().replace('-', '_')}_by": WORKER_ID})


def handle(task: ExternalTask) -> TaskResult:
    return check(task) if task.get_topic_name() == "invoice-check" else other(task)


def main() -> None:
    config: dict[str, object] = {"maxTasks": 1, "lockDuration": int(os.environ.get("LOCK_MS", "10000")),
                                 "asyncResponseTimeout": 2000, "sleepSeconds": 0.2}
    if os.environ.get("BATON_TOKEN"):
        config["auth_bearer"] = {"access_token": os.environ["BATON_TOKEN"]}
    else:
        config["auth_basic"] = {"username": os.environ["CAMUNDA_USER"], "password": os.environ["CAMUNDA_PASSWORD"]}
    worker = ExternalTaskWorker(worker_id=WORKER_ID, base_url=BASE_URL, config=config)
    worker.subscribe(["invoice-check", "invoice-pay", "invoice-notify"], handle, process_variables={"case": CASE})


if __name__ == "__main__":
    main()
