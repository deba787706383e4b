"""``/api/v1``: instances (start, read, act on), user tasks, messages, signals, incidents."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request, url_for

from engine import BatonError, InvalidRequest

from .api import api, engine, identity
from .auth import requires
from .openapi import body, query

MAX_WAIT_SECONDS = 60.0


def _instance(instance_id: str) -> Response:
    return jsonify(engine().get_instance(instance_id, history=False))


@api.post("/process-definitions/<key>/start")
@requires("operator")
def start(key: str) -> Any:
    """Start an instance; with a start form, its variables are validated and converted by it (422
    with ``errors`` per field). With ``?wait=SECONDS`` (the synchronous edge) answer once it no longer
    runs (completed, or waiting for a person, a message or a timer) with its variables, or 202 with
    its URL when the time is up. With an ``Idempotency-Key`` header, a retry returns the instance the
    first call started (``engine.idempotency``)."""
    data, wait = body(), query().get("wait")
    caller = identity()
    # a start form's rules hold here as in the UI's start (422 naming each field); none: as given
    variables = engine().validate_start_form(key, data.get("variables") or {}, data.get("version"))
    instance_id = engine().start(key, variables, business_key=data.get("business_key"),
                                 version=data.get("version"), idempotency_key=request.headers.get("Idempotency-Key"),
                                 caller=f"{caller.kind}:{caller.id}",
                                 started_by=caller.name if caller.kind == "user" else None)
    doc = engine().get_instance(instance_id, history=False)
    if wait is None:
        return jsonify(doc), 201
    deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
    while doc["status"] == "running" and time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        doc = engine().get_instance(instance_id, history=False)
    location = url_for("api.get_instance", instance_id=instance_id)
    if doc["status"] == "running":
        return jsonify({"id": instance_id, "status": "running", "url": location}), 202, {"Location": location}
    return jsonify(doc), 201, {"Location": location}


def _when(args: dict[str, Any], name: str) -> datetime | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.upper())
    except ValueError:
        raise InvalidRequest(f"query parameter {name} is not an ISO 8601 date and time: {raw!r}") from None
    return value.astimezone(UTC) if value.tzinfo else value


@api.get("/process-instances")
@requires("viewer")
def list_instances() -> Response:
    """The UI's instance list: every filter, keyset pages (``next``/``prev`` cursors)."""
    args = query()
    if "after" in args and "before" in args:
        raise InvalidRequest("give after (the next page) or before (the previous one), not both")
    return jsonify(engine().find_instances(
        definition=args.get("definition"), version=args.get("version"), status=args.get("status"),
        business_key=args.get("business_key"), started_from=_when(args, "started_from"),
        started_to=_when(args, "started_to"), variable=args.get("variable"), value=args.get("value"),
        sort=args.get("sort", "started"), descending=args.get("order", "desc") == "desc",
        after=args.get("after"), before=args.get("before"), limit=args.get("limit", 50),
        key_match=args.get("key_match"), value_match=args.get("value_match", "exact"), element=args.get("element"),
        element_state=args.get("element_state", "active"), incident=args.get("incident"),
    ))


@api.get("/process-instances/<instance_id>")
@requires("viewer")
def get_instance(instance_id: str) -> Response:
    return jsonify(engine().get_instance(instance_id))


@api.get("/process-instances/<instance_id>/history")
@requires("viewer")
def instance_history(instance_id: str) -> Response:
    args = query()
    engine().changes_token(instance_id)  # 404 for an unknown instance, not an empty page
    return jsonify(engine().instance_history(instance_id, element_id=args.get("element"),
                                             before_seq=args.get("before"), limit=args.get("limit", 100)))


@api.get("/process-instances/<instance_id>/variables")
@requires("viewer")
def instance_variables(instance_id: str) -> Response:
    return jsonify({"instance_id": instance_id,
                    "variables": engine().get_instance(instance_id, history=False)["variables"]})


@api.get("/process-instances/<instance_id>/jobs")
@requires("viewer")
def instance_jobs(instance_id: str) -> Response:
    return jsonify({"items": engine().get_instance(instance_id, history=False)["jobs"]})


@api.get("/process-instances/<instance_id>/incidents")
@requires("viewer")
def instance_incidents(instance_id: str) -> Response:
    return jsonify({"items": engine().get_instance(instance_id, history=False)["incidents"]})


