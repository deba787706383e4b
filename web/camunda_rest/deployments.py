"""``/engine-rest``: the calls around external tasks that Camunda Modeler and scripts make.

``GET /version``, ``GET /deployment`` (the Modeler's connection check), ``POST /deployment/create``
(its Deploy button), ``POST /process-definition/{id}/start`` and ``/key/{key}/start`` (its Start
instance button), ``POST /message``, ``GET /process-instance/{id}`` and its ``/variables``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from engine import DefinitionNotFound, DeploymentError, InstanceNotFound, MessageNotCorrelated

from ..auth import current_identity, requires
from . import CAMUNDA_VERSION, body, camunda, camunda_time, engine, no_content
from .errors import CamundaError
from .variables import typed_map, values_of

#: Parts of a deployment that Baton deploys; the rest (Camunda Forms, HTML forms, scripts) are
#: accepted and not kept (docs/camunda7.md).
DEPLOYABLE = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml", ".xml",
              ".form", ".html", ".htm")  # forms a diagram names (camunda:formKey ...deployment:NAME)
#: Form fields of ``/deployment/create`` that are settings, not files.
SETTINGS = ("deployment-name", "deployment-source", "enable-duplicate-filtering", "deploy-changed-only",
            "tenant-id", "deployment-activation-time")


def _link(path: str, rel: str = "self") -> dict[str, str]:
    return {"method": "GET", "href": request.host_url.rstrip("/") + "/engine-rest" + path, "rel": rel}


@camunda.get("/version")
@requires("viewer")
def version() -> Response:
    return jsonify({"version": CAMUNDA_VERSION})


def _deployment(found: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    return {"links": [_link(f"/deployment/{found['id']}")], "id": found["id"], "name": found["name"],
            "source": source, "deploymentTime": camunda_time(found["deployed_at"]), "tenantId": None}


@camunda.get("/deployment")
@requires("viewer")
def deployments() -> Response:
    first = request.args.get("firstResult", type=int) or 0
    limit = request.args.get("maxResults", type=int)
    if limit == 0:  # Camunda Modeler's connection check: an empty page, cheaply
        return jsonify([])
    found = engine().list_deployments(limit=min(limit or 100, 1000), offset=max(first, 0))
    return jsonify([_deployment(d) for d in found["items"]])


def _definitions_by_id() -> dict[str, dict[str, Any]]:
    return {v["id"]: {"key": d["key"], **v} for d in engine().list_definitions() for v in d["versions"]}


def _definition_dto(found: dict[str, Any], deployment_id: str | None) -> dict[str, Any]:
    return {"id": found["id"], "key": found["key"], "category": None, "description": None, "name": found["name"],
            "version": found["version"], "resource": found["file"], "deploymentId": deployment_id,
            "diagram": None, "suspended": False, "tenantId": None, "versionTag": None,
            "historyTimeToLive": None, "startableInTasklist": True}


def _refusal(exc: DeploymentError) -> CamundaError:
    """The prefix makes Camunda Modeler say 'could not parse the diagram' and log the message."""
    lines = [str(p) for p in exc.problems] or ["nothing to deploy: send the diagrams as multipart file parts"]
    details: dict[str, Any] = {}
    for p in exc.problems:
        entry = details.setdefault(p.file, {"errors": [], "warnings": []})
        entry["errors"].append({"message": p.reason, "line": p.line, "column": 0,
                                "mainElementId": p.element_id, "elementIds": [p.element_id] if p.element_id else []})
    message = "ENGINE-09005 Could not parse BPMN process. Errors:\n" + "\n".join(f"* {line}" for line in lines)
    return CamundaError(400, "ParseException", message, details=details)


@camunda.post("/deployment/create")
@requires("admin")
def create_deployment() -> Response:
    if request.mimetype != "multipart/form-data":
        raise CamundaError(400, "InvalidRequestException", "a deployment is multipart/form-data: one part per file")
    files = [(f.filename or name, f.read()) for name, f in request.files.items(multi=True) if name not in SETTINGS]
    deployable = [(name, data) for name, data in files if name.lower().endswith(DEPLOYABLE)]
    name = request.form.get("deployment-name") or None
    source = request.form.get("deployment-source") or None
    identity = current_identity()
    try:
        results = engine().deploy(deployable, name=(name or "")[:200] or None,
                                  deployed_by=identity.label if identity else None)
    except DeploymentError as exc:
        raise _refusal(exc) from exc
    known = _definitions_by_id()
    made = {r.id: known[r.id] for r in results if r.id in known}
    decisions = [r for r in results if r.kind == "decision"]  # a DMN file deployed alone
    # the deployment that holds them: the new one, or (all unchanged) the one that made them
    holder = next((d for d in engine().list_deployments(limit=200)["items"]
                   if set(made) & {x["id"] for x in d["definitions"]}
                   or {r.key for r in decisions} & {x["decision_id"] for x in d["decisions"]}), None)
    deployment_id = holder["id"] if holder else None
    answer: dict[str, Any] = _deployment(holder, source) if holder else {
        "links": [], "id": None, "name": name, "source": source, "deploymentTime": None, "tenantId": None}
    # Camunda lists only new definitions; Baton lists the unchanged ones too, so "Start instance"
    # after a deploy without changes still knows what to start (docs/camunda7.md).
    answer.update(deployedProcessDefinitions={i: _definition_dto(v, deployment_id) for i, v in made.items()} or None,
                  deployedCaseDefinitions=None,
                  deployedDecisionDefinitions={f"{r.key}:{r.version}": _decision_dto(r, deployment_id)
                                               for r in decisions} or None,
                  deployedDecisionRequirementsDefinitions=None)
    return jsonify(answer)


def _decision_dto(result: Any, deployment_id: str | None) -> dict[str, Any]:
    """Camunda's ``DecisionDefinitionDto`` for a decision deployed alone."""
    return {"id": f"{result.key}:{result.version}", "key": result.key, "category": None, "name": None,
            "version": result.version, "resource": None, "deploymentId": deployment_id, "tenantId": None,
            "decisionRequirementsDefinitionId": None, "decisionRequirementsDefinitionKey": None,
            "historyTimeToLive": None, "versionTag": None}


