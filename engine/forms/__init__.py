"""User-task forms deployed with a diagram: Camunda Forms and SpiffArena's JSON Schema forms.

At deploy (``engine/_bpmn/reading.py``), ``.form`` and ``.json`` files deployed beside the BPMN
are side files (:func:`side_file`); :func:`task_forms` links each user or manual task to its form
and its instructions and refuses what cannot be shown (a form file not deployed with the
diagram, a component Baton does not render, instructions that are not a valid template):

- ``zeebe:formDefinition formId="..."``: the ``.form`` file whose ``id`` it names;
  ``formKey="camunda-forms:bpmn:ID"``: the form embedded in the process (``zeebe:userTaskForm``);
- Camunda 7's ``camunda:formKey`` and ``camunda:formRef`` on user tasks and none start events
  (``_camunda7.py``): a Camunda Form or an embedded HTML form deployed with the diagram (the HTML
  is read for its ``cam-variable-name`` fields and never served, ``_embedded_html.py``); forms
  served by a Java web application (``app:``) are refused;
- ``spiffworkflow:property formJsonSchemaFilename`` / ``formUiSchemaFilename``: the JSON Schema
  and UI schema files of that name;
- ``spiffworkflow:instructionsForEndUser``: Markdown with ``{{ variable }}``, rendered when the
  task is opened (``_instructions.py``: sandboxed, escaped).

The link is a deploy-time binding of the element (stored with the definition version). When the
task becomes ready, :func:`task_fields` turns it into the task's form fields, prefilled from the
task's variables as Camunda and SpiffArena prefill them, with the instructions rendered; and
:func:`validate` checks a submission against the form's JSON Schema on the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
from lxml import etree

from ..errors import FormInvalid
from . import _camunda7, _camunda_form, _embedded_html, _instructions, _json_schema

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SIDE_SUFFIXES = (".form", ".json", ".html", ".htm")
_TASKS = ("userTask", "manualTask")
CAMUNDA_FORM_KEY = "camunda-forms:bpmn:"
Refuse = Callable[[etree._Element, str], None]


def is_side_file(file_name: str) -> bool:
    return file_name.lower().endswith(SIDE_SUFFIXES)


def side_file(file_name: str, data: bytes) -> tuple[Any, str | None]:
    """The JSON of a form or schema file, or why it cannot be read.

    An HTML file is kept as its fields, or as why it cannot be shown: it is refused only when a
    diagram names it (a deployment may carry HTML for other purposes)."""
    if file_name.lower().endswith((".html", ".htm")):
        fields, problem = _embedded_html.read(data)
        return ({"embedded_html": fields} if fields is not None else {"embedded_html_problem": problem}), None
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "not a JSON file: it is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    if not isinstance(parsed, dict):
        return None, "a form or schema file holds a JSON object"
    if file_name.lower().endswith(".form") and not isinstance(parsed.get("components"), list):
        return None, "not a Camunda form (no components)"
    return parsed, None


def task_forms(root: etree._Element, side_files: dict[str, dict[str, Any]], refuse: Refuse) -> dict[str, Any]:
    """element id -> {"form": ..., "instructions": ...} for the tasks of ``root`` that have them."""
    by_form_id = {f.get("id"): f for name, f in side_files.items() if name.lower().endswith(".form")}
    embedded = {el.get("id"): el.text or "" for el in root.iter(f"{{{ZEEBE}}}userTaskForm")}
    found: dict[str, Any] = {}
    for el in root.iter(f"{{{BPMN}}}*"):
        camunda7 = _camunda7.form(el, by_form_id, side_files, refuse)  # camunda:formKey / formRef
        if camunda7 is not None:  # a start event's form is the form to start an instance with
            found[el.get("id", "")] = {"start_form" if etree.QName(el).localname == "startEvent" else "form": camunda7}
        extensions = el.find(f"{{{BPMN}}}extensionElements")
        if extensions is None:
            continue
        local = etree.QName(el).localname
        entry: dict[str, Any] = {}
        form = _zeebe_form(el, extensions, by_form_id, embedded, refuse)
        form = form or _spiff_form(el, extensions, side_files, refuse)
        if form is not None:
            if local not in _TASKS:
                refuse(el, f"a form on a {local} is not shown by Baton: forms are shown for user tasks")
            else:
                entry["form"] = form
        instructions = extensions.findtext(f"{{{SPIFF}}}instructionsForEndUser")
        if instructions and instructions.strip():
            problem = _instructions.check(instructions)
            if local not in _TASKS:
                refuse(el, f"spiffworkflow:instructionsForEndUser on a {local} is not shown by Baton: instructions "
                           "are shown on the page of a user or manual task")
            elif problem:
                refuse(el, f"spiffworkflow:instructionsForEndUser is not a template Baton can fill: {problem}")
            else:
                entry["instructions"] = instructions
        if entry:
            found.setdefault(el.get("id", ""), {}).update(entry)
    return found


def _zeebe_form(el: etree._Element, extensions: etree._Element, by_form_id: dict[Any, dict[str, Any]],
                embedded: dict[Any, str], refuse: Refuse) -> dict[str, Any] | None:
    definition = extensions.find(f"{{{ZEEBE}}}formDefinition")
    if definition is None:
        return None
    form: dict[str, Any] | None = None
    form_id, form_key = definition.get("formId"), definition.get("formKey") or ""
    if form_id:
        form = by_form_id.get(form_id)
        if form is None:
            refuse(el, f"zeebe:formDefinition formId {form_id!r}: no .form file with that id is in this deployment; "
                       "deploy the form file together with the diagram")
            return None
    elif form_key.startswith(CAMUNDA_FORM_KEY) and form_key[len(CAMUNDA_FORM_KEY):] in embedded:
        parsed, problem = side_file("embedded.form", embedded[form_key[len(CAMUNDA_FORM_KEY):]].encode())
        if problem:
            refuse(el, f"the form embedded as {form_key!r} is broken: {problem}")
            return None
        form = parsed
    else:
        what = definition.get("externalReference") or form_key or "nothing"
        refuse(el, f"zeebe:formDefinition names {what!r}: Baton renders a Camunda form deployed with the diagram "
                   "(formId) or embedded in it (camunda-forms:bpmn:...), not an external form")
        return None
    assert form is not None
    for problem in _camunda_form.problems(form):
        refuse(el, f"Camunda form {form.get('id')!r}: {problem}")
    return {"kind": "camunda-form", "form": form}


def _spiff_form(el: etree._Element, extensions: etree._Element, side_files: dict[str, dict[str, Any]],
                refuse: Refuse) -> dict[str, Any] | None:
    names = {p.get("name"): (p.get("value") or "").strip()
             for p in extensions.iterfind(f"{{{SPIFF}}}properties/{{{SPIFF}}}property")}
    schema_name, ui_name = names.get("formJsonSchemaFilename"), names.get("formUiSchemaFilename")
    if not schema_name:
        if ui_name:
            refuse(el, "spiffworkflow:property formUiSchemaFilename without a formJsonSchemaFilename")
        return None
    schema = side_files.get(schema_name)
    ui = side_files.get(ui_name) if ui_name else None
    missing = [n for n, f in ((schema_name, schema), (ui_name, ui)) if n and f is None]
    if missing:
        refuse(el, f"form file(s) {', '.join(repr(m) for m in missing)} not in this deployment: deploy the JSON "
                   "Schema and UI schema files together with the diagram")
        return None
    assert schema is not None
    try:
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator).check_schema(schema)
    except jsonschema.SchemaError as exc:
        refuse(el, f"{schema_name} is not a valid JSON Schema: {exc.message}")
        return None
    if schema.get("type", "object") != "object" or not isinstance(schema.get("properties", {}), dict):
        refuse(el, f"{schema_name}: a form's JSON Schema describes an object with properties")
        return None
    return {"kind": "json-schema", "schema": schema, "ui": ui or {}, "file": schema_name,
            "orders": _json_schema.property_orders(schema)}


def task_fields(binding: dict[str, Any], data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The form fields of a ready task from its binding, prefilled from ``data``; None: no form here."""
    form, text = binding.get("form"), binding.get("instructions")
    if form is None and text is None:
        return None
    result: list[dict[str, Any]] = []
    if text:
        result.append({"id": "instructions", "type": "text", "html": _instructions.render(text, data),
                       "validation": {}})
    if form is not None:
        if form["kind"] == "camunda-form":
            made = _camunda_form.fields(form["form"])
        elif form["kind"] == "embedded-html":
            made = _embedded_html.fields(form)
        else:
            made = _json_schema.fields(form["schema"], form.get("ui"), form.get("orders"))
        for field in made:
            if field["type"] == "text":
                field["html"] = _instructions.render(field.pop("text", ""), data)
            elif field["id"] in data:
                field["default"] = data[field["id"]]
        result.extend(made)
    return result


