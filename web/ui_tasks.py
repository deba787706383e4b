"""User tasks: the task list, claiming, and one task's form.

The form is built from the task's Camunda form fields (``engine.get_user_task(...)["form"]``), or
is a plain JSON editor when the diagram defines none. A SpiffArena JSON Schema form is drawn in
the browser by json-editor from the deployed schema and UI schema (``static/schema_form.js``),
which posts the value as JSON in one field (``json``); the server-rendered fields are its
fallback without JavaScript. The server is the only judge of the input, with the same schema
either way: a refused submission renders the same page again with each field's message next to
it and everything the user typed still in place; nothing about the task changes.

Who claims and completes is the signed-in user (:func:`acting_user`); reading the list and the
forms needs the viewer role, changing a task the operator role.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from engine import BatonError, FormInvalid, TaskNotFound

from .auth import current_identity, requires
from .ui import NOT_JSON, engine, ui

FIELD_PREFIX = "v."  # form inputs are "v.<field id>", so a field id never collides with csrf_token & co.


def acting_user() -> str | None:
    """The signed-in user, who claims and completes (None: nobody is signed in)."""
    identity = current_identity()
    return identity.name if identity is not None and identity.kind == "user" else None


# -- helpers for the templates -----------------------------------------------------------------

@ui.app_template_filter("age")
def _age(value: str | None) -> str:
    """How long ago an ISO time was, roughly: ``42 s``, ``5 min``, ``3 h``, ``2 d``."""
    if not value:
        return ""
    then = datetime.fromisoformat(value)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _filters() -> dict[str, Any]:
    user = request.args.get("user", "").strip() or None
    groups = [g.strip() for g in request.args.get("group", "").split(",") if g.strip()]
    return {"user": user, "groups": groups}


def _tasks(filters: dict[str, Any]) -> list[dict[str, Any]]:
    return engine().list_user_tasks(user=filters["user"], groups=filters["groups"] or None)


def _token(tasks: list[dict[str, Any]]) -> str:
    """Changes when a listed task comes, goes or changes hands, and once a minute (the ages)."""
    seen = "|".join(f"{t['id']}:{t['claimed_by'] or ''}" for t in tasks)
    return hashlib.sha1(f"{seen}#{int(time.time() // 60)}".encode()).hexdigest()[:16]


def _back_to_list() -> Response:
    back = request.form.get("next") or ""
    safe = back.startswith("/") and not back.startswith(("//", "/\\"))  # never another site
    return redirect(back if safe else url_for("ui.tasks"))  # type: ignore[return-value]


# -- the list ------------------------------------------------------------------------------------

@ui.get("/tasks")
@requires("viewer")
def tasks() -> str:
    filters = _filters()
    items = _tasks(filters)
    return render_template("tasks.html", items=items, filters=filters, token=_token(items), me=acting_user())


@ui.get("/tasks/changes")
@requires("viewer")
def tasks_changes() -> Response:
    """The task list's live token for the same filters (see ``data-changes-url`` in baton.js)."""
    response = jsonify({"token": _token(_tasks(_filters()))})
    response.headers["Cache-Control"] = "no-store"
    return response


@ui.post("/tasks/<task_id>/claim")
@requires("operator")
def claim_task(task_id: str) -> Response:
    me = acting_user()
    if not me:
        flash("Only a signed-in user can claim a task.", "error")
        return _back_to_list()
    try:
        task = engine().claim_user_task(task_id, me)
        flash(f"You claimed {task['name']}.", "ok")
    except BatonError as exc:
        flash(f"Not claimed: {exc}", "error")
    return _back_to_list()


@ui.post("/tasks/<task_id>/unclaim")
@requires("operator")
def unclaim_task(task_id: str) -> Response:
    me, identity = acting_user(), current_identity()
    try:
        task = engine().get_user_task(task_id)
        if task["claimed_by"] and task["claimed_by"] != me and not (identity and identity.may("admin")):
            flash(f"{task['name']} is claimed by {task['claimed_by']}; only they or an admin can give it back.",
                  "error")
        else:
            engine().claim_user_task(task_id, None)
            flash(f"{task['name']} is open to its candidates again.", "ok")
    except BatonError as exc:
        flash(str(exc), "error")
    return _back_to_list()


# -- one task ----------------------------------------------------------------------------------

def _field_values(form: list[dict[str, Any]]) -> dict[str, Any]:
    """What was typed, field by field, as text (a checkbox: "true"/"false"); an empty field is None."""
    values: dict[str, Any] = {}
    for field in form:
        name = FIELD_PREFIX + field["id"]
        if field["type"] == "boolean":
            values[field["id"]] = "true" if request.form.get(name) else "false"
        else:
            raw = request.form.get(name, "")
            values[field["id"]] = raw if raw.strip() else None
    return values


