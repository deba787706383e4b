"""One instance: its diagram state, panels, live updates and the operator's actions.

The diagram is painted in the browser (``static/diagram.js``) from :func:`diagram_state`;
the panels are Jinja macros (``_instance_panels.html``) rendered both into the page and into
the live answer, so there is one way to draw each of them.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from engine import BatonError, Engine, FormInvalid, InstanceNotFound

from .auth import requires
from .ui import engine, int_arg, ui
from .ui_tasks import acting_user

log = logging.getLogger("baton.ui")
PANELS = ("summary", "actions", "changes", "children", "variables", "incidents", "jobs", "timeline")
DRAFT_KEY = "baton_instance_draft"  # a refused form's input ("message", "complete", "variables"...), shown once
TIMELINE_BARS = 200  # the newest runs drawn; the durations API has them all
HISTORY_PAGE = 100


def compensation(eng: Engine, instance_id: str) -> dict[str, Any] | None:
    """The compensation path in the shape the diagram draws, or None while the engine has none.

    ``executed`` gets each handler run's 1-based ``position`` in execution order; ``pending``
    flattens every scope's steps into the order they would run now.
    """
    if not hasattr(eng, "get_compensation"):  # the compensation issue has not landed yet
        return None
    try:
        raw = eng.get_compensation(instance_id) or {}
    except InstanceNotFound:
        raise
    except Exception:  # the page must still show what it can of a broken instance
        log.exception("no compensation path for instance %s", instance_id)
        return None
    executed = [{**step, "position": n} for n, step in enumerate(raw.get("executed") or [], start=1)]
    pending = []
    for scope in raw.get("pending") or []:
        for step in scope.get("steps") or []:
            pending.append({**step, "scope": scope.get("scope"), "position": len(pending) + 1})
    return {"executed": executed, "pending": pending}


def load(instance_id: str) -> dict[str, Any]:
    """Everything the page shows, or a 404 for an unknown id."""
    eng = engine()
    try:
        doc = eng.get_instance(instance_id, history=False)
        view = eng.instance_view(instance_id)
        token = eng.changes_token(instance_id)
    except InstanceNotFound:
        abort(404, description=f"There is no instance with the id '{instance_id}'.")
    view["user_tasks"] = eng.list_user_tasks(instance_id=instance_id)
    view["timeline"] = timeline(eng.instance_durations(instance_id))
    view["changes"] = change_options(eng, doc, view)
    return {"doc": doc, "view": view, "token": token, "compensation": compensation(eng, instance_id)}


def change_options(eng: Engine, doc: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """What the change forms offer: the tokens to cancel, the elements to start at, a newer version."""
    key, version = doc["definition"]["key"], doc["definition"]["version"]
    kinds = eng.element_kinds(key, version)
    tokens = sorted(e for e, info in view["elements"].items()
                    if info["state"] in ("active", "failed") and kinds.get(e) not in (None, "BoundaryEvent"))
    startable = sorted(e for e, kind in kinds.items() if kind not in ("StartEvent", "BoundaryEvent"))
    return {"tokens": tokens, "startable": startable, "latest_version": eng.latest_version(key)}


def timeline(durations: dict[str, Any]) -> dict[str, Any]:
    """The Gantt bars: each run's offset and width in percent of the instance's time so far."""
    instance = durations["instance"]
    total = max(instance["duration_ms"] or 0, 1)
    start = _ms(instance["started_at"])
    bars = []
    for run in durations["runs"][-TIMELINE_BARS:]:
        left = max(0.0, min(100.0, (_ms(run["started_at"]) - start) / total * 100))
        width = max(0.4, min(100.0 - left, (run["duration_ms"] or 0) / total * 100))
        bars.append({**run, "left": round(left, 3), "width": round(width, 3), "took": took(run["duration_ms"])})
    return {"bars": bars, "total": took(instance["duration_ms"]), "running": instance["running"],
            "started_at": instance["started_at"], "ended_at": instance["ended_at"],
            "elements": durations["elements"][:10], "hidden": max(0, len(durations["runs"]) - TIMELINE_BARS),
            "truncated": durations["truncated"]}


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000


def took(ms: int | None) -> str:
    """A duration as people read it: 850 ms, 3.2 s, 4 min 05 s, 2 h 03 min."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def diagram_state(data: dict[str, Any]) -> dict[str, Any]:
    doc = data["doc"]
    children = [{"id": c["id"], "element_id": c["element_id"], "status": c["status"], "key": c["definition"]["key"],
                 "url": url_for("ui.instance", instance_id=c["id"])} for c in doc.get("children") or []]
    return {"status": doc["status"], "elements": data["view"]["elements"], "compensation": data["compensation"],
            "incidents": data["view"]["incident_elements"], "token": data["token"], "children": children}


@ui.get("/instances/<instance_id>")
@requires("viewer")
def instance(instance_id: str) -> str:
    data = load(instance_id)
    draft = session.pop(DRAFT_KEY, None)
    if draft and draft.get("instance_id") == instance_id:
        data["view"]["draft"] = draft
    history = engine().instance_history(instance_id, limit=HISTORY_PAGE)
    return render_template("instance.html", **data, history=history, state=diagram_state(data), panels=PANELS)


