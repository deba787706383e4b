"""Camunda 7 embedded forms (``embedded:deployment:NAME.html``) as Baton task-form fields.

An embedded form is HTML (and JavaScript) that Camunda's Tasklist puts into its page. Baton never
serves that HTML: it reads it once, at deploy, with lxml, and keeps only what Camunda itself
submits, the ``input``/``select``/``textarea`` elements that carry ``cam-variable-name``, with
their type (``cam-variable-type``), their label (``<label for>``, an enclosing label, else the
placeholder) and their HTML constraints (``required``, ``minlength``/``maxlength``, ``min``/``max``,
``pattern``, ``readonly``). The task page renders those as a generated form and the server
validates a submission against them (a JSON Schema, like a Camunda Form's).

A form whose behaviour lives in script (``<script>``, ``cam-script``, options read from a
variable with ``cam-choices``, a file input, a type Baton cannot hold) is refused at deploy: a
generated form would silently lose what the script did.
"""

from __future__ import annotations

from typing import Any

from lxml import etree, html

# cam-variable-type -> (Baton field type, JSON Schema type)
_TYPES = {"string": ("string", "string"), "boolean": ("boolean", "boolean"), "integer": ("long", "integer"),
          "long": ("long", "integer"), "short": ("long", "integer"), "double": ("number", "number"),
          "date": ("date", "string")}
_FIELDS = ("input", "select", "textarea")
_NO_VALUE_INPUTS = {"file", "button", "submit", "reset", "image"}


def read(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The form's fields as ``{"fields": [...]}``, or why Baton cannot show it."""
    try:
        root = html.fromstring(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "not an HTML form: it is not UTF-8 text"
    except (etree.ParserError, ValueError) as exc:
        return None, f"not an HTML form: {exc}"
    if root.xpath("//script") or root.xpath("//*[@cam-script]"):
        return None, ("the form runs JavaScript (<script>/cam-script), which Baton does not serve; keep its fields "
                      "(inputs with cam-variable-name) and move the logic into the process")
    labels = {el.get("for"): _text(el) for el in root.iter("label") if el.get("for")}
    fields: list[dict[str, Any]] = []
    problems: list[str] = []
    for el in root.iter(*_FIELDS):
        name = (el.get("cam-variable-name") or "").strip()
        if not name:
            continue  # Camunda submits only cam-variable-* fields
        field, problem = _field(el, name, labels)
        if problem:
            problems.append(problem)
        elif field is not None and all(f["id"] != name for f in fields):
            fields.append(field)
    if problems:
        return None, "; ".join(problems)
    if not fields:
        return None, "no input, select or textarea with cam-variable-name: nothing to submit"
    return {"fields": fields}, None


def _field(el: Any, name: str, labels: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    tag = el.tag
    input_type = (el.get("type") or "text").lower() if tag == "input" else tag
    if input_type in _NO_VALUE_INPUTS:
        return None, f"field {name!r} is an input of type {input_type!r}, which Baton's forms do not take"
    declared = (el.get("cam-variable-type") or ("Boolean" if input_type == "checkbox" else "String")).strip()
    if declared.lower() not in _TYPES:
        return None, (f"field {name!r} has cam-variable-type {declared!r}; Baton's generated form takes "
                      "String, Boolean, Integer, Long, Short, Double and Date")
    kind, schema_type = _TYPES[declared.lower()]
    if tag == "textarea" and kind == "string":
        kind = "textarea"
    field: dict[str, Any] = {"id": name, "label": _label(el, labels) or name, "type": kind, "default": None,
                             "validation": {}}
    prop: dict[str, Any] = {"type": schema_type}
    if tag == "select":
        if el.get("cam-choices"):
            return None, f"field {name!r} reads its options from a variable (cam-choices); Baton renders static options"
        options = [(o.get("value") if o.get("value") is not None else _text(o), _text(o)) for o in el.iter("option")]
        options = [(value, label) for value, label in options if value != ""]
        field["type"] = "enum"
        field["options"] = [{"id": value, "name": label or value} for value, label in options]
        prop = {"enum": [value for value, _ in options]}
    if el.get("required") is not None:
        field["validation"]["required"] = None
    for attr, schema_key in (("minlength", "minLength"), ("maxlength", "maxLength"), ("min", "minimum"),
                             ("max", "maximum")):
        raw = el.get(attr)
        if raw is None:
            continue
        try:
            number = float(raw)
        except ValueError:
            return None, f"field {name!r}: {attr}={raw!r} is not a number"
        value = int(number) if number.is_integer() else number
        field["validation"][attr] = value
        prop[schema_key] = int(value) if schema_key in ("minLength", "maxLength") else value
    if el.get("pattern"):
        prop["pattern"] = f"^(?:{el.get('pattern')})$"  # HTML anchors the pattern; JSON Schema does not
    if el.get("readonly") is not None or el.get("disabled") is not None:
        field["readonly"] = True
    if tag == "input" and el.get("value") and kind != "boolean":
        field["default"] = el.get("value")
    field["schema"] = prop
    return field, None


def _label(el: Any, labels: dict[str, str]) -> str:
    if el.get("id") and labels.get(el.get("id")):
        return labels[el.get("id")]
    parent = el.getparent()
    while parent is not None:
        if parent.tag == "label":
            return _text(parent)
        parent = parent.getparent()
    return (el.get("placeholder") or "").strip()


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def fields(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Fresh copies of the stored fields, the JSON Schema of all of them on the first."""
    made = [{**f, "validation": dict(f.get("validation") or {})} for f in form.get("fields") or []]
    if made:
        required = [f["id"] for f in made if "required" in f["validation"]]
        made[0]["root_schema"] = {"type": "object", "properties": {f["id"]: f["schema"] for f in made},
                                  "required": required}
    return made
