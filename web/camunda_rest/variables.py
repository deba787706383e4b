"""Camunda 7's typed variables, in and out: ``{"name": {"value": v, "type": "Integer", "valueInfo": {}}}``.

In: the type names as the Java, JavaScript (lower case, Json as a string) and Python (no type at
all) clients send them. Out: what Camunda's REST API answers: Json values as JSON text, integers
that fit 32 bits as ``Integer``, larger ones as ``Long``. Baton keeps plain JSON values, so a
``Date`` comes back as the ``String`` it is stored as, and an ``Object`` is taken only when it is
serialized as JSON (a Java-serialized object means nothing to Baton).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import CamundaError

INT32 = range(-(2**31), 2**31)


def _bad(name: str, value: Any, kind: str, why: str = "") -> CamundaError:
    return CamundaError(400, "InvalidRequestException",
                        f"Cannot convert value '{value}' of type '{kind}' of variable '{name}'"
                        + (f": {why}" if why else ""))


def _number(name: str, value: Any, kind: str, cast: type) -> Any:
    if isinstance(value, bool):
        raise _bad(name, value, kind)
    try:
        result = cast(value)
    except (TypeError, ValueError) as exc:
        raise _bad(name, value, kind) from exc
    if cast is int and isinstance(value, float) and value != result:
        raise _bad(name, value, kind, "not a whole number")
    return result


def _json_text(name: str, value: Any, kind: str) -> Any:
    if not isinstance(value, str):
        return value  # a client that sent the JSON itself rather than its text
    try:
        return json.loads(value)
    except ValueError as exc:
        raise _bad(name, value, kind, "not JSON") from exc


def value_of(name: str, typed: Any) -> Any:
    """One variable as Baton keeps it (a plain JSON value)."""
    if not isinstance(typed, dict) or "value" not in typed and "type" not in typed:
        raise CamundaError(400, "InvalidRequestException",
                           f"variable '{name}' must be an object with a 'value' (and a 'type')")
    value, kind = typed.get("value"), typed.get("type")
    if kind is None:  # untyped (the Python client): the JSON value as it came
        return value
    low = str(kind).lower()
    if value is None or low == "null":
        return None
    if low == "string":
        return value if isinstance(value, str) else str(value)
    if low in ("integer", "long", "short"):
        return _number(name, value, str(kind), int)
    if low == "double":
        return _number(name, value, str(kind), float)
    if low == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad(name, value, str(kind))
    if low == "date":
        if not isinstance(value, str):
            raise _bad(name, value, str(kind), "a date is text like 2025-01-31T12:00:00.000+0000")
        return value
    if low == "json":
        return _json_text(name, value, str(kind))
    if low == "object":
        info = typed.get("valueInfo") or {}
        if info.get("serializationDataFormat", "application/json") != "application/json":
            raise _bad(name, value, str(kind), "Baton takes objects serialized as application/json only")
        return _json_text(name, value, str(kind))
    raise CamundaError(400, "InvalidRequestException",
                       f"Unsupported value type '{kind}' of variable '{name}': Baton keeps String, Integer, Long, "
                       "Short, Double, Boolean, Date, Json, Object (as JSON) and Null")


def values_of(typed: Any, what: str = "variables") -> dict[str, Any]:
    """A map of typed variables as plain values; ``None`` (clients send it) is no variables."""
    if typed is None:
        return {}
    if not isinstance(typed, dict):
        raise CamundaError(400, "InvalidRequestException", f"{what} must be a JSON object of typed variables")
    return {str(name): value_of(str(name), v) for name, v in typed.items()}


def typed(value: Any) -> dict[str, Any]:
    """One plain value in Camunda's typed form."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        return {"type": "Integer" if value in INT32 else "Long", "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, separators=(",", ":")), "valueInfo": {}}


def typed_map(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: typed(v) for name, v in values.items()}
