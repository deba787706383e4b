"""One incident: why the instance stopped (each attempt's request and answer, or the exception),
the operator's note, and retrying it with a number of attempts."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for

from engine import BatonError, IncidentNotFound

from .auth import requires
from .ui import engine, ui
from .ui_changes import who


@ui.get("/incidents/<incident_id>")
@requires("viewer")
def incident(incident_id: str) -> str:
    try:
        detail = engine().incident_detail(incident_id)
    except IncidentNotFound:
        abort(404, description=f"There is no incident with the id '{incident_id}'.")
    return render_template("incident.html", incident=detail)


def _back(incident_id: str) -> Response:
    return redirect(url_for("ui.incident", incident_id=incident_id))  # type: ignore[return-value]


@ui.post("/incidents/<incident_id>/note")
@requires("operator")
def note_incident(incident_id: str) -> Response:
    try:
        engine().note_incident(incident_id, request.form.get("note", ""), by=who())
        flash("Note kept.", "ok")
    except BatonError as exc:
        flash(f"Note not kept: {exc}", "error")
    return _back(incident_id)


@ui.post("/incidents/<incident_id>/retries")
@requires("operator")
def set_incident_retries(incident_id: str) -> Response:
    raw = request.form.get("retries", "").strip()
    try:
        retries = int(raw)
    except ValueError:
        flash(f"Not retried: '{raw}' is not a whole number of attempts.", "error")
        return _back(incident_id)
    try:
        status = engine().set_incident_retries(incident_id, retries, by=who())
        flash(f"Incident resolved: the call runs again with {retries} attempt(s); the instance is {status}.", "ok")
    except BatonError as exc:
        flash(f"Not retried: {exc}", "error")
    return _back(incident_id)