def _instance_dto(instance_id: str, definition_id: str | None, business_key: str | None,
                  status: str) -> dict[str, Any]:
    return {"links": [_link(f"/process-instance/{instance_id}")], "id": instance_id,
            "definitionId": definition_id, "businessKey": business_key, "caseInstanceId": None,
            "ended": status in ("completed", "compensated", "cancelled"), "suspended": status == "suspended",
            "tenantId": None}


def _start(key: str, version: int | None, definition_id: str | None) -> Response:
    data = body()
    variables = values_of(data.get("variables"))
    business_key = data.get("businessKey")
    if business_key is not None and not isinstance(business_key, str):
        raise CamundaError(400, "InvalidRequestException", "businessKey must be a string")
    # Camunda has no Idempotency-Key; Baton honours it here as on /api/v1 (docs/camunda7.md), so a
    # client retrying a start whose answer was lost gets the first instance back, not a second one.
    caller = current_identity()
    assert caller is not None, "a protected view runs only for an identified caller"
    instance_id = engine().start(key, variables, business_key=business_key, version=version,
                                 idempotency_key=request.headers.get("Idempotency-Key"),
                                 caller=f"{caller.kind}:{caller.id}",
                                 started_by=caller.name if caller.kind == "user" else None)
    doc = engine().get_instance(instance_id, history=False)
    if definition_id is None:
        definition_id = next((i for i, v in _definitions_by_id().items()
                              if v["key"] == key and v["version"] == doc["definition"]["version"]), None)
    answer = _instance_dto(instance_id, definition_id, doc["business_key"], doc["status"])
    if data.get("withVariablesInReturn"):
        answer["variables"] = typed_map(doc.get("variables") or {})
    return jsonify(answer)


@camunda.post("/process-definition/<definition_id>/start")
@requires("operator")
def start_by_id(definition_id: str) -> Response:
    found = _definitions_by_id().get(definition_id)
    if found is None:
        raise CamundaError(404, "RestException", f"No matching definition with id {definition_id}")
    return _start(found["key"], found["version"], definition_id)


@camunda.post("/process-definition/key/<key>/start")
@requires("operator")
def start_by_key(key: str) -> Response:
    try:
        return _start(key, None, None)
    except DefinitionNotFound as exc:
        raise CamundaError(404, "RestException",
                           f"No matching process definition with key: {key} and no tenant-id") from exc


