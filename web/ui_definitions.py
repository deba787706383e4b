"""Definitions: every key and version, deploy by upload or from the modeler, start an instance.

A refused deployment is never an error page: the refusals are listed per element and, when
the upload was one readable diagram, drawn on it (``static/diagram.js``).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for

from engine import BatonError, DefinitionNotFound, DeploymentError, FormInvalid, InvalidRequest

from .auth import current_identity, requires
from .ui import NOT_JSON, engine, int_arg, ui
from .ui_tasks import FIELD_PREFIX

PREVIEW_LIMIT = 2 * 1024 * 1024  # a refused upload larger than this is listed, not drawn


def render_definitions(*, problems: list[dict[str, Any]] | None = None,
                       previews: list[dict[str, Any]] | None = None, status: int = 200,
                       name: str = "") -> tuple[str, int]:
    """The definitions page; a refused deploy keeps the deployment name that was typed."""
    return render_template("definitions.html", definitions=engine().list_definitions(), problems=problems,
                           previews=previews or [], name=name), status


def _previews(files: list[tuple[str, bytes]], problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each uploaded diagram to draw its own refusals on: small, text, with a diagram in it.
    A refusal is drawn on the file it names (a refusal naming no file: on every diagram)."""
    previews: list[dict[str, Any]] = []
    budget = PREVIEW_LIMIT
    for name, data in files:
        if len(data) > budget:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if "BPMNDiagram" not in text:
            continue
        budget -= len(data)
        mine = [p for p in problems if p.get("file") in (name, None, "", "upload")]
        previews.append({"file": name, "xml": text, "problems": mine})
    return previews


@ui.get("/definitions")
@requires("viewer")
def definitions() -> tuple[str, int]:
    return render_definitions()


@ui.post("/definitions/deploy")
@requires("admin")
def deploy() -> Any:
    files = [(f.filename or "upload.bpmn", f.read()) for f in request.files.getlist("files") if f.filename]
    if not files:
        return render_definitions(problems=[{"file": "upload", "line": None, "element_id": None,
                                             "reason": "choose one or more .bpmn files to deploy"}], status=400)
    try:
        results = engine().deploy(files, name=request.form.get("name") or None)
    except DeploymentError as exc:
        problems = [p.to_dict() for p in exc.problems] or [
            {"file": "upload", "line": None, "element_id": None, "reason": "nothing to deploy"}]
        return render_definitions(problems=problems, previews=_previews(files, problems), status=422,
                                  name=request.form.get("name", ""))
    flash("; ".join(r.describe() for r in results) or "nothing deployed", "ok")
    if len(results) == 1 and results[0].kind == "process":
        return redirect(url_for("ui.definition", key=results[0].key, version=results[0].version))
    return redirect(url_for("ui.definitions"))


@ui.get("/definitions/<key>")
@requires("viewer")
def definition(key: str, form: dict[str, str] | None = None, status: int = 200,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> Any:
    found = next((d for d in engine().list_definitions() if d["key"] == key), None)
    if found is None:
        abort(404, description=f"There is no process definition '{key}'.")
    version = int_arg("version") or found["latest_version"]
    if not any(v["version"] == version for v in found["versions"]):
        abort(404, description=f"'{key}' has no version {version}.")
    start_form = engine().start_form(key, version)  # Camunda 7's start form (camunda:formKey on the start event)
    if start_form and values is None:
        values = {f["id"]: f.get("default") for f in start_form["fields"]}
    return render_template("definition.html", definition=found, version=version, form=form or {},
                           start_form=start_form, values=values or {}, errors=errors or {},
                           prefix=FIELD_PREFIX), status


@ui.get("/definitions/<key>/v<int:version>.bpmn")
@requires("viewer")
def definition_xml(key: str, version: int) -> Response:
    try:
        xml = engine().definition_xml(key, version)
    except DefinitionNotFound:
        abort(404)
    response = Response(xml, mimetype="application/xml")
    # A deployed version never changes: let the browser keep it (private: it needs a login to see).
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{key}_v{version}.bpmn"'
    return response


@ui.post("/definitions/<key>/start")
@requires("operator")
def start(key: str) -> Any:
    form = {k: request.form.get(k, "") for k in ("variables", "business_key", "version")}
    version = int(form["version"]) if form["version"].isdigit() else None
    start_form = engine().start_form(key, version)
    try:
        if start_form:  # the start form's fields, checked as a task form's are
            typed = _start_form_values(start_form["fields"])
            try:
                variables = engine().validate_start_form(key, typed, version)
            except FormInvalid as exc:
                return definition(key, form=form, status=422, errors=dict(exc.errors), values=typed)
        else:
            variables = json.loads(form["variables"].strip() or "{}")
        starter = current_identity()  # a user who starts it is the diagram's camunda:initiator
        user = starter.name if starter is not None and starter.kind == "user" else None
        instance_id = engine().start(key, variables, business_key=form["business_key"].strip() or None,
                                     version=version, started_by=user)
    except ValueError as exc:  # json.JSONDecodeError
        flash(NOT_JSON.format(exc), "error")
        return definition(key, form=form, status=400)
    except BatonError as exc:
        flash(str(exc), "error")
        return definition(key, form=form, status=400)
    return redirect(url_for("ui.instance", instance_id=instance_id))


def _start_form_values(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """What was typed into a start form, field by field (a checkbox: "true"/"false"; empty: left out)."""
    values: dict[str, Any] = {}
    for field in fields:
        if field["type"] == "text":
            continue
        raw = request.form.get(FIELD_PREFIX + field["id"], "")
        if field["type"] == "boolean":
            values[field["id"]] = "true" if raw else "false"
        elif raw.strip():
            values[field["id"]] = raw
    return values


@ui.get("/modeler")
@requires("viewer")
def modeler() -> str:
    key = request.args.get("key") or None
    version = int_arg("version")
    if key and not version:
        version = next((d["latest_version"] for d in engine().list_definitions() if d["key"] == key), None)
    source = url_for("ui.definition_xml", key=key, version=version) if key and version else None
    return render_template("modeler.html", key=key, version=version, source=source,
                           definitions=engine().list_definitions())


@ui.post("/modeler/deploy")
@requires("admin")
def modeler_deploy() -> tuple[Response, int]:
    """The modeler's deploy: JSON ``{xml, file_name}`` in; ``{redirect}`` or ``{problems}`` out."""
    body = request.get_json(silent=True) or {}
    xml = body.get("xml")
    if not isinstance(xml, str) or not xml.strip():
        return jsonify({"problems": [{"file": "modeler", "line": None, "element_id": None,
                                      "reason": "the modeler sent no diagram"}]}), 400
    file_name = str(body.get("file_name") or "modeler.bpmn")[:200]
    try:
        results = engine().deploy([(file_name, xml.encode("utf-8"))], name=f"modeler: {file_name}")
    except DeploymentError as exc:
        return jsonify({"problems": [p.to_dict() for p in exc.problems]}), 422
    except InvalidRequest as exc:
        return jsonify({"problems": [{"file": file_name, "line": None, "element_id": None, "reason": str(exc)}]}), 400
    flash("; ".join(r.describe() for r in results), "ok")
    first = results[0]
    if first.kind != "process":  # a DMN file deployed alone
        return jsonify({"redirect": url_for("ui.definitions")}), 200
    return jsonify({"redirect": url_for("ui.definition", key=first.key, version=first.version)}), 200


@ui.get("/render")
@requires("viewer")
def render_only() -> str:
    """A bare viewer that draws XML handed to ``window.batonRender(xml)``: checks and tests."""
    return render_template("render.html")