@api.get("/process-instances/<instance_id>/elements")
@requires("viewer")
def instance_elements(instance_id: str) -> Response:
    return jsonify(engine().instance_view(instance_id))


@api.get("/process-instances/<instance_id>/compensation")
@requires("viewer")
def get_compensation(instance_id: str) -> Response:
    return jsonify(engine().get_compensation(instance_id))


@api.post("/process-instances/<instance_id>/cancel")
@requires("operator")
def cancel(instance_id: str) -> Response:
    engine().cancel(instance_id, body().get("reason"))
    return _instance(instance_id)


@api.post("/process-instances/<instance_id>/suspend")
@requires("operator")
def suspend(instance_id: str) -> Response:
    engine().suspend(instance_id)
    return _instance(instance_id)


@api.post("/process-instances/<instance_id>/resume")
@requires("operator")
def resume(instance_id: str) -> Response:
    engine().resume(instance_id)
    return _instance(instance_id)


@api.post("/process-instances/<instance_id>/tasks/<element_id>/complete")
@requires("operator")
def complete_task(instance_id: str, element_id: str) -> Response:
    engine().complete_user_task(instance_id, element_id, body().get("variables") or {})
    return _instance(instance_id)


@api.get("/tasks")
@requires("viewer")
def list_tasks() -> Response:
    """Open user tasks; ``user`` and ``group`` (comma-separated) narrow to what they may do."""
    args = query()
    groups = [g.strip() for g in args.get("group", "").split(",") if g.strip()]
    return jsonify({"items": engine().list_user_tasks(user=args.get("user"), groups=groups,
                                                      instance_id=args.get("instance_id"))})


@api.get("/tasks/<task_id>")
@requires("viewer")
def get_task(task_id: str) -> Response:
    return jsonify(engine().get_user_task(task_id))


@api.post("/tasks/<task_id>/claim")
@requires("operator")
def claim_task(task_id: str) -> Response:
    return jsonify(engine().claim_user_task(task_id, body()["user"]))


@api.post("/tasks/<task_id>/unclaim")
@requires("operator")
def unclaim_task(task_id: str) -> Response:
    return jsonify(engine().claim_user_task(task_id, None))


@api.post("/tasks/<task_id>/complete")
@requires("operator")
def complete_task_by_id(task_id: str) -> Response:
    data = body()
    status = engine().complete_user_task_by_id(task_id, data.get("variables") or {}, data.get("user"))
    return jsonify({"id": task_id, "instance_status": status})


@api.post("/messages")
@requires("operator")
def publish_message() -> Any:
    """Deliver a message to one waiting instance, start one, or (with ``ttl``) keep it waiting."""
    data = body()
    result = engine().correlate(data["name"], correlation=data.get("correlation_keys") or {},
                                variables=data.get("variables") or {}, business_key=data.get("business_key"),
                                message_id=data.get("message_id"), ttl_seconds=data.get("ttl"))
    return jsonify(result), 202 if result["result"] == "buffered" else 200


@api.post("/signals")
@requires("operator")
def broadcast_signal() -> Any:
    """Broadcast a signal: every waiting catch receives it; processes it starts are started."""
    data = body()
    return jsonify(engine().broadcast_signal(data["name"], data.get("variables") or {}))


@api.get("/incidents")
@requires("viewer")
def list_incidents() -> Response:
    """The UI's incident list and filters."""
    args = query()
    return jsonify({"items": engine().find_incidents(
        state=args.get("state", "open"), definition=args.get("definition"), element_id=args.get("element"),
        text=args.get("text"), limit=args.get("limit", 200))})


@api.post("/incidents/<incident_id>/retry")
@requires("operator")
def retry_incident(incident_id: str) -> Response:
    status = engine().retry_incident(incident_id)
    return jsonify({"id": incident_id, "instance_status": status})


@api.post("/incidents/retry")
@requires("operator")
def retry_incidents() -> Response:
    """Retry many (the UI's bulk retry): each id succeeds or fails on its own, answered in order."""
    results: list[dict[str, Any]] = []
    for incident_id in body()["ids"]:
        try:
            results.append({"id": incident_id, "ok": True, "instance_status": engine().retry_incident(incident_id)})
        except BatonError as exc:
            results.append({"id": incident_id, "ok": False, "error": str(exc)})
    return jsonify({"results": results})


from . import api_changes  # noqa: E402,F401  (an operator changes an instance: its routes join ``api``)