def start_form_fields(bindings: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A definition's start form (camunda:formKey/formRef on its none start event) and its fields."""
    bound = next((b["start_form"] for b in bindings.values() if isinstance(b, dict) and "start_form" in b), None)
    if bound is None:
        return None
    return bound, task_fields({"form": bound}, {}) or []


def is_schema_form(form: Any) -> bool:
    """Whether a task's stored form came from here (else it is Camunda 7's form fields)."""
    return isinstance(form, list) and any(isinstance(f, dict) and ("schema" in f or f.get("type") == "text")
                                          for f in form)


def inputs(form: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields a user fills in (text blocks are shown, not submitted)."""
    return [f for f in form if f.get("type") != "text"]


def validate(form: list[dict[str, Any]], variables: dict[str, Any]) -> dict[str, Any]:
    """Convert a submission's values by the form's schema and validate it; raise :class:`FormInvalid`."""
    errors: dict[str, str] = {}
    clean = {k: v for k, v in variables.items() if k not in {f["id"] for f in form if f.get("type") == "text"}}
    fields = inputs(form)
    for field in fields:
        fid = field["id"]
        if fid not in clean:
            continue
        if clean[fid] == "" or clean[fid] is None:
            del clean[fid]
            continue
        try:
            clean[fid] = _convert(field, clean[fid])
        except ValueError as exc:
            errors[fid] = str(exc)
    root = next((f["root_schema"] for f in fields if "root_schema" in f), None)
    if root is not None:  # the rest is checked too, so one answer names every field to change
        validator = jsonschema.validators.validator_for(root, default=jsonschema.Draft7Validator)(root)
        for error in validator.iter_errors({k: v for k, v in clean.items() if k not in errors}):
            if error.validator == "required" and isinstance(error.instance, dict):
                for name in error.validator_value:
                    if name not in error.instance:
                        errors.setdefault(name, "is required")
                continue
            where = str(error.absolute_path[0]) if error.absolute_path else "variables"
            errors.setdefault(where, error.message)
    if errors:
        raise FormInvalid(errors)
    return clean


def _convert(field: dict[str, Any], value: Any) -> Any:
    """A form's text as the type the schema wants (the API may send typed JSON already)."""
    kind = field.get("type")
    if not isinstance(value, str):
        return value
    if kind == "long":
        try:
            return int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        return int(number) if number.is_integer() and "." not in value else number
    if kind == "boolean":
        if value.lower() in ("true", "on", "yes", "1", "false", "off", "no", "0"):
            return value.lower() in ("true", "on", "yes", "1")
        raise ValueError("must be true or false")
    if kind == "json":
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be JSON: {exc.msg}") from None
    if kind == "enum":
        for option in field.get("options") or []:
            if str(option["id"]) == value:
                return option["id"]
        raise ValueError(f"must be one of {', '.join(str(o['id']) for o in field.get('options') or [])}")
    return value
