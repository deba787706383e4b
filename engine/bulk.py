"""Acting on a selection of instances: cancel, suspend, resume, retry or migrate each one on its own.

One instance's refusal (it ended, it is not suspended, it has no incident) never stops the
others: every id gets its own result, in the order given. Each action is the engine's own
single-instance operation, so history records it exactly as if it had been done one by one.
``migrate`` moves each instance to the latest version of its process (or ``target_version``)
with the default plan (:mod:`engine.version_migration`: elements mapped by id), one plan per
version found in the selection; a plan that cannot be made refuses that version's instances.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import BatonError, InvalidRequest
from .models import Incident, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from .runtime import Engine

BULK_ACTIONS = ("cancel", "suspend", "resume", "retry", "migrate")
MAX_SELECTION = 500


def _retry_instance(engine: Engine, instance_id: str) -> str:
    """Retry every open incident of the instance; refused when it has none."""
    with engine.db.reading() as session:
        incidents = list(session.scalars(select(Incident.id).where(
            Incident.instance_id == instance_id, Incident.resolved_at.is_(None)).order_by(Incident.created_at)))
    if not incidents:
        engine.changes_token(instance_id)  # an unknown id says so, rather than "no incident"
        raise InvalidRequest(f"instance {instance_id} has no open incident to retry")
    status = ""
    for incident_id in incidents:
        status = engine.retry_incident(incident_id)
    return status


def _migrate(engine: Engine, ids: list[str], target_version: int | None, by: str,
             reason: str | None) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        versions = {i: (k, v) for i, k, v in session.execute(
            select(ProcessInstance.id, ProcessDefinition.key, ProcessDefinition.version)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_(ids)))}
    groups: dict[tuple[str, int], list[str]] = {}
    for instance_id in ids:
        if instance_id in versions:
            groups.setdefault(versions[instance_id], []).append(instance_id)
    found: dict[str, dict[str, Any]] = {i: {"id": i, "ok": False, "error": f"no process instance {i}"}
                                        for i in ids if i not in versions}
    for (key, version), members in groups.items():
        try:
            plan = engine.migration_plan(key, version, target_version)
            for result in engine.migrate_instances(plan, members, by=by, reason=reason)["results"]:
                found[result["id"]] = result
        except BatonError as exc:
            found.update({i: {"id": i, "ok": False, "error": f"{key} v{version}: {exc}"} for i in members})
    return [found[i] for i in ids]


def act_on_instances(engine: Engine, action: str, instance_ids: list[str], *, reason: str | None = None,
                     by: str = "", target_version: int | None = None) -> list[dict[str, Any]]:
    """Apply ``action`` to each instance; one ``{id, ok, status | error}`` per id, in order."""
    if action not in BULK_ACTIONS:
        raise InvalidRequest(f"unknown action {action!r}; use one of {', '.join(BULK_ACTIONS)}")
    ids = list(dict.fromkeys(i.strip() for i in instance_ids if i and i.strip()))
    if not ids:
        raise InvalidRequest("select at least one instance")
    if len(ids) > MAX_SELECTION:
        raise InvalidRequest(f"at most {MAX_SELECTION} instances at once; {len(ids)} were selected")
    if action == "migrate":
        return _migrate(engine, ids, target_version, by, reason)
    results: list[dict[str, Any]] = []
    for instance_id in ids:
        try:
            if action == "cancel":
                status = engine.cancel(instance_id, reason)
            elif action == "suspend":
                status = engine.suspend(instance_id)
            elif action == "resume":
                status = engine.resume(instance_id)
            else:
                status = _retry_instance(engine, instance_id)
            results.append({"id": instance_id, "ok": True, "status": status})
        except BatonError as exc:
            results.append({"id": instance_id, "ok": False, "error": str(exc)})
    return results
