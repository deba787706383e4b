"""``/engine-rest/external-task``: fetch and lock, complete, failure, BPMN error, the lock calls.

Bodies, answers and status codes as Camunda 7.22's REST reference; the engine's side is
``engine/external_tasks.py``. Durations are milliseconds here, seconds in the engine.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from engine import ExternalTask, ExternalTaskQuery, TopicRequest

from ..auth import requires
from . import body, camunda, camunda_time, engine, no_content
from .errors import CamundaError
from .variables import typed_map, values_of


def _invalid(message: str) -> CamundaError:
    return CamundaError(400, "InvalidRequestException", message)


def _int(data: dict[str, Any], name: str, default: int | None = None, *, required: bool = False) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise _invalid(f"{name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _invalid(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string, got {value!r}")
    return value


def _worker(data: dict[str, Any]) -> str:
    return _text(data, "workerId", required=True) or ""


def _topic(raw: Any) -> TopicRequest:
    if not isinstance(raw, dict):
        raise _invalid("each entry of topics must be an object with topicName and lockDuration")
    name = _text(raw, "topicName", required=True) or ""
    lock = _int(raw, "lockDuration", required=True) or 0
    if lock <= 0:
        raise _invalid(f"lockDuration of topic {name!r} must be greater than 0, got {lock}")
    names = raw.get("variables")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise _invalid(f"variables of topic {name!r} must be a list of variable names or null")
    process_variables = raw.get("processVariables") or {}
    if not isinstance(process_variables, dict):
        raise _invalid(f"processVariables of topic {name!r} must be an object")
    filters = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v)
               for k, v in process_variables.items()}
    return TopicRequest(name=name, lock_seconds=lock / 1000.0, variables=names,
                        business_key=_text(raw, "businessKey"), definition_key=_text(raw, "processDefinitionKey"),
                        process_variables=filters)


def locked_task(task: ExternalTask) -> dict[str, Any]:
    """Camunda's ``LockedExternalTaskDto``."""
    return {
        "activityId": task.element_id, "activityInstanceId": f"{task.element_id}:{task.task_id}",
        "errorMessage": task.error_message, "errorDetails": task.error_details,
        "executionId": task.task_id, "id": task.id, "lockExpirationTime": camunda_time(task.lock_expires_at),
        "createTime": None, "processDefinitionId": task.definition_id,
        "processDefinitionKey": task.definition_key, "processDefinitionVersionTag": None,
        "processInstanceId": task.instance_id, "retries": task.retries, "suspended": task.suspended,
        "workerId": task.worker_id, "topicName": task.topic, "tenantId": None, "priority": task.priority,
        "businessKey": task.business_key, "variables": typed_map(task.variables), "extensionProperties": {},
    }


@camunda.post("/external-task/fetchAndLock")
@requires("operator")
def fetch_and_lock() -> Response:
    data = body()
    worker = _worker(data)
    max_tasks = _int(data, "maxTasks", 0) or 0  # Camunda: an int that defaults to 0 (nothing fetched)
    wait_ms = _int(data, "asyncResponseTimeout", 0) or 0
    if wait_ms < 0 or wait_ms > 1_800_000:
        raise _invalid("asyncResponseTimeout must be between 0 and 1800000 milliseconds")
    topics = data.get("topics") or []
    if not isinstance(topics, list):
        raise _invalid("topics must be a list")
    found = engine().fetch_and_lock(worker, [_topic(t) for t in topics], max_tasks,
                                    use_priority=bool(data.get("usePriority")), wait_seconds=wait_ms / 1000.0)
    return jsonify([locked_task(t) for t in found])


@camunda.get("/external-task/<task_id>")
@requires("viewer")
def get_external_task(task_id: str) -> Response:
    task = engine().get_external_task(task_id)
    shown = locked_task(task)
    shown.pop("variables")
    return jsonify(shown)


# GET /external-task's filters Baton applies (Camunda's names); any other parameter is refused
_TEXT_FILTERS = {"externalTaskId": "task_id", "topicName": "topic", "workerId": "worker_id",
                 "activityId": "element_id", "processInstanceId": "instance_id",
                 "processDefinitionId": "definition_id"}