def _defaults(form: list[dict[str, Any]]) -> dict[str, Any]:
    return {f["id"]: f.get("default") for f in form}


def _schema_form(form: list[dict[str, Any]], values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any] | None:
    """What ``schema_form.js`` draws a JSON Schema form from (None: the task has none): the deployed
    schema and UI schema, the values to start from, the server's errors by property."""
    root = next((f for f in form if "root_schema" in f), None)
    if root is None:
        return None
    return {"schema": root["root_schema"], "ui": root.get("root_ui") or {}, "orders": root.get("root_orders") or {},
            "values": {k: v for k, v in values.items() if v is not None}, "errors": errors}


def _render_task(task: dict[str, Any], *, values: dict[str, Any], raw_json: str, errors: dict[str, str],
                 status: int = 200) -> tuple[str, int]:
    instance = None
    with contextlib.suppress(BatonError):  # the instance ended meanwhile: the page shows the task alone
        instance = engine().get_instance(task["instance_id"], history=False)
    return render_template("task.html", task=task, values=values, raw_json=raw_json, errors=errors,
                           instance=instance, me=acting_user(), prefix=FIELD_PREFIX,
                           schema_form=_schema_form(task["form"], values, errors)), status


@ui.get("/tasks/<task_id>")
@requires("viewer")
def task(task_id: str) -> Any:
    try:
        found = engine().get_user_task(task_id)
    except TaskNotFound:
        return render_template("404.html", message="There is no open task with this id: it was completed, its "
                               "instance moved on or ended, or it never existed.",
                               back=url_for("ui.tasks"), back_label="Open tasks"), 404
    return _render_task(found, values=_defaults(found["form"]), raw_json="{\n  \n}", errors={})


@ui.post("/tasks/<task_id>")
@requires("operator")
def complete_task_form(task_id: str) -> Any:
    try:
        found = engine().get_user_task(task_id)
    except TaskNotFound:
        flash("That task is no longer open: it was completed, or its instance moved on or ended. "
              "Nothing was submitted.", "error")
        return redirect(url_for("ui.tasks"))
    me = acting_user()
    raw_json = request.form.get("variables", "")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "json" in request.form and _schema_form(found["form"], {}, {}) is not None:
        values, problem = _parse_json(request.form["json"])  # the form schema_form.js drew
        variables = values
        if problem:
            errors["variables"] = problem
    elif found["form"]:
        variables = values = _field_values(found["form"])
    else:
        variables, problem = _parse_json(raw_json)
        if problem:
            errors["variables"] = problem
    if not errors and found["claimed_by"] and found["claimed_by"] != me:
        flash(f"This task is claimed by {found['claimed_by']}; it was not completed. "
              "Ask them to give it back first.", "error")
        return _render_task(found, values=values, raw_json=raw_json, errors={}, status=409)
    if not errors:
        try:
            status = engine().complete_user_task_by_id(task_id, variables, me)
        except FormInvalid as exc:
            errors = dict(exc.errors)
        except BatonError as exc:
            flash(f"Not completed: {exc}", "error")
            return _render_task(found, values=values, raw_json=raw_json, errors={}, status=409)
        else:
            _flash_completed(found, status)
            return redirect(url_for("ui.tasks"))
    flash(f"Nothing was submitted: {len(errors)} field(s) need a change.", "error")
    return _render_task(found, values=values, raw_json=raw_json, errors=errors, status=422)


def _flash_completed(task: dict[str, Any], status: str) -> None:
    """Say how the instance goes on. One that stopped on an incident is not a success to show in
    green: it says so, in warning colours, with the link to the instance to look at it."""
    link = {"href": url_for("ui.instance", instance_id=task["instance_id"]),
            "link": f"Open instance {task['instance_id'][:8]}"}
    name = task["name"] or task["element_id"]
    if status == "incident":
        flash({"text": f"Completed {name}, but the instance then stopped on an incident: it needs an operator.",
               **link}, "warn")
    elif status in ("cancelled", "terminated"):
        flash({"text": f"Completed {name}; the instance then ended as {status}.", **link}, "warn")
    else:
        flash({"text": f"Completed {name}; the instance is {status}.", **link}, "ok")


def _parse_json(raw: str) -> tuple[dict[str, Any], str | None]:
    try:
        value = json.loads(raw.strip() or "{}")
    except ValueError as exc:
        return {}, NOT_JSON.format(exc)
    if not isinstance(value, dict):
        return {}, 'must be a JSON object, like {"approved": true}'
    return value, None
