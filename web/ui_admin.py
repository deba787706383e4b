"""Admin pages (role admin): users and their roles, API tokens, deployments.

The same operations as ``/api/v1/users``, ``/tokens``, ``/deployments`` and ``baton user`` /
``baton token``: these pages only call the engine. A new token's secret is rendered once, in the
answer to the form that made it (never flashed into the session, never stored); the page is
``no-store`` so the browser does not keep it either. A refused form renders again with what was
typed (never the password) and the reason.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for

from engine import ROLES, BatonError, NotFound

from .auth import current_identity, requires
from .ui import engine, ui


def _admin_page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, roles=ROLES, **context), status


# -- users -------------------------------------------------------------------------------------

def _users_page(status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    return _admin_page("admin_users.html", status, users=engine().list_users(), form=form or {})


@ui.get("/admin/users")
@requires("admin")
def admin_users() -> tuple[str, int]:
    return _users_page()


@ui.post("/admin/users")
@requires("admin")
def admin_create_user() -> Any:
    form = {"name": request.form.get("name", "").strip(), "role": request.form.get("role", "")}
    try:
        engine().create_user(form["name"], form["role"], request.form.get("password", ""))
    except BatonError as exc:
        flash(f"User not created: {exc}", "error")
        return _users_page(400, form)
    flash(f"Created {form['name']} ({form['role']}).", "ok")
    return redirect(url_for("ui.admin_users"))


@ui.post("/admin/users/<name>")
@requires("admin")
def admin_update_user(name: str) -> Any:
    """Change the role, set a new password (ends their sessions) or delete, by the button pressed."""
    what = request.form.get("do", "role")
    try:
        if what == "delete":
            engine().delete_user(name)
            flash(f"Deleted {name}.", "ok")
        elif what == "password":
            engine().update_user(name, password=request.form.get("password", ""))
            flash(f"{name} has a new password; their sessions ended.", "ok")
        else:
            engine().update_user(name, role=request.form.get("role", ""))
            flash(f"{name} is now {request.form.get('role')}.", "ok")
    except BatonError as exc:
        flash(f"{name}: {exc}", "error")
        return _users_page(404 if isinstance(exc, NotFound) else 400)
    return redirect(url_for("ui.admin_users"))


# -- tokens ------------------------------------------------------------------------------------

def _tokens_page(status: int = 200, **context: Any) -> tuple[str, int]:
    return _admin_page("admin_tokens.html", status, tokens=engine().list_tokens(include_revoked=True), **context)


@ui.get("/admin/tokens")
@requires("admin")
def admin_tokens() -> tuple[str, int]:
    return _tokens_page()


@ui.post("/admin/tokens")
@requires("admin")
def admin_create_token() -> Any:
    form = {"name": request.form.get("name", "").strip(), "role": request.form.get("role", "")}
    identity = current_identity()
    try:
        record, secret = engine().create_token(form["role"], form["name"] or None,
                                               created_by=identity.label if identity else None)
    except BatonError as exc:
        flash(f"Token not created: {exc}", "error")
        return _tokens_page(400, form=form)
    body, status = _tokens_page(201, created=record, secret=secret)
    return Response(body, status=status, headers={"Cache-Control": "no-store"})


@ui.post("/admin/tokens/<token_id>/revoke")
@requires("admin")
def admin_revoke_token(token_id: str) -> Any:
    try:
        token = engine().revoke_token(token_id)
        flash(f"Revoked the token {token['name'] or token['prefix']}.", "ok")
    except BatonError as exc:
        flash(str(exc), "error")
    return redirect(url_for("ui.admin_tokens"))


# -- deployments -------------------------------------------------------------------------------

@ui.get("/admin/deployments")
@requires("admin")
def admin_deployments() -> tuple[str, int]:
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    page = engine().list_deployments(limit=50, offset=offset)
    instances = {v["id"]: v["instances"] for d in engine().list_definitions() for v in d["versions"]}
    return _admin_page("admin_deployments.html", page=page, instances=instances)


@ui.get("/deployments/<deployment_id>/files/<path:file_name>")
@requires("viewer")
def deployment_file(deployment_id: str, file_name: str) -> Response:
    """Download one file of a deployment as it was deployed."""
    try:
        text = engine().deployment_file(deployment_id, file_name)
    except NotFound as exc:
        abort(404, description=str(exc))
    return Response(text, mimetype="application/xml", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name.rsplit('/', 1)[-1])}"})


@ui.post("/admin/deployments/<deployment_id>/delete")
@requires("admin")
def admin_delete_deployment(deployment_id: str) -> Any:
    try:
        gone = engine().delete_deployment(deployment_id)
    except BatonError as exc:
        flash(f"Not deleted: {exc}", "error")
    else:
        names = ", ".join(f"{d['key']} v{d['version']}" for d in gone["definitions"]) or "no definition"
        flash(f"Deleted the deployment ({names}) and {gone['instances_deleted']} ended instance(s).", "ok")
    return redirect(url_for("ui.admin_deployments"))