_FLAG_FILTERS = {"locked": "locked", "notLocked": "not_locked", "withRetriesLeft": "with_retries_left",
                 "noRetriesLeft": "no_retries_left", "suspended": "suspended", "active": "active"}


def _query() -> ExternalTaskQuery:
    args = request.args
    unknown = sorted(set(args) - set(_TEXT_FILTERS) - set(_FLAG_FILTERS) - {"firstResult", "maxResults"})
    if unknown:
        raise _invalid(f"query parameter(s) {', '.join(unknown)} not supported by Baton; supported: "
                       f"{', '.join([*_TEXT_FILTERS, *_FLAG_FILTERS, 'firstResult', 'maxResults'])}")
    filters: dict[str, Any] = {name: args[param] for param, name in _TEXT_FILTERS.items() if args.get(param)}
    for param, name in _FLAG_FILTERS.items():
        value = args.get(param, "").lower()
        if value not in ("", "true", "false"):
            raise _invalid(f"{param} must be true or false, got {args[param]!r}")
        filters[name] = value == "true"  # Camunda: false matches any task
    for param, name in (("firstResult", "first"), ("maxResults", "max_results")):
        raw = args.get(param)
        if raw is not None:
            if not raw.isdigit():
                raise _invalid(f"{param} must be a whole number >= 0, got {raw!r}")
            filters[name] = int(raw)
    return ExternalTaskQuery(**filters)


def external_task(task: ExternalTask) -> dict[str, Any]:
    """Camunda's ``ExternalTaskDto`` (a locked task's fields without its variables)."""
    shown = locked_task(task)
    for name in ("variables", "extensionProperties", "errorDetails"):
        shown.pop(name)
    return shown


@camunda.get("/external-task")
@requires("viewer")
def list_external_tasks() -> Response:
    return jsonify([external_task(t) for t in engine().list_external_tasks(_query())])


@camunda.get("/external-task/count")
@requires("viewer")
def count_external_tasks() -> Response:
    query = _query()
    everything = ExternalTaskQuery(**{**query.__dict__, "first": 0, "max_results": None})
    return jsonify({"count": len(engine().list_external_tasks(everything))})


@camunda.put("/external-task/<task_id>/retries")
@requires("operator")
def set_retries(task_id: str) -> Response:
    data = body()
    retries = _int(data, "retries", required=True)
    if retries is None or retries < 0:
        raise _invalid(f"retries must be greater than or equal to 0, got {retries}")
    engine().set_external_retries(task_id, retries)
    return no_content()


@camunda.post("/external-task/<task_id>/complete")
@requires("operator")
def complete(task_id: str) -> Response:
    data = body()
    engine().complete_external_task(task_id, _worker(data), values_of(data.get("variables")),
                                    values_of(data.get("localVariables"), "localVariables"))
    return no_content()


@camunda.post("/external-task/<task_id>/failure")
@requires("operator")
def failure(task_id: str) -> Response:
    data = body()
    retries = _int(data, "retries", 0)
    timeout = _int(data, "retryTimeout", 0) or 0
    engine().fail_external_task(task_id, _worker(data), _text(data, "errorMessage"),
                                _text(data, "errorDetails"), retries, timeout / 1000.0)
    return no_content()


@camunda.post("/external-task/<task_id>/bpmnError")
@requires("operator")
def bpmn_error(task_id: str) -> Response:
    data = body()
    engine().external_bpmn_error(task_id, _worker(data), _text(data, "errorCode", required=True) or "",
                                 _text(data, "errorMessage"), values_of(data.get("variables")))
    return no_content()


@camunda.post("/external-task/<task_id>/extendLock")
@requires("operator")
def extend_lock(task_id: str) -> Response:
    data = body()
    duration = _int(data, "newDuration", required=True) or 0
    engine().extend_external_lock(task_id, _worker(data), duration / 1000.0)
    return no_content()


@camunda.post("/external-task/<task_id>/unlock")
@requires("operator")
def unlock(task_id: str) -> Response:
    engine().unlock_external_task(task_id)
    return no_content()


@camunda.post("/external-task/<task_id>/lock")
@requires("operator")
def lock(task_id: str) -> Response:
    data = body()
    duration = _int(data, "lockDuration", required=True) or 0
    engine().lock_external_task(task_id, _worker(data), duration / 1000.0)
    return no_content()