@camunda.post("/message")
@requires("operator")
def correlate() -> Response:
    data = body()
    name = data.get("messageName")
    if not isinstance(name, str) or not name:
        raise CamundaError(400, "InvalidRequestException", "messageName is required")
    keys = values_of(data.get("correlationKeys"), "correlationKeys")
    keys.update(values_of(data.get("localCorrelationKeys"), "localCorrelationKeys"))
    variables = values_of(data.get("processVariables"), "processVariables")
    variables.update(values_of(data.get("processVariablesLocal"), "processVariablesLocal"))
    business_key = data.get("businessKey")
    try:
        result = engine().correlate(name, correlation=keys, variables=variables,
                                    business_key=business_key if isinstance(business_key, str) else None)
    except MessageNotCorrelated as exc:
        raise CamundaError(400, "RestException", f"Cannot correlate message '{name}': No process definition or "
                                                 f"execution matches the parameters ({exc})") from exc
    if not data.get("resultEnabled"):
        return no_content()
    instance_id = result.get("instance_id")
    doc = engine().get_instance(instance_id, history=False) if instance_id else None
    dto = _instance_dto(instance_id, None, doc["business_key"], doc["status"]) if doc else None
    if result.get("result") == "started":
        entry = {"resultType": "ProcessDefinition", "execution": None, "processInstance": dto}
    else:
        entry = {"resultType": "Execution", "processInstance": None,
                 "execution": {"id": instance_id, "processInstanceId": instance_id, "ended": False,
                               "tenantId": None} if instance_id else None}
    if data.get("variablesInResultEnabled") and doc:
        entry["variables"] = typed_map(doc.get("variables") or {})
    return jsonify([entry])


def _running(instance_id: str) -> dict[str, Any]:
    """Camunda's runtime view: an instance that ended is not there any more (Baton's UI keeps it)."""
    try:
        doc = engine().get_instance(instance_id, history=False)
    except InstanceNotFound as exc:
        raise CamundaError(404, "InvalidRequestException",
                           f"Process instance with id {instance_id} does not exist") from exc
    if doc["status"] in ("completed", "compensated", "cancelled"):
        raise CamundaError(404, "InvalidRequestException", f"Process instance with id {instance_id} does not exist")
    return doc


@camunda.get("/process-instance/<instance_id>")
@requires("viewer")
def get_instance(instance_id: str) -> Response:
    doc = _running(instance_id)
    definition_id = next((i for i, v in _definitions_by_id().items() if v["key"] == doc["definition"]["key"]
                          and v["version"] == doc["definition"]["version"]), None)
    return jsonify(_instance_dto(instance_id, definition_id, doc["business_key"], doc["status"]))


@camunda.get("/process-instance/<instance_id>/variables")
@requires("viewer")
def instance_variables(instance_id: str) -> Response:
    return jsonify(typed_map(_running(instance_id).get("variables") or {}))


def _form_dto(found: dict[str, Any] | None) -> dict[str, Any]:
    """Camunda's ``FormDto``: the form key (or Camunda Form reference) the diagram names. Forms
    deployed with the diagram belong to no process application: ``contextPath`` is null."""
    if found is None:
        return {"key": None, "camundaFormRef": None, "contextPath": None}
    ref = found.get("form_ref")
    return {"key": found.get("key"), "contextPath": None, "camundaFormRef": ref and {
        "key": ref["key"], "binding": ref["binding"], "version": ref["version"]}}


@camunda.get("/process-definition/<definition_id>/startForm")
@requires("viewer")
def start_form_by_id(definition_id: str) -> Response:
    found = _definitions_by_id().get(definition_id)
    if found is None:
        raise CamundaError(404, "RestException", f"No matching definition with id {definition_id}")
    return jsonify(_form_dto(engine().start_form(found["key"], found["version"])))


@camunda.get("/process-definition/key/<key>/startForm")
@requires("viewer")
def start_form_by_key(key: str) -> Response:
    try:
        return jsonify(_form_dto(engine().start_form(key)))
    except DefinitionNotFound as exc:
        raise CamundaError(404, "RestException",
                           f"No matching process definition with key: {key} and no tenant-id") from exc


@camunda.get("/task/<task_id>/form")
@requires("viewer")
def task_form(task_id: str) -> Response:
    return jsonify(_form_dto(engine().task_form_reference(task_id)))
