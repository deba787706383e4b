"""SpiffArena's user-task forms: a JSON Schema plus a UI schema (react-jsonschema-form's files).

The schema's properties become the fields of Baton's task form (the field list the task page
and ``engine.usertasks`` already know: id, label, type, default, validation, options), in the
UI schema's ``ui:order``; ``ui:title``, ``ui:description`` and ``ui:widget: textarea`` are read.
An ``enum`` (or a ``oneOf`` of ``const`` values, rjsf's labelled enum) is a choice; an object or
array property is edited as JSON. The first field carries the whole schema (``root_schema``), and
a submission is validated on the server against that schema with the ``jsonschema`` package,
so what the browser accepted and what the process receives obey one schema. The UI schema rides
along too (``root_ui``): the task page draws the form from both in the browser
(``web/static/schema_form.js``); these fields are its fallback without JavaScript.
"""

from __future__ import annotations

from typing import Any

_KINDS = {"boolean": "boolean", "integer": "long", "number": "number", "object": "json", "array": "json"}


def property_orders(schema: dict[str, Any], path: str = "root") -> dict[str, list[str]]:
    """Each object's property names in the file's order, by path (``root``, ``root.order``,
    ``root.lines.items``), taken at deploy: a form without ``ui:order`` shows its fields in that
    order, and a JSON column (PostgreSQL's jsonb) keeps no order of keys."""
    orders: dict[str, list[str]] = {}
    props = schema.get("properties")
    if isinstance(props, dict):
        orders[path] = list(props)
        for name, sub in props.items():
            if isinstance(sub, dict):
                orders.update(property_orders(sub, f"{path}.{name}"))
    if isinstance(schema.get("items"), dict):
        orders.update(property_orders(schema["items"], f"{path}.items"))
    return orders


def fields(schema: dict[str, Any], ui: dict[str, Any] | None,
           orders: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The form fields of ``schema`` (an object schema), in the UI schema's order, else the file's
    (``orders``, from :func:`property_orders`)."""
    ui = ui or {}
    orders = orders or {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    result: list[dict[str, Any]] = []
    in_file = [n for n in orders.get("root") or [] if n in props]
    for name in _ordered(in_file + [n for n in props if n not in in_file], ui.get("ui:order")):
        prop = props[name] if isinstance(props[name], dict) else {}
        hints = ui.get(name) if isinstance(ui.get(name), dict) else {}
        if hints.get("ui:widget") == "hidden":
            continue
        field: dict[str, Any] = {
            "id": name, "label": hints.get("ui:title") or prop.get("title") or name,
            "type": _kind(prop, hints), "default": prop.get("default"),
            "validation": _rules(prop, name in required), "schema": prop,
        }
        description = hints.get("ui:description") or prop.get("description")
        if description:
            field["description"] = str(description)
        options = _options(prop)
        if options is not None:
            field["type"] = "enum"
            field["options"] = options
        result.append(field)
    if result:  # the whole of both, for the server's validation and the browser's form
        result[0]["root_schema"] = schema
        result[0]["root_ui"] = ui
        result[0]["root_orders"] = orders
    return result


def _ordered(names: list[str], order: Any) -> list[str]:
    if not isinstance(order, list):
        return names
    listed = [n for n in order if n in names]
    rest = [n for n in names if n not in listed]
    if "*" in order:
        at = order.index("*")
        before = [n for n in order[:at] if n in names]
        after = [n for n in order[at + 1:] if n in names]
        return before + [n for n in rest] + after
    return listed + rest


def _kind(prop: dict[str, Any], hints: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):  # ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string" and prop.get("format") == "date":
        return "date"
    if kind == "string" and hints.get("ui:widget") == "textarea":
        return "textarea"
    return _KINDS.get(str(kind), "string")


def _options(prop: dict[str, Any]) -> list[dict[str, Any]] | None:
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames") if isinstance(prop.get("enumNames"), list) else []
        return [{"id": value, "name": str(names[i]) if i < len(names) else str(value)}
                for i, value in enumerate(prop["enum"])]
    choices = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) and "const" in c for c in choices):
        return [{"id": c["const"], "name": str(c.get("title", c["const"]))} for c in choices]
    return None


def _rules(prop: dict[str, Any], required: bool) -> dict[str, Any]:
    rules: dict[str, Any] = {"required": None} if required else {}
    for key, rule in (("minLength", "minlength"), ("maxLength", "maxlength"), ("minimum", "min"),
                      ("maximum", "max")):
        if isinstance(prop.get(key), int | float) and not isinstance(prop.get(key), bool):
            rules[rule] = prop[key]
    return rules