@ui.get("/instances/<instance_id>/live")
@requires("viewer")
def instance_live(instance_id: str) -> Response:
    """Nothing when ``token`` is still current; else the diagram state and every panel redrawn."""
    try:
        token = engine().changes_token(instance_id)
    except InstanceNotFound:
        abort(404)
    if token == request.args.get("token"):
        response = jsonify({"changed": False, "token": token})
    else:
        data = load(instance_id)
        panels = {name: str(get_template_attribute("_instance_panels.html", name)(data["doc"], data["view"]))
                  for name in PANELS}
        history = engine().instance_history(instance_id, limit=HISTORY_PAGE)
        panels["history"] = str(get_template_attribute("_instance_panels.html", "history_rows")(
            instance_id, history, None))
        response = jsonify({"changed": True, "token": data["token"], "state": diagram_state(data), "panels": panels})
    response.headers["Cache-Control"] = "no-store"
    return response


@ui.get("/instances/<instance_id>/history")
@requires("viewer")
def instance_history(instance_id: str) -> str:
    """History rows as an HTML fragment: one element's (a click on the diagram) or older ones."""
    element_id = request.args.get("element") or None
    history = engine().instance_history(instance_id, element_id=element_id, before_seq=int_arg("before"),
                                        limit=HISTORY_PAGE)
    return str(get_template_attribute("_instance_panels.html", "history_rows")(instance_id, history, element_id))


def _back(instance_id: str) -> Response:
    return redirect(url_for("ui.instance", instance_id=instance_id))  # type: ignore[return-value]


@ui.post("/instances/<instance_id>/cancel")
@requires("operator")
def cancel_instance(instance_id: str) -> Response:
    try:
        engine().cancel(instance_id, request.form.get("reason") or None)
        flash("Instance cancelled.", "ok")
    except BatonError as exc:
        flash(str(exc), "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/retry")
@requires("operator")
def retry_instance_incident(instance_id: str) -> Response:
    try:
        engine().retry_incident(request.form.get("incident", ""))
        flash("Incident retried: the job runs again from attempt 1.", "ok")
    except BatonError as exc:
        flash(str(exc), "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/complete")
@requires("operator")
def complete_task(instance_id: str) -> Response:
    """The quick JSON completion: checked against the task's form and claim like the task page."""
    element_id = request.form.get("element", "")
    raw = request.form.get("variables", "")
    try:
        variables = json_object(raw, "variables")
        found = [t for t in engine().list_user_tasks(instance_id=instance_id) if t["element_id"] == element_id]
        if found:
            engine().complete_user_task_by_id(found[0]["id"], variables, acting_user())
        else:  # a manual task the list does not know: the engine says whether it waits
            engine().complete_user_task(instance_id, element_id, variables)
        flash(f"Completed {element_id}.", "ok")
    except FormInvalid as exc:
        session[DRAFT_KEY] = {"instance_id": instance_id, "complete": {"element": element_id, "variables": raw}}
        flash(f"Not completed: {'; '.join(f'{k} {v}' for k, v in exc.errors.items())}", "error")
    except (ValueError, BatonError) as exc:
        session[DRAFT_KEY] = {"instance_id": instance_id, "complete": {"element": element_id, "variables": raw}}
        flash(f"Not completed: {exc}", "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/suspend")
@requires("operator")
def suspend_instance(instance_id: str) -> Response:
    try:
        engine().suspend(instance_id)
        flash("Instance suspended: none of its jobs run and no message or user task reaches it until resumed.", "ok")
    except BatonError as exc:
        flash(f"Not suspended: {exc}", "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/resume")
@requires("operator")
def resume_instance(instance_id: str) -> Response:
    try:
        engine().resume(instance_id)
        flash("Instance resumed: its waiting jobs go out again.", "ok")
    except BatonError as exc:
        flash(f"Not resumed: {exc}", "error")
    return _back(instance_id)


def json_object(raw: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.strip() or "{}")
    except ValueError as exc:
        raise ValueError(f"The {what} are not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f'The {what} must be a JSON object, like {{"order_id": "A-1"}}')
    return value


def _seconds(raw: str) -> float | None:
    try:
        return float(raw) if raw.strip() else None
    except ValueError:
        raise ValueError(f"Keep for: '{raw}' is not a number of seconds.") from None


@ui.post("/instances/<instance_id>/message")
@requires("operator")
def send_message(instance_id: str) -> Response:
    """Publish a message (as ``POST /api/v1/messages`` does); a refusal keeps the input for the form."""
    form = request.form
    draft = {k: form.get(k, "") for k in ("name", "business_key", "correlation", "variables", "ttl")}
    name = draft["name"].strip()
    try:
        if not name:
            raise ValueError("Give the message's name.")
        correlation = json_object(draft["correlation"], "correlation keys")
        variables = json_object(draft["variables"], "variables")
        ttl = _seconds(draft["ttl"])
        result = engine().correlate(name, correlation=correlation, variables=variables,
                                    business_key=draft["business_key"].strip() or None, ttl_seconds=ttl)
    except (ValueError, BatonError) as exc:
        session[DRAFT_KEY] = {"instance_id": instance_id, "message": draft}
        flash(f"Message not sent: {exc}" if isinstance(exc, BatonError) else str(exc), "error")
        return _back(instance_id)
    target = result.get("instance_id")
    if result.get("result") == "delivered":
        where = "this instance" if target == instance_id else f"instance {target}"
        flash(f"Message {name} delivered to {where}.", "ok")
    elif result.get("result") == "started":
        flash(f"Message {name} started instance {target}.", "ok")
    else:
        flash(f"Message {name}: {result.get('result')}"
              f"{' until ' + result['expires_at'][:19] if result.get('expires_at') else ''}.", "ok")
    return _back(instance_id)


from . import ui_changes, ui_incident  # noqa: E402,F401  (their routes join ``ui``)
