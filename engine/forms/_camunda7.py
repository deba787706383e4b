"""Camunda 7's form references: ``camunda:formKey`` and ``camunda:formRef``, as Camunda 7 reads them.

A form key is ``FORM-TYPE:LOCATION:NAME`` (Camunda 7's "User Task Forms"):

- ``camunda-forms:deployment:NAME.form``: a Camunda Form deployed with the diagram; Baton renders
  it as it renders a Zeebe ``formId`` form (``_camunda_form.py``);
- ``embedded:deployment:NAME.html``: an HTML form deployed with the diagram; Baton reads its
  ``cam-variable-name`` fields at deploy and shows them as a generated form, never the HTML or
  its script (``_embedded_html.py``);
- ``camunda-forms:app:...``, ``embedded:app:...``, ``app:...``: a file served by the process
  application, a Java web application Baton does not have: refused, saying to deploy the file
  with the diagram under a ``deployment:`` key;
- anything else is an external form, a link Tasklist follows to a custom application: refused
  (Baton's task page cannot show it). A JUEL key is refused by ``checks.py``.

``camunda:formRef="ID"`` (Camunda 7.17+) names a Camunda Form by its ``id``, with
``camunda:formRefBinding``: ``deployment`` (the form deployed with the diagram) and ``latest``
(Baton keeps forms with the diagram that uses them, so the latest is the one deployed with this
version; deploy a changed form together with its diagram) are shown; ``version`` (a form version
deployed on its own) is refused: Baton does not version forms apart from diagrams.

Forms are read on user tasks and on a process's none start event (the start form, shown where an
instance is started); on any other element a form key is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from .. import juel
from . import _camunda_form

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
Refuse = Callable[[etree._Element, str], None]
_INSTEAD = ("deploy the form file with the diagram and name it camunda-forms:deployment:NAME.form (a Camunda Form) "
            "or embedded:deployment:NAME.html (an HTML form with cam-variable-name fields)")


def form(el: etree._Element, by_form_id: dict[Any, dict[str, Any]], side_files: dict[str, Any],
         refuse: Refuse) -> dict[str, Any] | None:
    """The form binding of ``el`` from its ``camunda:formKey``/``formRef``, or None (none, or refused)."""
    key = (el.get(f"{{{CAMUNDA}}}formKey") or "").strip()
    ref = (el.get(f"{{{CAMUNDA}}}formRef") or "").strip()
    if not key and not ref:
        return None
    what = f"camunda:formKey {key!r}" if key else f"camunda:formRef {ref!r}"
    if not _takes_a_form(el):
        refuse(el, f"{what} on a {etree.QName(el).localname} is not shown by Baton: Camunda 7 reads forms on "
                   "user tasks and a process's none start event")
        return None
    if key and ref:
        refuse(el, "camunda:formKey and camunda:formRef both name a form: keep one")
        return None
    if key:
        if juel.is_template(key):
            return None  # refused as JUEL by checks.py
        return _by_key(el, key, side_files, refuse)
    return _by_ref(el, ref, by_form_id, refuse)


def _takes_a_form(el: etree._Element) -> bool:
    local = etree.QName(el).localname
    if local == "userTask":
        return True
    parent = el.getparent()
    return (local == "startEvent" and parent is not None and etree.QName(parent).localname == "process"
            and not any(etree.QName(c).localname.endswith("EventDefinition") for c in el))


def _by_key(el: etree._Element, key: str, side_files: dict[str, Any], refuse: Refuse) -> dict[str, Any] | None:
    parts = key.split(":", 2)
    if len(parts) == 3 and parts[0] in ("camunda-forms", "embedded") and parts[1] == "deployment" and parts[2]:
        kind, _, path = parts
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        side = side_files.get(name)
        wanted = ".form" if kind == "camunda-forms" else (".html", ".htm")
        if not name.lower().endswith(wanted) or side is None:
            noun = "a Camunda Form (.form)" if kind == "camunda-forms" else "an HTML form (.html)"
            refuse(el, f"camunda:formKey {key!r}: no file {name!r} is in this deployment; deploy {noun} of that "
                       "name together with the diagram (Camunda Modeler: Deploy, include additional files)")
            return None
        if kind == "camunda-forms":
            return _checked_camunda_form(el, side, key, f"camunda:formKey {key!r}", refuse)
        if side.get("embedded_html_problem"):
            refuse(el, f"camunda:formKey {key!r}: {name} cannot be shown: {side['embedded_html_problem']}")
            return None
        return {"kind": "embedded-html", "file": name, "key": key, **side["embedded_html"]}
    if (len(parts) >= 2 and parts[0] in ("camunda-forms", "embedded") and parts[1] == "app") or parts[0] == "app":
        refuse(el, f"camunda:formKey {key!r} names a form served by the process application, a Java web "
                   f"application Baton does not run; {_INSTEAD}")
        return None
    refuse(el, f"camunda:formKey {key!r} is an external form (a link to a custom application), which Baton's "
               f"task page cannot show; {_INSTEAD}")
    return None


def _by_ref(el: etree._Element, ref: str, by_form_id: dict[Any, dict[str, Any]],
            refuse: Refuse) -> dict[str, Any] | None:
    binding = (el.get(f"{{{CAMUNDA}}}formRefBinding") or "latest").strip()
    if juel.is_template(ref):
        return None  # refused as JUEL by checks.py
    if binding == "version":
        refuse(el, f"camunda:formRef {ref!r} with formRefBinding=\"version\" names a form version deployed on its "
                   "own; Baton keeps a form with the diagram that uses it: deploy the form with the diagram and "
                   "use formRefBinding=\"deployment\"")
        return None
    if binding not in ("latest", "deployment"):
        refuse(el, f"camunda:formRefBinding {binding!r} is not one of latest, deployment, version")
        return None
    found = by_form_id.get(ref)
    if found is None:
        refuse(el, f"camunda:formRef {ref!r}: no Camunda Form with that id is in this deployment; deploy the .form "
                   "file together with the diagram")
        return None
    return _checked_camunda_form(el, found, None, f"camunda:formRef {ref!r}", refuse)


def _checked_camunda_form(el: etree._Element, found: dict[str, Any], key: str | None, what: str,
                          refuse: Refuse) -> dict[str, Any] | None:
    problems = _camunda_form.problems(found)
    for problem in problems:
        refuse(el, f"{what}: Camunda form {found.get('id')!r}: {problem}")
    if problems:
        return None
    bound: dict[str, Any] = {"kind": "camunda-form", "form": found, "key": key}
    if key is None:
        bound["form_ref"] = {"key": found.get("id"), "binding": el.get(f"{{{CAMUNDA}}}formRefBinding") or "latest",
                             "version": None}
    return bound

