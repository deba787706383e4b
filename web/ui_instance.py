"""One instance: its diagram state, panels, live updates and the operator's actions.

The diagram is painted in the browser (``static/diagram.js``) from :func:`diagram_state`;
the panels are Jinja macros (``_instance_panels.html``) rendered both into the page and into
the live answer, so there is one way to draw each of them.
"""

from __future__ import annotations

import json
import logging
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
    url_for,
)

from engine import BatonError, Engine, InstanceNotFound

from .auth import requires
from .ui import engine, int_arg, ui

log = logging.getLogger("baton.ui")
PANELS = ("summary", "actions", "variables", "incidents", "jobs")
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
    return {"doc": doc, "view": view, "token": token, "compensation": compensation(eng, instance_id)}


def diagram_state(data: dict[str, Any]) -> dict[str, Any]:
    doc = data["doc"]
    return {"status": doc["status"], "elements": data["view"]["elements"], "compensation": data["compensation"],
            "incidents": data["view"]["incident_elements"], "token": data["token"]}


@ui.get("/instances/<instance_id>")
@requires("viewer")
def instance(instance_id: str) -> str:
    data = load(instance_id)
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
    element_id = request.form.get("element", "")
    raw = request.form.get("variables", "").strip() or "{}"
    try:
        variables = json.loads(raw)
    except ValueError as exc:
        flash(f"The variables are not JSON: {exc}", "error")
        return _back(instance_id)
    try:
        engine().complete_user_task(instance_id, element_id, variables)
        flash(f"Completed {element_id}.", "ok")
    except BatonError as exc:
        flash(str(exc), "error")
    return _back(instance_id)
