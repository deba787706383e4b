"""The REST API's schemas and operations: the data ``web/openapi.py`` makes the document from.

One :class:`Operation` per Flask endpoint (``api.<view name>``); paths, methods and roles come
from the routes themselves. A new route needs its operation here, or ``tests/test_openapi.py``
fails. Nullable fields are ``["string", "null"]`` (OpenAPI 3.1 is JSON Schema 2020-12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Schema], required: tuple[str, ...] | None = None, *, extra: bool | Schema = True) -> Schema:
    """An object; every property is required unless ``required`` names fewer."""
    return {"type": "object", "properties": props, "required": list(props if required is None else required),
            "additionalProperties": extra}


def items_of(schema: Schema, **more: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": schema}, **more})


STR: Schema = {"type": "string"}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 200}
NSTR: Schema = {"type": ["string", "null"]}
WORD: Schema = {"type": "string", "minLength": 1}  # a query filter: given, it is not empty
INT: Schema = {"type": "integer"}
NINT: Schema = {"type": ["integer", "null"]}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
NOBJ: Schema = {"type": ["object", "null"]}
TIME: Schema = {"type": ["string", "null"], "description": "ISO 8601, UTC"}
INT32 = 2**31 - 1  # what every database stores; larger numbers are refused, not overflowed
VERSION: Schema = {"type": "integer", "minimum": 1, "maximum": INT32}
ROLE: Schema = {"type": "string", "enum": ["viewer", "operator", "admin"]}
STATUSES = ["running", "waiting", "incident", "completed", "compensated", "cancelled", "terminated", "suspended"]
VARIABLES: Schema = {"type": "object", "description": "process variables: a JSON object"}
NVARIABLES: Schema = {"type": ["object", "null"], "description": "process variables: a JSON object"}

SCHEMAS: dict[str, Schema] = {
    "Problem": obj({"type": STR, "title": STR, "status": INT, "detail": STR,
                    "errors": {"description": "each problem: a list, or field -> message"},
                    "problems": {"type": "array", "items": ref("DeployProblem")}},
                   ("type", "title", "status", "detail")),
    "DeployProblem": obj({"file": STR, "line": NINT, "element_id": NSTR, "reason": STR}),
    "Identity": obj({"kind": {"type": "string", "enum": ["user", "token", "bootstrap"]}, "id": STR, "name": STR,
                     "role": ROLE}),
    "DefinitionRef": obj({"key": STR, "version": INT, "name": NSTR}, ("key", "version")),
    "Deployment": obj({"id": STR, "name": STR, "deployed_by": NSTR, "deployed_at": TIME, "checksum": STR,
                       "definitions": {"type": "array", "items": obj({"key": STR, "version": INT, "name": NSTR,
                                                                      "file": STR, "id": STR})},
                       "decisions": {"type": "array", "description": "the decisions of its DMN files",
                                     "items": obj({"decision_id": STR, "name": NSTR, "file": STR})}}),
    "Deployed": obj({"deployed": {"type": "array", "items": obj({
        "key": {"type": "string", "description": "the process key, or the decision id of a DMN file deployed alone"},
        "version": INT, "id": STR, "created": BOOL,
        "kind": {"type": "string", "enum": ["process", "decision"]}})}}),
    "StartForm": obj({"key": STR, "version": INT, "form": {
        "type": ["object", "null"], "description": "null: the process has no start form",
        "properties": {"key": NSTR, "form_ref": NSTR,
                       "fields": {"type": "array", "items": OBJ, "description": "the form's fields, as a user "
                                  "task's form lists them"}},
        "required": ["key", "form_ref", "fields"]}}),
    "Version": obj({"id": STR, "version": INT, "name": NSTR, "file": STR, "deployed_at": TIME, "instances": INT}),
    "Definition": obj({"key": STR, "name": NSTR, "latest_version": INT,
                       "versions": {"type": "array", "items": ref("Version")}}),
    "DefinitionVersion": obj({"key": STR, "id": STR, "version": INT, "name": NSTR, "file": STR, "deployed_at": TIME,
                              "instances": INT, "xml": {"type": "string", "description": "the BPMN source"}}),
    "InstanceSummary": obj({"id": STR, "status": STR, "definition": ref("DefinitionRef"), "business_key": NSTR,
                            "created_at": TIME, "updated_at": TIME, "ended_at": TIME}),
    "HistoryEvent": obj({"seq": INT, "element_id": NSTR, "element_type": NSTR, "name": NSTR, "event": STR,
                         "at": TIME, "details": NOBJ, "attempt": NINT}, ("seq", "event", "at")),
    "Job": obj({"id": STR, "element_id": STR, "kind": STR, "topic": NSTR, "status": STR, "attempts": INT,
                "max_attempts": INT, "next_run_at": TIME, "last_error": NSTR, "idempotency_key": STR,
                "resends": INT}),
    "Incident": obj({"id": STR, "instance_id": STR, "element_id": STR, "message": STR, "job_id": NSTR,
                     "created_at": TIME, "resolved_at": TIME}),
    "IncidentRow": {"allOf": [ref("Incident"), obj({"business_key": NSTR, "instance_status": STR,
                                                    "definition": ref("DefinitionRef")})]},
    "Instance": obj({
        "id": STR, "status": STR, "definition": ref("DefinitionRef"), "business_key": NSTR, "created_at": TIME,
        "updated_at": TIME, "ended_at": TIME, "variables": VARIABLES, "revision": INT, "parent_instance_id": NSTR,
        "children": {"type": "array", "items": obj({"id": STR, "status": STR, "definition": ref("DefinitionRef"),
                                                    "element_id": NSTR})},
        "history": {"type": "array", "items": ref("HistoryEvent"), "description": "only GET .../{instance_id}"},
        "jobs": {"type": "array", "items": ref("Job")}, "incidents": {"type": "array", "items": ref("Incident")},
    }, ("id", "status", "definition", "variables", "revision", "jobs", "incidents")),
    "Running": obj({"id": STR, "status": {"type": "string", "enum": ["running"]}, "url": STR}),
    "InstancePage": items_of(ref("InstanceSummary"), total=INT, total_capped=BOOL, limit=INT,
                             next={"type": ["string", "null"], "description": "pass as `after` for the next page"},
                             prev={"type": ["string", "null"], "description": "pass as `before` for the previous"}),
    "HistoryPage": items_of(ref("HistoryEvent"), older={"type": ["integer", "null"],
                                                        "description": "pass as `before` for older rows"}),
    "Elements": obj({"id": STR, "status": STR, "revision": INT,
                     "elements": {"type": "object", "additionalProperties": obj(
                         {"type": NSTR, "name": NSTR, "runs": INT, "first_completed": NINT, "last_entered": NINT,
                          "state": {"type": "string", "enum": ["completed", "active", "failed", "cancelled"]}})},
                     "incident_elements": {"type": "array", "items": STR},
                     "waiting_user_tasks": {"type": "array", "items": STR}}),
    "Compensation": obj({"instance_id": STR, "status": STR, "executed": {"type": "array", "items": OBJ},
                         "pending": {"type": "array", "items": OBJ}}),
    "UserTask": obj({"id": STR, "instance_id": STR, "element_id": STR, "name": NSTR, "business_key": NSTR,
                     "assignee": NSTR, "claimed_by": NSTR, "candidate_users": {"type": "array", "items": STR},
                     "candidate_groups": {"type": "array", "items": STR}, "form": {"type": "array", "items": OBJ},
                     "created_at": TIME}),
    "Outcome": obj({"id": STR, "instance_status": STR}),
    "BusEvent": obj({"kind": {"type": "string", "enum": ["published", "consumed", "watched"]},
                     "event_id": NSTR, "event": STR, "routing_key": STR,
                     "source": {"type": ["string", "null"], "description": "the service that published it"},
                     "instance_id": {"type": ["string", "null"], "description":
                                     "published: the instance that threw it; consumed: the one it resumed"},
                     "outcome": {"type": ["string", "null"], "description":
                                 "consumed: delivered, started, buffered or dead_lettered"},
                     "correlation": OBJ, "business_key": NSTR, "at": TIME}),
    "DecisionRow": obj({"decision_id": STR, "name": NSTR, "file_name": STR, "versions": INT, "deployed_at": TIME}),
    "Decision": obj({
        "decision_id": STR, "name": NSTR, "table_id": NSTR, "file_name": STR, "deployment_id": STR,
        "deployed_at": TIME, "xml": {"type": "string", "description": "the DMN file of this version, as deployed"},
        "version": {"type": "integer", "description": "this version: the N-th deployment that carried the decision"},
        "versions": {"type": "array", "items": obj({"version": INT, "deployment_id": STR, "file_name": STR,
                                                    "deployed_at": TIME})},
        "evaluations": {"type": "array", "items": obj({
            "instance_id": STR, "seq": INT, "element_id": STR, "definition": ref("DefinitionRef"), "at": TIME,
            "decision_version": {"type": ["integer", "null"], "description": "the version of the table it used"},
            "rules": {"type": "array", "items": STR, "description": "ids of the rules that matched"},
            "rows": {"type": "array", "items": INT, "description": "their 1-based row numbers"},
            "inputs": {"type": "object", "description": "each input's label and the value it had"},
            "hit_policy": NSTR})}}),
    "Trace": obj({
        "key": STR, "truncated": BOOL,
        "instances": {"type": "array", "items": obj({
            "id": STR, "status": STR, "business_key": NSTR, "definition": ref("DefinitionRef"),
            "created_at": TIME, "ended_at": TIME,
            "published": {"type": "array", "items": NSTR}, "resumed_by": {"type": "array", "items": NSTR}})},
        "events": {"type": "array", "items": ref("BusEvent")},
        "timeline": {"type": "array", "items": {"type": "object", "required": ["at", "type"], "properties": {
            "at": TIME, "type": {"type": "string", "enum": ["activity", "bus_event"]}}}}}),
    "MessageResult": obj({"result": {"type": "string", "enum": ["delivered", "started", "buffered"]}, "name": STR,
                          "instance_id": STR, "element_id": STR, "definition": STR, "id": STR, "expires_at": STR,
                          "duplicate": BOOL}, ("result", "name")),
    "SignalResult": obj({"result": {"type": "string", "enum": ["broadcast"]}, "name": STR,
                         "delivered": {"type": "array", "items": STR}, "started": {"type": "array", "items": STR}}),
    "RetryResults": obj({"results": {"type": "array", "items": obj(
        {"id": STR, "ok": BOOL, "instance_status": STR, "error": STR}, ("id", "ok"))}}),
    "BulkResults": obj({"action": STR, "results": {"type": "array", "description": "one per id, in order",
                                                   "items": obj({"id": STR, "ok": BOOL, "status": STR, "error": STR},
                                                                ("id", "ok"))}}),
    "ElementCounts": obj({"key": STR, "version": INT, "instances": INT, "elements": {
        "type": "object", "description": "element id -> counts; elements with none are left out",
        "additionalProperties": obj({"active": INT, "incidents": INT, "completed": INT, "cancelled": INT})}}),
    "DeploymentDeleted": obj({"id": STR, "definitions": {"type": "array", "items": ref("DefinitionRef")},
                              "instances_deleted": INT}),
    "User": obj({"id": STR, "name": STR, "role": ROLE, "created_at": TIME}),
    "Token": obj({"id": STR, "name": NSTR, "role": ROLE, "prefix": STR, "created_by": NSTR, "created_at": TIME,
                  "revoked_at": TIME}),
    "NewToken": obj({"id": STR, "name": NSTR, "role": ROLE, "prefix": STR, "created_by": NSTR, "created_at": TIME,
                     "revoked_at": TIME, "token": {"type": "string", "description": "the secret: shown this once"}}),
    "PruneReport": obj({"cutoff": {"type": "string", "description": "ISO 8601, UTC"}, "dry_run": BOOL,
                        "instances": INT, "kept": {"type": "integer", "description":
                                                   "call trees kept: one of their instances has not ended"},
                        "batches": INT, "by_definition": {"type": "object", "additionalProperties": INT},
                        "rows": {"type": "object", "additionalProperties": INT,
                                 "description": "rows per table"}}),
    "Readiness": obj({"status": {"type": "string", "enum": ["ready", "unready"]}, "took_ms": {"type": "number"},
                      "checks": obj({name: obj({"ok": BOOL}, ("ok",)) for name in ("database", "schema", "broker")})}),
    "Overview": obj({"by_status": {"type": "object", "additionalProperties": INT}, "by_definition": {
        "type": "array", "items": OBJ}, "open_incidents": INT, "recent_incidents": {"type": "array", "items": OBJ},
        "retrying": {"type": "array", "items": OBJ}, "total": INT, "workers": OBJ}),
}


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    where: str = "query"
    required: bool = False
    description: str = ""
    example: Any = None


@dataclass(frozen=True)
class Operation:
    """One endpoint: ``responses`` maps a status to (description, schema or None, media type)."""

    endpoint: str
    tag: str
    summary: str
    responses: dict[int, tuple[str, Schema | None, str]]
    params: list[Param] = field(default_factory=list)
    body: Schema | None = None
    body_required: bool = False
    body_media: str = "application/json"
    description: str = ""


def ok(description: str, name: str) -> tuple[str, Schema, str]:
    return description, ref(name), "application/json"


def path(name: str, description: str = "", example: Any = None, schema: Schema | None = None) -> Param:
    return Param(name, schema or {"type": "string", "minLength": 1}, "path", True, description, example)


KEY = path("key", "the process id in the BPMN (`bpmn:process/@id`)", "order_fulfillment")
INSTANCE = path("instance_id", "an instance id (UUID)")
TASK = path("task_id", "an open user task's id")
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, description="page size (default 50)")
INSTANCE_DOC = ok("The instance (without its history).", "Instance")
REASON: Schema = {"type": ["string", "null"], "maxLength": 1000, "description": "why: kept in the history"}
MIGRATION_ASK: Schema = obj({"source_version": VERSION, "target_version": {**VERSION, "type": ["integer", "null"]},
                             "mapping": {"type": ["object", "null"], "additionalProperties": NSTR,
                                         "description": "source element id -> target element id (null: unmapped)"}},
                            ("source_version",))
MIGRATION_PLAN: Schema = obj({"key": STR, "source_version": INT, "target_version": INT, "source_definition_id": STR,
                              "target_definition_id": STR, "mapping": {"type": "object", "additionalProperties": STR},
                              "unmapped": {"type": "array", "items": STR}})
ATTEMPT: Schema = obj({"attempt": INT, "started_at": TIME, "ended_at": TIME, "duration_ms": NINT, "outcome": STR,
                       "request": NOBJ, "response": NOBJ, "error": NSTR})
INCIDENT_DETAIL: Schema = obj({
    "id": STR, "instance_id": STR, "element_id": STR, "message": STR, "detail": NSTR, "job_id": NSTR,
    "created_at": TIME, "resolved_at": TIME, "note": NSTR, "note_by": NSTR, "noted_at": TIME,
    "instance": obj({"id": STR, "status": STR, "business_key": NSTR, "definition": ref("DefinitionRef")}),
    "job": {"type": ["object", "null"]}, "attempts": {"type": "array", "items": ATTEMPT}})
VARIABLES_BODY = obj({"variables": NVARIABLES}, ())
IDEMPOTENCY_KEY = Param("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255}, "header",
                        description="a retry with the same key (same caller, within 24 h) returns the first "
                                    "instance instead of starting another")
TRACEPARENT = Param("traceparent", STR, "header", description="W3C trace context: the instance's service calls "
                                                              "continue this trace")
PROBLEMS = ("Refused: a definition is missing or the call does not apply to what exists", ref("Problem"),
            "application/problem+json")

_OPS = [
    Operation("api.health", "meta", "Is Baton serving (an alias of `/healthz`)",
              {200: ("Yes.", obj({"ok": BOOL}), "application/json")}),
    Operation("ops.healthz", "operations", "Liveness: the process serves (no database call)",
              {200: ("Alive.", obj({"status": {"type": "string", "enum": ["alive"]}}), "application/json")}),
    Operation("ops.readyz", "operations", "Readiness: database reachable, schema at head, broker reachable",
              {200: ("Ready; each check.", ref("Readiness"), "application/json"),
               503: ("Not ready (with `Retry-After`); the failed checks say why.", ref("Readiness"),
                     "application/json")}),
    Operation("ops.metrics", "operations", "Prometheus metrics (text format)",
              {200: ("The metrics.", STR, "text/plain"),
               403: ("Not loopback, and no `BATON_METRICS_TOKEN` or API token as bearer.", ref("Problem"),
                     "application/problem+json")},
              description="Open on loopback; elsewhere send `Authorization: Bearer` with `BATON_METRICS_TOKEN` "
                          "or any API token."),
    Operation("api.openapi", "meta", "This document", {200: ("The OpenAPI 3.1 document.", OBJ, "application/json")}),
    Operation("api.whoami", "meta", "Who the token belongs to, and its role", {200: ok("The caller.", "Identity")}),
    Operation("api.overview", "meta", "Instances by status and version, open incidents, retries, worker health",
              {200: ok("The dashboard's numbers.", "Overview")}),
    # deployments and definitions
    Operation("api.list_deployments", "definitions", "Deployments, newest first",
              {200: ("A page.", items_of(ref("Deployment"), total=INT, limit=INT, offset=INT), "application/json")},
              [LIMIT, Param("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})]),
    Operation("api.get_deployment", "definitions", "One deployment and the versions it made",
              {200: ok("The deployment.", "Deployment")}, [path("deployment_id")]),
    Operation("api.deployment_file", "definitions", "One file of a deployment, as deployed (a download)",
              {200: ("The file.", STR, "application/xml"), 404: PROBLEMS},
              [path("deployment_id"), path("file_name", "the file's name as deployed", "order_fulfillment.bpmn")]),
    Operation("api.delete_deployment", "definitions",
              "Delete a deployment whose instances have all ended (they are deleted with it)",
              {200: ok("What went.", "DeploymentDeleted"), 404: PROBLEMS,
               409: ("An instance of it has not ended; nothing was deleted.", ref("Problem"),
                     "application/problem+json")}, [path("deployment_id")]),
    Operation("api.deploy", "definitions", "Deploy BPMN/DMN files together, all or nothing",
              {201: ok("What each process key became.", "Deployed"),
               413: ("Larger than the upload limit.", ref("Problem"), "application/problem+json"),
               422: ("Refused; `problems` lists every one, as file:line: element: reason.", ref("Problem"),
                     "application/problem+json")},
              body=obj({"files": {"type": "array", "items": {"type": "string", "contentMediaType":
                                                             "application/octet-stream"}, "minItems": 1},
                        "name": {"type": "string", "maxLength": 200}}, ("files",)),
              body_required=True, body_media="multipart/form-data"),
    Operation("api.list_definitions", "definitions", "Every process key with its versions",
              {200: ("All of them.", items_of(ref("Definition")), "application/json")}),
    Operation("api.get_definition", "definitions", "One process key with its versions",
              {200: ok("The definition.", "Definition")}, [KEY]),
    Operation("api.get_definition_version", "definitions", "One version, with its BPMN XML",
              {200: ok("The version.", "DefinitionVersion")},
              [KEY, path("version", example=1, schema={"type": "integer", "minimum": 0, "maximum": INT32})]),
    Operation("api.element_counts", "definitions",
              "Per element of one version: instances active there, open incidents, completed, cancelled",
              {200: ok("The counts the definition's diagram shows.", "ElementCounts"), 404: PROBLEMS},
              [KEY, path("version", example=1, schema={"type": "integer", "minimum": 0, "maximum": INT32})]),
    Operation("api.start_form", "definitions", "The start form of a version (the latest by default), or null",
              {200: ok("The form; `POST .../start` validates against it.", "StartForm"), 404: PROBLEMS},
              [KEY, Param("version", VERSION)]),
    Operation("api.definition_xml", "definitions", "The BPMN XML of a version (the latest by default)",
              {200: ("The XML.", STR, "application/xml")},
              [KEY, Param("version", VERSION)]),
    Operation("api.start", "instances", "Start an instance",
              {201: ok("Started (with `wait`: it no longer runs).", "Instance"),
               202: ok("Still running when `wait` ran out; poll `url`.", "Running"), 404: PROBLEMS,
               422: ("The start form refuses the variables (`errors`: field -> message), or the "
                     "`Idempotency-Key` was used for a different request.", ref("Problem"),
                     "application/problem+json")},
              [KEY, Param("wait", {"type": "number", "minimum": 0, "maximum": 60},
                          description="answer once the instance no longer runs, or after this many seconds"),
               IDEMPOTENCY_KEY, TRACEPARENT],
              body=obj({"variables": NVARIABLES, "business_key": {"type": ["string", "null"], "maxLength": 200},
                        "version": {**VERSION, "type": ["integer", "null"]}}, ())),
    # instances
    Operation("api.list_instances", "instances", "Instances matching every filter, a page at a time",
              {200: ok("A page; `next` continues it.", "InstancePage")},
              [Param("definition", WORD, description="process key"), Param("version", VERSION),
               Param("status", {"type": "string", "enum": STATUSES}),
               Param("business_key", {"type": "string", "minLength": 1, "maxLength": 200},
                     description="`key` exact, `key*` a prefix, `*part*` contains (case-insensitive); "
                                 "`key_match` overrides the stars"),
               Param("key_match", {"type": "string", "enum": ["exact", "prefix", "contains"]}),
               Param("started_from", {"type": "string", "format": "date-time"}, description="ISO 8601 (UTC)"),
               Param("started_to", {"type": "string", "format": "date-time"}),
               Param("variable", {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"},
                     description="a top-level variable that must equal `value`"),
               Param("value", STR, description="compared as JSON when it parses (42, true), else as text"),
               Param("value_match", {"type": "string", "enum": ["exact", "prefix", "contains"]},
                     description="prefix / contains: the variable is a string starting with / containing `value`"),
               Param("element", WORD, description="an element id: instances with that element in `element_state`"),
               Param("element_state", {"type": "string", "enum": ["active", "incident", "completed", "cancelled"]},
                     description="default active: a token waits there (job, user task, message)"),
               Param("incident", BOOL, description="true: with an open incident; false: without"),
               Param("sort", {"type": "string", "enum": ["started", "updated", "status"]}),
               Param("order", {"type": "string", "enum": ["asc", "desc"]}),
               Param("after", WORD, description="the `next` cursor of the previous page"),
               Param("before", WORD, description="the `prev` cursor"), LIMIT]),
    Operation("api.get_instance", "instances", "The instance document (as `baton show --json`)",
              {200: ok("The instance, with its history.", "Instance")}, [INSTANCE]),
    Operation("api.instance_history", "instances", "History rows, newest first",
              {200: ok("A page; `older` continues it.", "HistoryPage")},
              [INSTANCE, Param("element", WORD, description="one element's rows"),
               Param("before", {"type": "integer", "minimum": 0, "maximum": INT32},
                     description="rows before this sequence number"), LIMIT]),
    Operation("api.instance_variables", "instances", "The instance's variables",
              {200: ("Its variables.", obj({"instance_id": STR, "variables": VARIABLES}), "application/json")},
              [INSTANCE]),
    Operation("api.instance_jobs", "instances", "The instance's jobs",
              {200: ("Its jobs.", items_of(ref("Job")), "application/json")}, [INSTANCE]),
    Operation("api.instance_incidents", "instances", "The instance's incidents, open and resolved",
              {200: ("Its incidents.", items_of(ref("Incident")), "application/json")}, [INSTANCE]),
    Operation("api.instance_elements", "instances", "Each element's state, from the history (the diagram)",
              {200: ok("Element states.", "Elements")}, [INSTANCE]),
    Operation("api.get_compensation", "instances", "The compensation path: handlers that ran, what would run now",
              {200: ok("The path.", "Compensation")}, [INSTANCE]),
    Operation("api.cancel", "instances", "Cancel a running or waiting instance", {200: INSTANCE_DOC, 409: PROBLEMS},
              [INSTANCE], body=obj({"reason": {"type": ["string", "null"], "maxLength": 1000}}, ())),
    Operation("api.suspend", "instances", "Hold an instance: none of its jobs run until resumed",
              {200: INSTANCE_DOC, 409: PROBLEMS}, [INSTANCE]),
    Operation("api.resume", "instances", "Let a suspended instance run again", {200: INSTANCE_DOC, 409: PROBLEMS},
              [INSTANCE]),
    # an operator changes an instance (web/api_changes.py; engine.modification, variable_edits, version_migration)
    Operation("api.edit_variables", "instances", "Set and remove variables of a running or suspended instance",
              {200: INSTANCE_DOC, 409: PROBLEMS},
              [INSTANCE], body=obj({"set": VARIABLES, "remove": {"type": "array", "items": TEXT, "maxItems": 200},
                                    "reason": REASON}, ()), body_required=True,
              description="History records a `variables` row on the process: who, why, the names set and "
                          "removed, and the values they had. Refused (409) on an ended instance."),
    Operation("api.modify_instance", "instances", "Move tokens: cancel at elements, start before or after others",
              {200: INSTANCE_DOC, 409: PROBLEMS}, [INSTANCE],
              body=obj({"instructions": {"type": "array", "minItems": 1, "maxItems": 50, "items": obj({
                  "type": {"type": "string", "enum": ["cancel", "start_before", "start_after"]},
                  "element": TEXT, "variables": VARIABLES}, ("type", "element"), extra=False)},
                  "reason": REASON}, ("instructions",)), body_required=True,
              description="All instructions apply in one step or none does: an unknown element, a cancel where "
                          "no token is, or a result without any token is refused (400) naming the instruction."),
    Operation("api.restart_instance", "instances", "Start an ended instance again before elements, with its last "
              "variables", {200: INSTANCE_DOC, 409: PROBLEMS}, [INSTANCE],
              body=obj({"elements": {"type": "array", "items": TEXT, "minItems": 1, "maxItems": 20},
                        "variables": VARIABLES, "reason": REASON}, ("elements",)), body_required=True),
    Operation("api.migration_plan", "definitions", "Build and check a migration plan between two versions",
              {200: ("The plan: each element of the source version and the element it becomes.", MIGRATION_PLAN,
                     "application/json")}, [KEY], body=MIGRATION_ASK, body_required=True),
    Operation("api.migrate", "definitions", "Migrate instances to another version with a checked plan",
              {200: ("The plan and one result per instance; a refused one never stops the others.",
                     obj({"plan": MIGRATION_PLAN, "migrated": INT, "refused": INT,
                          "results": {"type": "array", "items": obj({"id": STR, "ok": BOOL, "status": STR,
                                                                     "error": STR}, ("id", "ok"))}}),
                     "application/json")}, [KEY],
              body=obj({**MIGRATION_ASK["properties"],
                        "instance_ids": {"type": ["array", "null"], "items": TEXT, "maxItems": 10000},
                        "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000}, "reason": REASON},
                       ("source_version",)), body_required=True,
              description="Without `instance_ids`, every running instance of the source version, read in batches."),
    Operation("api.instance_durations", "instances", "Durations: each activity run, each element, the instance (ms)",
              {200: ("Runs in the order entered, elements by total time, the instance.", obj({
                  "instance": obj({"id": STR, "started_at": TIME, "ended_at": TIME, "duration_ms": NINT,
                                   "running": BOOL}),
                  "runs": {"type": "array", "items": obj({"element_id": STR, "name": NSTR, "type": NSTR,
                                                          "started_at": TIME, "ended_at": TIME, "end": STR,
                                                          "duration_ms": NINT})},
                  "elements": {"type": "array", "items": obj({"element_id": STR, "name": NSTR, "runs": INT,
                                                              "total_ms": INT, "max_ms": INT})},
                  "truncated": BOOL}), "application/json")}, [INSTANCE]),
    Operation("api.get_incident", "incidents", "One incident with its job and every attempt's request and answer",
              {200: ("The incident.", INCIDENT_DETAIL, "application/json")},
              [path("incident_id", "an incident id")],
              description="Request headers that may carry secrets (Authorization, cookies, names with token, "
                          "secret, password, key...) are shown `[redacted]`; bodies are cut at 4,000 characters."),
    Operation("api.note_incident", "incidents", "Keep an operator's note on an incident",
              {200: ("The incident.", INCIDENT_DETAIL, "application/json")}, [path("incident_id", "an incident id")],
              body=obj({"note": {"type": "string", "maxLength": 4000}}), body_required=True),
    Operation("api.set_incident_retries", "incidents", "Resolve an incident and run its job again with N attempts",
              {200: ok("Retried.", "Outcome"), 409: PROBLEMS},
              [path("incident_id", "an incident id")],
              body=obj({"retries": {"type": "integer", "minimum": 1, "maximum": 100}}), body_required=True),
    Operation("api.bulk_instances", "instances", "Cancel, suspend, resume, retry or migrate a selection of instances",
              {200: ok("One result per id, in order; a refusal of one never stops the others.", "BulkResults")},
              body=obj({"action": {"type": "string", "enum": ["cancel", "suspend", "resume", "retry", "migrate"]},
                        "ids": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 36},
                                "minItems": 1, "maxItems": 500},
                        "reason": {"type": ["string", "null"], "maxLength": 1000},
                        "target_version": {**VERSION, "type": ["integer", "null"],
                                           "description": "migrate: the version to move to (default: latest)"}},
                       ("action", "ids")),
              body_required=True,
              description="`retry` retries every open incident of each instance; `migrate` moves each to the "
                          "latest (or `target_version`) version of its process with the default plan (elements "
                          "mapped by id), one plan per version in the selection."),
    Operation("api.complete_task", "tasks", "Complete the instance's waiting user task by element id",
              {200: INSTANCE_DOC, 409: PROBLEMS, 422: PROBLEMS}, [INSTANCE, path("element_id")], body=VARIABLES_BODY),
    # user tasks
    Operation("api.list_tasks", "tasks", "Open user tasks",
              {200: ("Open tasks.", items_of(ref("UserTask")), "application/json")},
              [Param("user", WORD, description="assigned to, claimed by or offered to"),
               Param("group", {"type": "string", "minLength": 1},
                     description="offered to one of these groups (comma-separated, as in the task list)"),
               Param("instance_id", WORD)]),
    Operation("api.get_task", "tasks", "One open user task, with its form", {200: ok("The task.", "UserTask")}, [TASK]),
    Operation("api.claim_task", "tasks", "Claim a task", {200: ok("The task.", "UserTask"), 422: PROBLEMS}, [TASK],
              body=obj({"user": TEXT}), body_required=True),
    Operation("api.unclaim_task", "tasks", "Give a claimed task back", {200: ok("The task.", "UserTask")}, [TASK]),
    Operation("api.complete_task_by_id", "tasks", "Complete a task; the form's rules apply",
              {200: ok("Completed.", "Outcome"), 409: PROBLEMS, 422: PROBLEMS}, [TASK],
              body=obj({"variables": NVARIABLES, "user": {"type": ["string", "null"], "maxLength": 200}}, ())),
    # events
    Operation("api.publish_message", "events", "Publish a message: resume the one waiting instance, or start one",
              {200: ok("Delivered or started.", "MessageResult"),
               202: ok("Kept until `ttl` runs out.", "MessageResult"),
               404: ("It matched nothing (and had no `ttl`).", ref("Problem"), "application/problem+json")},
              body=obj({"name": TEXT, "correlation_keys": OBJ, "variables": NVARIABLES,
                        "business_key": {"type": ["string", "null"], "maxLength": 200},
                        "message_id": {"type": ["string", "null"], "maxLength": 200},
                        "ttl": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 31_536_000}},
                       ("name",)), body_required=True, params=[TRACEPARENT]),
    Operation("api.broadcast_signal", "events", "Broadcast a signal to every waiting catch; start what it starts",
              {200: ok("Who got it.", "SignalResult")}, body=obj({"name": TEXT, "variables": NVARIABLES}, ("name",)),
              body_required=True),
    # incidents
    Operation("api.list_incidents", "incidents", "Incidents, newest first",
              {200: ("Incidents.", items_of(ref("IncidentRow")), "application/json")},
              [Param("state", {"type": "string", "enum": ["open", "resolved", "all"]}, description="default open"),
               Param("definition", WORD), Param("element", WORD), Param("text", WORD, description="in the message"),
               LIMIT]),
    Operation("api.retry_incident", "incidents", "Resolve an incident and run its job again from attempt 1",
              {200: ok("Retried.", "Outcome"), 409: PROBLEMS}, [path("incident_id")]),
    Operation("api.retry_incidents", "incidents", "Retry several incidents; each one succeeds or fails alone",
              {200: ok("One result per id, in order.", "RetryResults")},
              body=obj({"ids": {"type": "array", "items": TEXT, "minItems": 1, "maxItems": 500}}),
              body_required=True),
    # following a key across orchestration and choreography
    Operation("api.trace", "events",
              "Instances and bus events that carried a key (an order id, a business key), on one timeline",
              {200: ok("The trace, oldest first.", "Trace"), 400: PROBLEMS},
              [Param("key", {"type": "string", "minLength": 1, "maxLength": 255}, required=True,
                     description="a correlation key's value or a business key", example="ord_1a2b3c")],
              description="Bus events are those `baton bus` consumed, Baton published, or the routes file "
                          "watches (`[watch.*]`), found by the values of their correlation keys and business "
                          "key; instances are those the events came from or resumed, and those with that "
                          "business key."),
    Operation("api.list_decisions", "definitions", "Decisions deployed (DMN files deployed with their diagrams)",
              {200: ("Every decision id, newest file.", items_of(ref("DecisionRow")), "application/json")}),
    Operation("api.get_decision", "definitions", "A decision table as deployed, and what its evaluations matched",
              {200: ok("One version's DMN XML (the newest unless `version`), every version, and the latest "
                       "evaluations of any version, newest first.", "Decision"), 400: PROBLEMS, 404: PROBLEMS},
              [path("decision_id", "the DMN decision's id", "shipping_costs"),
               Param("version", {"type": "integer", "minimum": 1},
                     description="the decision's version: the N-th deployment that carried it", example=1)]),
    # users and tokens
    Operation("api.list_users", "admin", "Users", {200: ("Users.", items_of(ref("User")), "application/json")}),
    Operation("api.create_user", "admin", "Create a user (who logs in to the UI)", {201: ok("Created.", "User")},
              body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 120}, "role": ROLE,
                        "password": {"type": "string", "minLength": 10, "maxLength": 1000}}), body_required=True),
    Operation("api.update_user", "admin", "Change a user's role or password (a new password ends their sessions)",
              {200: ok("Changed.", "User")}, [path("name")],
              body=obj({"role": ROLE, "password": {"type": "string", "minLength": 10, "maxLength": 1000}}, ()),
              body_required=True),
    Operation("api.delete_user", "admin", "Delete a user (never the last admin)", {204: ("Deleted.", None, "")},
              [path("name")]),
    Operation("api.list_tokens", "admin", "API tokens (never their secrets)",
              {200: ("Tokens.", items_of(ref("Token")), "application/json")},
              [Param("include_revoked", BOOL)]),
    Operation("api.create_token", "admin", "Create an API token; the secret is in this answer only",
              {201: ok("Created: keep `token`.", "NewToken")},
              body=obj({"role": ROLE, "name": {"type": ["string", "null"], "maxLength": 120}}, ("role",)),
              body_required=True),
    Operation("api.revoke_token", "admin", "Revoke an API token", {200: ok("Revoked.", "Token")}, [path("token_id")]),
    # retention
    Operation("api.prune_history", "admin",
              "Delete instances that ended before a cut-off, with all their rows (as `baton history prune`)",
              {200: ("What went (with `dry_run`: what would go).", ref("PruneReport"), "application/json"),
               400: PROBLEMS},
              body=obj({"older_than": {"type": "string", "minLength": 1, "maxLength": 40, "description":
                                       "age of the end: `90d`, `12h`, `30m` or ISO 8601 (`P90D`, `PT12H`)",
                                       "examples": ["90d"]},
                        "dry_run": BOOL, "batch_size": {"type": "integer", "minimum": 1, "maximum": 10_000}},
                       ("older_than",)), body_required=True,
              description="Only completed, compensated, cancelled (and terminated) instances go; a call "
                          "tree goes whole with its root. Deletes in batches, safe while the engine runs."),
]
OPERATIONS: dict[str, Operation] = {op.endpoint: op for op in _OPS}
