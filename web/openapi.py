"""The one description of the REST API: every operation's parameters, body and answers.

Three things are made from it, so the document cannot drift from the code:

- ``GET /api/v1/openapi.json`` (OpenAPI 3.1), by :func:`document`, which walks Flask's url_map
  and takes each route's path and methods from there and its role from the view (``x-baton-role``);
- the checks of what a caller sends: views read their query with :func:`query` and their JSON
  body with :func:`body`, both validated against the schemas declared here (a 400 names each
  problem), so what the document promises is what the code accepts;
- ``tests/test_openapi.py``, which fails when a route under ``/api/v1`` has no operation here, or
  an operation no route.

The schemas are in ``web/api_schemas.py``; the JSON Schema subset they use is checked by
:func:`check` (type, enum, bounds, lengths, properties, required, additionalProperties, items).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from werkzeug.routing import Rule

from .api_schemas import OPERATIONS, SCHEMAS, Operation
from .auth import OPEN, required_role

API_PREFIX = "/api/v1"
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


class RequestInvalid(Exception):
    """What the caller sent does not match the operation's description (HTTP 400)."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


# -- validation ---------------------------------------------------------------------------------

def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":  # JSON Schema: 1.0 is an integer too
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[kind])


def check(value: Any, schema: dict[str, Any], where: str = "body") -> list[str]:
    """The ways ``value`` breaks ``schema``, each naming where (``body.variables``)."""
    schema = _resolve(schema)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            return [f"{where} must be {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} must be one of {', '.join(map(str, schema['enum']))}"]
    errors: list[str] = []
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where} must have at least {schema['minLength']} character(s)")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where} must have at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where} must match {schema['pattern']}")
    elif _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where} must be at most {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where} must be greater than {schema['exclusiveMinimum']}")
    elif isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{where}.{name} is required" for name in schema.get("required", []) if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                errors += check(item, properties[name], f"{where}.{name}")
            elif extra is False:
                errors.append(f"{where}.{name} is not expected")
            elif isinstance(extra, dict):
                errors += check(item, extra, f"{where}.{name}")
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where} must have at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where} must have at most {schema['maxItems']} items")
        for n, item in enumerate(value):
            errors += check(item, schema.get("items", {}), f"{where}[{n}]")
    return errors


def _convert(raw: str, schema: dict[str, Any], name: str) -> Any:
    kinds = schema.get("type", "string")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    try:
        if "integer" in kinds:
            return int(raw)
        if "number" in kinds:
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
        if "boolean" in kinds:
            return {"true": True, "false": False}[raw]
    except (ValueError, KeyError):
        raise RequestInvalid([f"query parameter {name} must be {' or '.join(kinds)}, not {raw!r}"]) from None
    return raw


def _operation() -> Operation:
    return OPERATIONS[request.endpoint or ""]


