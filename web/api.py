"""The REST API under ``/api/v1``: JSON in, JSON out; errors as ``application/problem+json``."""

from __future__ import annotations

import hmac
import time
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from engine import (
    BatonError,
    DeploymentError,
    Engine,
    InstanceNotActive,
    InvalidRequest,
    NotFound,
)

api = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_WAIT_SECONDS = 60.0


def engine() -> Engine:
    return current_app.extensions["baton"]


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


@api.errorhandler(BatonError)
def _baton_error(exc: BatonError) -> Response:
    if isinstance(exc, DeploymentError):
        return problem(422, "Deployment refused", str(exc), problems=[p.to_dict() for p in exc.problems])
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc))
    if isinstance(exc, InstanceNotActive):
        return problem(409, "Conflict", str(exc))
    if isinstance(exc, InvalidRequest):
        errors = getattr(exc, "errors", None)
        if errors:
            return problem(422, "Invalid input", str(exc), errors=errors)
        return problem(400, "Bad request", str(exc))
    return problem(500, "Engine error", str(exc))


def mutation(view):  # type: ignore[no-untyped-def]
    """Marks a route that changes state. Until users and roles arrive, a configured
    ``BATON_API_TOKEN`` must be presented as ``Authorization: Bearer <token>``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = engine().settings.api_token
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return problem(401, "Unauthorized", "this call needs 'Authorization: Bearer <token>'")
        return view(*args, **kwargs)

    wrapper.baton_mutation = True  # type: ignore[attr-defined]
    return wrapper


def _json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


@api.get("/health")
def health() -> Response:
    return jsonify({"ok": True})


@api.post("/deployments")
@mutation
def deploy() -> Any:
    files = [(f.filename or "upload.bpmn", f.read()) for f in request.files.getlist("files")]
    files += [(f.filename or "upload.bpmn", f.read()) for k, f in request.files.items(multi=True) if k != "files"]
    if not files:
        return problem(400, "Bad request", "send the diagrams as multipart form files named 'files'")
    results = engine().deploy(files, name=request.form.get("name"))
    return jsonify({"deployed": [
        {"key": r.key, "version": r.version, "id": r.id, "created": r.created} for r in results
    ]}), 201


@api.get("/process-definitions")
def list_definitions() -> Response:
    return jsonify({"items": engine().list_definitions()})


@api.get("/process-definitions/<key>")
def get_definition(key: str) -> Any:
    for item in engine().list_definitions():
        if item["key"] == key:
            return jsonify(item)
    return problem(404, "Not found", f"no process definition {key!r}")


@api.get("/process-definitions/<key>/xml")
def definition_xml(key: str) -> Response:
    version = request.args.get("version", type=int)
    return Response(engine().definition_xml(key, version), mimetype="application/xml")


@api.post("/process-definitions/<key>/start")
@mutation
def start(key: str) -> Any:
    """Start an instance. With ``?wait=SECONDS`` (the synchronous edge) answer once it no longer
    runs (completed, or waiting for a person, a message or a timer) with its variables, or 202 with
    its URL when the time is up."""
    body = _json_body()
    wait = request.args.get("wait", type=float)
    if wait is not None and not 0 <= wait <= MAX_WAIT_SECONDS:
        return problem(400, "Bad request", f"wait is between 0 and {MAX_WAIT_SECONDS:g} seconds")
    instance_id = engine().start(key, body.get("variables") or {}, business_key=body.get("business_key"),
                                 version=body.get("version"))
    doc = engine().get_instance(instance_id, history=False)
    if wait is None:
        return jsonify(doc), 201
    deadline = time.monotonic() + wait
    while doc["status"] == "running" and time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        doc = engine().get_instance(instance_id, history=False)
    location = url_for("api.get_instance", instance_id=instance_id)
    if doc["status"] == "running":
        return jsonify({"id": instance_id, "status": "running", "url": location}), 202, {"Location": location}
    return jsonify(doc), 201, {"Location": location}


@api.get("/process-instances")
def list_instances() -> Response:
    args = request.args
    return jsonify(engine().list_instances(
        status=args.get("status"), definition=args.get("definition"), version=args.get("version", type=int),
        business_key=args.get("business_key"), limit=min(args.get("limit", 50, type=int), 500),
        offset=max(args.get("offset", 0, type=int), 0),
    ))


@api.get("/process-instances/<instance_id>")
def get_instance(instance_id: str) -> Response:
    return jsonify(engine().get_instance(instance_id))


@api.get("/process-instances/<instance_id>/compensation")
def get_compensation(instance_id: str) -> Response:
    return jsonify(engine().get_compensation(instance_id))


@api.post("/process-instances/<instance_id>/cancel")
@mutation
def cancel(instance_id: str) -> Response:
    engine().cancel(instance_id, _json_body().get("reason"))
    return jsonify(engine().get_instance(instance_id, history=False))


@api.post("/process-instances/<instance_id>/suspend")
@mutation
def suspend(instance_id: str) -> Response:
    engine().suspend(instance_id)
    return jsonify(engine().get_instance(instance_id, history=False))


@api.post("/process-instances/<instance_id>/resume")
@mutation
def resume(instance_id: str) -> Response:
    engine().resume(instance_id)
    return jsonify(engine().get_instance(instance_id, history=False))


@api.post("/process-instances/<instance_id>/tasks/<element_id>/complete")
@mutation
def complete_task(instance_id: str, element_id: str) -> Response:
    engine().complete_user_task(instance_id, element_id, _json_body().get("variables") or {})
    return jsonify(engine().get_instance(instance_id, history=False))


@api.get("/tasks")
def list_tasks() -> Response:
    """Open user tasks; ``user`` and ``group`` (repeatable) narrow to what they may do."""
    args = request.args
    return jsonify({"items": engine().list_user_tasks(user=args.get("user"), groups=args.getlist("group"),
                                                      instance_id=args.get("instance_id"))})


@api.get("/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    return jsonify(engine().get_user_task(task_id))


@api.post("/tasks/<task_id>/claim")
@mutation
def claim_task(task_id: str) -> Response:
    user = _json_body().get("user")
    if not isinstance(user, str) or not user:
        return problem(400, "Bad request", "say who claims the task: {\"user\": \"...\"}")
    return jsonify(engine().claim_user_task(task_id, user))


@api.post("/tasks/<task_id>/unclaim")
@mutation
def unclaim_task(task_id: str) -> Response:
    return jsonify(engine().claim_user_task(task_id, None))


@api.post("/tasks/<task_id>/complete")
@mutation
def complete_task_by_id(task_id: str) -> Response:
    body = _json_body()
    status = engine().complete_user_task_by_id(task_id, body.get("variables") or {}, body.get("user"))
    return jsonify({"id": task_id, "instance_status": status})


@api.post("/messages")
@mutation
def publish_message() -> Any:
    """Deliver a message to one waiting instance, start one, or (with ``ttl``) keep it waiting."""
    body = _json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return problem(400, "Bad request", "a message needs a 'name'")
    correlation = body.get("correlation_keys") or {}
    if not isinstance(correlation, dict):
        return problem(400, "Bad request", "'correlation_keys' must be an object")
    ttl = body.get("ttl")
    if ttl is not None and (not isinstance(ttl, int | float) or ttl <= 0):
        return problem(400, "Bad request", "'ttl' is a number of seconds greater than 0")
    result = engine().correlate(name, correlation=correlation, variables=body.get("variables") or {},
                                business_key=body.get("business_key"), message_id=body.get("message_id"),
                                ttl_seconds=ttl)
    return jsonify(result), 202 if result["result"] == "buffered" else 200


@api.post("/signals")
@mutation
def broadcast_signal() -> Any:
    """Broadcast a signal: every waiting catch receives it; processes it starts are started."""
    body = _json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return problem(400, "Bad request", "a signal needs a 'name'")
    return jsonify(engine().broadcast_signal(name, body.get("variables") or {}))


@api.get("/incidents")
def list_incidents() -> Response:
    return jsonify({"items": engine().list_incidents(open_only=request.args.get("all") is None)})


@api.post("/incidents/<incident_id>/retry")
@mutation
def retry_incident(incident_id: str) -> Response:
    status = engine().retry_incident(incident_id)
    return jsonify({"id": incident_id, "instance_status": status})
