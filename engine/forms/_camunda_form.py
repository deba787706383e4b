"""Camunda Forms (the ``.form`` JSON files of Camunda 8) as Baton task-form fields.

Each input component with a ``key`` becomes a field (textfield, textarea, number, checkbox,
radio/select with static values, datetime as a date, checklist/taglist as a JSON list); a
``text`` component is Markdown shown on the page with ``{{ variable }}`` filled in; groups are
flattened; spacers, separators and buttons only lay the form out. The components' ``validate``
rules (required, min/max length, min/max, pattern) become a JSON Schema, so a submission is
validated on the server like a SpiffArena form. Components Baton cannot render (dynamic lists,
tables, iframes, HTML, file pickers, options read from a variable) are refused at deploy,
naming the component.
"""

from __future__ import annotations

from typing import Any

_INPUTS = {"textfield": "string", "textarea": "textarea", "number": "number", "checkbox": "boolean",
           "datetime": "date", "radio": "enum", "select": "enum", "checklist": "json", "taglist": "json"}
_LAYOUT = {"spacer", "separator", "button", "image", "default"}
_SCHEMA_TYPES = {"string": "string", "textarea": "string", "number": "number", "boolean": "boolean",
                 "date": "string", "json": "array"}


def problems(form: dict[str, Any]) -> list[str]:
    """What in a Camunda form Baton cannot render (empty: it renders all of it)."""
    found: list[str] = []
    for component in _components(form):
        kind = component.get("type")
        label = component.get("label") or component.get("key") or component.get("id")
        if kind == "text" or kind in _LAYOUT:
            continue
        if kind not in _INPUTS:
            found.append(f"component {label!r} of type {kind!r} is not rendered by Baton")
        elif kind in ("radio", "select", "checklist", "taglist") and not component.get("values"):
            found.append(f"component {label!r} takes its options from a variable or an expression "
                         "(valuesKey/valuesExpression); Baton renders static values only")
        elif not component.get("key"):
            found.append(f"component {label!r} has no key: its value would go nowhere")
    return found


def fields(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The task-form fields of a Camunda form, with a JSON Schema of its rules on the first."""
    result: list[dict[str, Any]] = []
    properties: dict[str, Any] = {}
    required: list[str] = []
    for component in _components(form):
        kind = component.get("type")
        if kind == "text":
            result.append({"id": component.get("id") or f"text-{len(result)}", "type": "text",
                           "text": str(component.get("text") or ""), "validation": {}})
            continue
        if kind not in _INPUTS or not component.get("key"):
            continue
        key = str(component["key"])
        field_type = _INPUTS[kind]
        rules = component.get("validate") or {}
        field: dict[str, Any] = {"id": key, "label": component.get("label") or key, "type": field_type,
                                 "default": component.get("defaultValue"), "validation": {}}
        if component.get("description"):
            field["description"] = str(component["description"])
        if component.get("readonly") or component.get("disabled"):
            field["readonly"] = True
        prop: dict[str, Any] = {"type": _SCHEMA_TYPES.get(field_type, "string")}
        if field_type == "enum":
            field["options"] = [{"id": v.get("value"), "name": str(v.get("label", v.get("value")))}
                                for v in component.get("values") or []]
            prop = {"enum": [o["id"] for o in field["options"]]}
        if rules.get("required"):
            field["validation"]["required"] = None
            required.append(key)
        for rule, (name, schema_key) in {"minLength": ("minlength", "minLength"),
                                         "maxLength": ("maxlength", "maxLength"),
                                         "min": ("min", "minimum"), "max": ("max", "maximum")}.items():
            if isinstance(rules.get(rule), int | float) and not isinstance(rules.get(rule), bool):
                field["validation"][name] = rules[rule]
                prop[schema_key] = rules[rule]
        if isinstance(rules.get("pattern"), str):
            prop["pattern"] = rules["pattern"]
        field["schema"] = prop
        properties[key] = prop
        result.append(field)
    inputs = [f for f in result if f["type"] != "text"]
    if inputs:
        inputs[0]["root_schema"] = {"type": "object", "properties": properties, "required": required}
    return result


def _components(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component, groups flattened, in the order the form shows them."""
    found: list[dict[str, Any]] = []
    for component in form.get("components") or []:
        if not isinstance(component, dict):
            continue
        if component.get("type") == "group":
            found.extend(_components(component))
        else:
            found.append(component)
    return found
