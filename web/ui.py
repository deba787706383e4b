"""The operator UI (server-rendered)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from engine import Engine, InstanceNotFound

ui = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


def engine() -> Engine:
    return current_app.extensions["baton"]


@ui.get("/")
def dashboard() -> str:
    eng = engine()
    page = eng.list_instances(status=request.args.get("status") or None,
                              definition=request.args.get("definition") or None,
                              business_key=request.args.get("business_key") or None, limit=50)
    return render_template("dashboard.html", definitions=eng.list_definitions(), instances=page,
                           incidents=eng.list_incidents(), args=request.args)


@ui.get("/instances/<instance_id>")
def instance(instance_id: str) -> Any:
    try:
        doc = engine().get_instance(instance_id)
    except InstanceNotFound:
        abort(404)
    return render_template("instance.html", doc=doc)
