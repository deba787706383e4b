"""The operator's changes from the UI: edit variables, move tokens, restart an ended instance, and
the migration page (an editable plan from one version to another, applied to a selection).

Each form posts and redirects back with a message; a refusal keeps what was typed (the same
draft mechanism as the message form). History names the signed-in user as the author.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, session, url_for

from engine import BatonError, InvalidRequest

from .auth import current_identity, requires
from .ui import engine, ui
from .ui_instance import DRAFT_KEY, json_object

# Kinds a token is never started at (engine.modification refuses them; the form does not offer them).
NOT_STARTABLE = ("StartEvent", "BoundaryEvent")


def who() -> str:
    identity = current_identity()
    return f"{identity.kind}:{identity.name}" if identity is not None else "ui"


def _back(instance_id: str) -> Response:
    return redirect(url_for("ui.instance", instance_id=instance_id) + "#panel-changes")  # type: ignore[return-value]


def startable(key: str, version: int) -> list[str]:
    """The elements of a version a token can be started before or after, sorted."""
    return sorted(e for e, kind in engine().element_kinds(key, version).items() if kind not in NOT_STARTABLE)


def _keep(instance_id: str, form: str, values: dict[str, Any]) -> None:
    session[DRAFT_KEY] = {"instance_id": instance_id, form: values}


@ui.post("/instances/<instance_id>/variables")
@requires("operator")
def edit_variables(instance_id: str) -> Response:
    form = request.form
    draft = {"set": form.get("set", ""), "remove": form.get("remove", ""), "reason": form.get("reason", "")}
    try:
        values = json_object(draft["set"], "variables")
        remove = [n.strip() for n in draft["remove"].split(",") if n.strip()]
        engine().edit_variables(instance_id, values, remove, by=who(), reason=draft["reason"].strip() or None)
        changed = ", ".join([*values, *(f"-{n}" for n in remove)])
        flash(f"Variables changed: {changed}.", "ok")
    except (ValueError, BatonError) as exc:
        _keep(instance_id, "variables", draft)
        flash(f"Variables not changed: {exc}", "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/modify")
@requires("operator")
def modify_instance(instance_id: str) -> Response:
    form = request.form
    instructions: list[dict[str, Any]] = [{"type": "cancel", "element": e} for e in form.getlist("cancel") if e]
    for kind in ("start_before", "start_after"):
        if form.get(kind):
            instructions.append({"type": kind, "element": form[kind]})
    reason = form.get("reason", "").strip() or None
    try:
        if not instructions:
            raise InvalidRequest("choose a token to cancel or an element to start at")
        engine().modify_instance(instance_id, instructions, by=who(), reason=reason)
        flash("Tokens moved: " + "; ".join(f"{i['type'].replace('_', ' ')} {i['element']}" for i in instructions)
              + ".", "ok")
    except BatonError as exc:
        _keep(instance_id, "modify", {"reason": form.get("reason", "")})
        flash(f"Tokens not moved: {exc}", "error")
    return _back(instance_id)


@ui.post("/instances/<instance_id>/restart")
@requires("operator")
def restart_instance(instance_id: str) -> Response:
    form = request.form
    element = form.get("element", "")
    try:
        if not element:
            raise InvalidRequest("choose the element to restart from")
        engine().restart_instance(instance_id, [element], by=who(), reason=form.get("reason", "").strip() or None)
        flash(f"Instance restarted before {element} with its last variables.", "ok")
    except BatonError as exc:
        flash(f"Not restarted: {exc}", "error")
    return _back(instance_id)


# -- migration ---------------------------------------------------------------------------------

def _versions(key: str) -> list[int]:
    for definition in engine().list_definitions():
        if definition["key"] == key:
            return sorted(v["version"] for v in definition["versions"])
    return []


@ui.get("/definitions/<key>/migrate")
@requires("operator")
def migration(key: str) -> str:
    """The plan from ``from`` to ``to`` (latest by default), editable, and the running instances of
    ``from`` to choose from."""
    versions = _versions(key)
    if len(versions) < 2:
        flash(f"{key} has one version: there is nothing to migrate to.", "error")
    source = request.args.get("from", type=int) or (versions[0] if versions else 1)
    target = request.args.get("to", type=int) or (versions[-1] if versions else 1)
    return _migration_page(key, versions, source, target, {}, None)


def _migration_page(key: str, versions: list[int], source: int, target: int, mapping: dict[str, str | None],
                    results: dict[str, Any] | None) -> str:
    plan, problem, targets = None, None, {}
    try:
        plan = engine().migration_plan(key, source, target, mapping)
        targets = engine().element_kinds(key, target)
    except BatonError as exc:
        problem = str(exc)
    sources = engine().element_kinds(key, source) if source in versions else {}
    running = engine().find_instances(definition=key, version=source, limit=500)["items"] if source in versions else []
    running = [i for i in running if i["status"] not in ("completed", "cancelled", "terminated", "compensated")]
    return render_template("migrate.html", key=key, versions=versions, source=source, target=target, plan=plan,
                           problem=problem, sources=sources, targets=targets, running=running, results=results,
                           mapping=mapping)


@ui.post("/definitions/<key>/migrate")
@requires("operator")
def migrate(key: str) -> str:
    """Check the edited plan; with ``apply``, migrate the chosen instances and show each result."""
    form = request.form
    versions = _versions(key)
    source, target = form.get("from", type=int) or 0, form.get("to", type=int) or 0
    mapping: dict[str, str | None] = {}
    # a plan edited for other versions than the ones now chosen does not apply to them
    same = (form.get("planned_from", type=int), form.get("planned_to", type=int)) == (source, target)
    for name, value in form.items():
        if same and name.startswith("map:"):
            mapping[name[4:]] = value or None
    results = None
    chosen = form.getlist("instance")
    if form.get("apply"):
        try:
            if not chosen:
                raise InvalidRequest("choose the instances to migrate")
            plan = engine().migration_plan(key, source, target, mapping)
            results = engine().migrate_instances(plan, chosen, by=who(), reason=form.get("reason", "").strip() or None)
            flash(f"Migrated {results['migrated']} instance(s) to v{target}; {results['refused']} refused.",
                  "ok" if not results["refused"] else "error")
        except BatonError as exc:
            flash(f"Nothing migrated: {exc}", "error")
    return _migration_page(key, versions, source, target, mapping, results)