def query() -> dict[str, Any]:
    """The request's query parameters this operation declares, converted and checked."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for param in _operation().params:
        if param.where != "query":
            continue
        if param.schema.get("type") == "array":
            raws = request.args.getlist(param.name)
            if not raws:
                continue
            value: Any = [_convert(r, param.schema["items"], param.name) for r in raws]
        else:
            raw = request.args.get(param.name)
            if raw is None:
                if param.required:
                    errors.append(f"query parameter {param.name} is required")
                continue
            value = _convert(raw, param.schema, param.name)
        errors += check(value, param.schema, f"query parameter {param.name}")
        values[param.name] = value
    if errors:
        raise RequestInvalid(errors)
    return values


def check_request() -> None:
    """Before every API view: the URL's own parameters (``/versions/<int:version>``) against their
    schemas, and no query parameter the operation does not take (``?stauts=`` is refused, not
    silently ignored into a list of everything)."""
    operation = OPERATIONS.get(request.endpoint or "")
    if operation is None:
        return
    errors: list[str] = []
    for param in operation.params:
        if param.where == "path" and param.name in (request.view_args or {}):
            errors += check(request.view_args[param.name], param.schema, f"path parameter {param.name}")
    known = {p.name for p in operation.params if p.where == "query"}
    unknown = sorted(set(request.args) - known)
    if unknown:
        takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
        errors.append(f"unknown query parameter(s) {', '.join(unknown)}; {takes}")
    if errors:
        raise RequestInvalid(errors)


def body() -> dict[str, Any]:
    """The JSON body as the operation declares it; an empty body is ``{}`` when none is required."""
    operation = _operation()
    schema = operation.body or {"type": "object"}
    if not request.get_data(cache=True):
        if operation.body_required:
            raise RequestInvalid(["the request needs a JSON body"])
        return {}
    try:
        value = json.loads(request.get_data(cache=True))
    except ValueError as exc:
        raise RequestInvalid([f"the body is not JSON: {exc}"]) from None
    errors = check(value, schema)
    if errors:
        raise RequestInvalid(errors)
    return _integers(value, schema)


def _integers(value: Any, schema: dict[str, Any]) -> Any:
    """``1.0`` where the schema says integer becomes ``1``: the engine gets Python ints."""
    schema = _resolve(schema)
    kinds = schema.get("type")
    if isinstance(value, float) and "integer" in ([kinds] if isinstance(kinds, str) else kinds or []):
        return int(value)
    if isinstance(value, dict) and "properties" in schema:
        return {k: _integers(v, schema["properties"][k]) if k in schema["properties"] else v for k, v in value.items()}
    return value


# -- the document -------------------------------------------------------------------------------

def api_rules(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) under /api/v1 and of the operations surface (``/healthz``, ``/readyz``,
    ``/metrics``: ``web/ops.py``), as Flask will route them (HEAD and OPTIONS left out)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX + "/") or rule.endpoint.startswith("ops."):
            found += [(rule, m) for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS")]
    return found


def openapi_path(rule: Rule) -> str:
    return _CONVERTER.sub(r"{\1}", rule.rule)


_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_STANDARD = {
    400: "The query or body does not match this description; `errors` lists each problem.",
    401: "No bearer token, or one that is unknown or revoked.",
    403: "The token's role is below the role this operation needs (`x-baton-role`).",
    404: "No such resource.",
}


def _operation_doc(operation: Operation, role: str | None, path_params: list[str]) -> dict[str, Any]:
    params = []
    for p in operation.params:
        entry: dict[str, Any] = {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                                 "schema": p.schema}
        if p.description:
            entry["description"] = p.description
        if p.example is not None:
            entry["example"] = p.example
        if p.schema.get("type") == "array":
            entry.update(style="form", explode=True)
        params.append(entry)
    responses: dict[str, Any] = {}
    for status, (description, schema, media) in operation.responses.items():
        answer: dict[str, Any] = {"description": description}
        if schema is not None:
            answer["content"] = {media: {"schema": schema}}
        responses[str(status)] = answer
    codes = [400] if operation.params or operation.body else []
    codes += [401, 403] if role else []
    codes += [404] if path_params else []
    for code in codes:
        responses.setdefault(str(code), {"description": _STANDARD[code], "content": _PROBLEM})
    responses["default"] = {"description": "Any other error, as problem+json (RFC 9457).", "content": _PROBLEM}
    doc: dict[str, Any] = {"operationId": operation.endpoint.split(".", 1)[1], "summary": operation.summary,
                           "tags": [operation.tag], "parameters": params, "responses": responses,
                           "security": [{"bearer": []}] if role else []}
    if operation.description:
        doc["description"] = operation.description
    if role:
        doc["x-baton-role"] = role
    if operation.body is not None:
        media = operation.body_media
        doc["requestBody"] = {"required": operation.body_required, "content": {media: {"schema": operation.body}}}
    return doc


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API as routed by ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in api_rules(app):
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            raise LookupError(f"{method} {rule.rule} ({rule.endpoint}) has no operation in web/api_schemas.py")
        view = app.view_functions[rule.endpoint]
        role = None if rule.endpoint in OPEN else required_role(view)
        paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation_doc(
            operation, role, sorted(rule.arguments))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Baton", "version": "1",
                 "description": "Deploy BPMN diagrams and run them. Send `Authorization: Bearer <token>` "
                                "(`baton token create --role viewer|operator|admin`); each operation names the "
                                "least role it needs in `x-baton-role`. Errors are application/problem+json."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
