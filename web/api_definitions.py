"""``/api/v1``: deployments and process definitions (keys, versions, their XML)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request

from engine import DefinitionNotFound

from .api import api, engine, identity
from .auth import requires
from .openapi import RequestInvalid, query


@api.get("/deployments")
@requires("viewer")
def list_deployments() -> Response:
    args = query()
    return jsonify(engine().list_deployments(limit=args.get("limit", 100), offset=args.get("offset", 0)))


@api.get("/deployments/<deployment_id>")
@requires("viewer")
def get_deployment(deployment_id: str) -> Response:
    return jsonify(engine().get_deployment(deployment_id))


@api.get("/deployments/<deployment_id>/files/<path:file_name>")
@requires("viewer")
def deployment_file(deployment_id: str, file_name: str) -> Response:
    """One file of a deployment, as deployed (a download)."""
    text = engine().deployment_file(deployment_id, file_name)
    return Response(text, mimetype="application/xml", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name.rsplit('/', 1)[-1])}"})


@api.delete("/deployments/<deployment_id>")
@requires("admin")
def delete_deployment(deployment_id: str) -> Response:
    """Delete a deployment with no instance that has not ended (ended ones go with it)."""
    return jsonify(engine().delete_deployment(deployment_id))


@api.post("/deployments")
@requires("admin")
def deploy() -> Any:
    """Multipart ``files`` (any other file field is taken too), deployed together; ``name`` optional."""
    if request.mimetype != "multipart/form-data":
        raise RequestInvalid(["send the diagrams as multipart/form-data files named 'files'"])
    files = [(f.filename or "upload.bpmn", f.read()) for _, f in request.files.items(multi=True)]
    if not files:
        raise RequestInvalid(["send the diagrams as multipart form files named 'files'"])
    name = request.form.get("name") or None
    if name is not None and len(name) > 200:
        raise RequestInvalid(["name must have at most 200 characters"])
    results = engine().deploy(files, name=name, deployed_by=identity().label)
    return jsonify({"deployed": [
        {"key": r.key, "version": r.version, "id": r.id, "created": r.created, "kind": r.kind} for r in results
    ]}), 201


@api.get("/process-definitions")
@requires("viewer")
def list_definitions() -> Response:
    return jsonify({"items": engine().list_definitions()})


def _definition(key: str) -> dict[str, Any]:
    for item in engine().list_definitions():
        if item["key"] == key:
            return item
    raise DefinitionNotFound(f"no process definition {key!r}")


@api.get("/process-definitions/<key>")
@requires("viewer")
def get_definition(key: str) -> Response:
    return jsonify(_definition(key))


@api.get("/process-definitions/<key>/versions/<int:version>")
@requires("viewer")
def get_definition_version(key: str, version: int) -> Response:
    found = next((v for v in _definition(key)["versions"] if v["version"] == version), None)
    if found is None:
        raise DefinitionNotFound(f"process definition {key!r} has no version {version}")
    return jsonify({"key": key, **found, "xml": engine().definition_xml(key, version)})


@api.get("/process-definitions/<key>/versions/<int:version>/element-counts")
@requires("viewer")
def element_counts(key: str, version: int) -> Response:
    """Per element of one version: instances active there, open incidents, completed, cancelled."""
    return jsonify(engine().element_counts(key, version))


@api.get("/process-definitions/<key>/start-form")
@requires("viewer")
def start_form(key: str) -> Response:
    """The form to start ``key`` with (Camunda 7's start form on its none start event), or null;
    ``POST .../start`` validates its variables against it, as the UI's start does."""
    version = query().get("version")
    definition = _definition(key)
    if version is not None and not any(v["version"] == version for v in definition["versions"]):
        raise DefinitionNotFound(f"process definition {key!r} has no version {version}")
    return jsonify({"key": key, "version": version or definition["latest_version"],
                    "form": engine().start_form(key, version)})


@api.get("/process-definitions/<key>/xml")
@requires("viewer")
def definition_xml(key: str) -> Response:
    return Response(engine().definition_xml(key, query().get("version")), mimetype="application/xml")
