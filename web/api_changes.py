"""``/api/v1``: an operator changes an instance (variables, tokens, version, a restart) and looks
into why it stopped (an incident's attempts, note, retries) and how long it took (durations).

Each change names who made it (the token's or user's identity) and takes an optional ``reason``;
both land in the instance's history. Changes need ``operator``; reading needs ``viewer``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from .api import api, engine, identity
from .auth import requires
from .openapi import body


def who() -> str:
    """How history names the caller: ``user:NAME`` or ``token:NAME``."""
    caller = identity()
    return f"{caller.kind}:{caller.name}"


def _instance(instance_id: str) -> Response:
    return jsonify(engine().get_instance(instance_id, history=False))


@api.post("/process-instances/<instance_id>/variables")
@requires("operator")
def edit_variables(instance_id: str) -> Response:
    """Set and remove variables of a running instance."""
    data = body()
    engine().edit_variables(instance_id, data.get("set") or {}, data.get("remove") or [], by=who(),
                            reason=data.get("reason"))
    return _instance(instance_id)


@api.post("/process-instances/<instance_id>/modification")
@requires("operator")
def modify_instance(instance_id: str) -> Response:
    """Cancel tokens and start new ones before or after elements, all in one step."""
    data = body()
    engine().modify_instance(instance_id, data["instructions"], by=who(), reason=data.get("reason"))
    return _instance(instance_id)


@api.post("/process-instances/<instance_id>/restart")
@requires("operator")
def restart_instance(instance_id: str) -> Response:
    """Start an ended instance again before the given elements, with its last variables."""
    data = body()
    engine().restart_instance(instance_id, data["elements"], by=who(), reason=data.get("reason"),
                              variables=data.get("variables"))
    return _instance(instance_id)


@api.post("/process-definitions/<key>/migration-plan")
@requires("operator")
def migration_plan(key: str) -> Response:
    """Build and check a plan from one version to another (nothing is migrated)."""
    data = body()
    return jsonify(engine().migration_plan(key, data["source_version"], data.get("target_version"),
                                           data.get("mapping")))


@api.post("/process-definitions/<key>/migration")
@requires("operator")
def migrate(key: str) -> Any:
    """Check the plan, then migrate the given instances (or every running one of the source
    version): a result per instance."""
    data = body()
    plan = engine().migration_plan(key, data["source_version"], data.get("target_version"), data.get("mapping"))
    return jsonify(engine().migrate_instances(plan, data.get("instance_ids"), by=who(), reason=data.get("reason"),
                                              batch_size=data.get("batch_size") or 100))


@api.get("/process-instances/<instance_id>/durations")
@requires("viewer")
def instance_durations(instance_id: str) -> Response:
    """Each activity run's time, each element's sum, the instance's, to the millisecond."""
    return jsonify(engine().instance_durations(instance_id))


@api.get("/incidents/<incident_id>")
@requires("viewer")
def get_incident(incident_id: str) -> Response:
    """The incident, its job and every attempt: the request, the answer or the exception."""
    return jsonify(engine().incident_detail(incident_id))


@api.post("/incidents/<incident_id>/note")
@requires("operator")
def note_incident(incident_id: str) -> Response:
    """Keep an operator's note on the incident (an empty note clears it)."""
    return jsonify(engine().note_incident(incident_id, body()["note"], by=who()))


@api.post("/incidents/<incident_id>/retries")
@requires("operator")
def set_incident_retries(incident_id: str) -> Response:
    """Resolve the incident and run its job again with this many attempts."""
    status = engine().set_incident_retries(incident_id, body()["retries"], by=who())
    return jsonify({"id": incident_id, "instance_status": status})
