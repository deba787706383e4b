"""An incident that explains itself: its job, every attempt with its exchange, the operator's note,
and setting the retries its job gets when it runs again (Camunda's "set retries").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .attempts import attempts_of, iso_ms
from .errors import IncidentNotFound, InvalidRequest
from .instances import Note, Step, advance
from .jobs import JobTicket
from .models import Incident, Job, ProcessDefinition, ProcessInstance, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .runtime import Engine

NOTE_CHARS = 4000
MAX_RETRIES = 100


def incident_detail(engine: Engine, incident_id: str) -> dict[str, Any]:
    """The incident with its instance, its job and the job's attempts (oldest first)."""
    with engine.db.reading() as session:
        found = session.execute(
            select(Incident, ProcessInstance.status, ProcessInstance.business_key, ProcessDefinition.key,
                   ProcessDefinition.version)
            .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(Incident.id == incident_id)).first()
        if found is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        incident, status, business_key, key, version = found
        job = session.get(Job, incident.job_id) if incident.job_id else None
        job_doc = None if job is None else {
            "id": job.id, "kind": job.kind, "topic": job.topic, "status": job.status, "attempts": job.attempts,
            "max_attempts": job.max_attempts, "last_error": job.last_error, "created_at": iso_ms(job.created_at),
            "updated_at": iso_ms(job.updated_at)}
        doc = {
            "id": incident.id, "instance_id": incident.instance_id, "element_id": incident.element_id,
            "message": incident.message, "detail": incident.detail, "job_id": incident.job_id,
            "created_at": iso_ms(incident.created_at), "resolved_at": iso_ms(incident.resolved_at),
            "note": incident.note, "note_by": incident.note_by, "noted_at": iso_ms(incident.noted_at),
            "instance": {"id": incident.instance_id, "status": status, "business_key": business_key,
                         "definition": {"key": key, "version": version}},
            "job": job_doc}
    doc["attempts"] = attempts_of(engine, doc["job_id"]) if doc["job"] is not None else []
    return doc


def note_incident(engine: Engine, incident_id: str, note: str, *, by: str) -> dict[str, Any]:
    """Keep an operator's note on the incident (replacing the last one; empty clears it)."""
    if not isinstance(note, str):
        raise InvalidRequest("the note is text")
    if len(note) > NOTE_CHARS:
        raise InvalidRequest(f"the note has {len(note)} characters; keep it under {NOTE_CHARS}")
    with engine.db.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        text = note.strip()
        incident.note, incident.note_by, incident.noted_at = (text, by, utcnow()) if text else (None, None, None)
    return incident_detail(engine, incident_id)


def set_incident_retries(engine: Engine, incident_id: str, retries: int, *, by: str) -> str:
    """Resolve the incident and run its job again with ``retries`` attempts (from attempt one)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or not 1 <= retries <= MAX_RETRIES:
        raise InvalidRequest(f"retries must be a whole number from 1 to {MAX_RETRIES}, not {retries!r}")
    with engine.db.reading() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        if incident.job_id is None:
            raise InvalidRequest(f"incident {incident_id} at {incident.element_id} is a failed script or "
                                 "expression, not a call: it has no retries to set (retry it)")
        instance_id = incident.instance_id

    def apply(session: Session, instance: Any, workflow: BatonWorkflow, step: Step) -> None:
        found = session.get(Incident, incident_id)
        if found is None or found.resolved_at is not None:
            raise InvalidRequest(f"incident {incident_id} is resolved already")
        job = session.get(Job, found.job_id)
        if job is None or job.status != "failed":
            raise InvalidRequest(f"the job of incident {incident_id} is {job.status if job else 'gone'}, not failed")
        found.resolved_at = utcnow()
        job.status, job.attempts, job.max_attempts = "pending", 0, retries
        job.next_run_at = job.sent_at = utcnow()
        step.events.append(Note(found.element_id, "retried", {"incident": found.id, "retries": retries, "by": by}))
        step.tickets.append(JobTicket(job.id, instance.id, job.kind))

    return advance(engine, instance_id, apply)
