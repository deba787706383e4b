"""Decision pages: each deployed decision table drawn with dmn-js, its evaluations listed, and the
rules one evaluation matched highlighted on the table of the version it used (``?instance=ID&seq=N``;
the newest by default); ``?version=N`` switches the table. Viewer."""

from __future__ import annotations

from flask import Response, abort, render_template, request

from engine import NotFound

from .auth import requires
from .ui import engine, ui


@ui.get("/decisions")
@requires("viewer")
def decisions() -> str:
    return render_template("decisions.html", items=engine().list_decisions())


@ui.get("/decisions/<decision_id>")
@requires("viewer")
def decision(decision_id: str) -> str:
    """The table of the version the selected evaluation used (``?version=N`` shows another)."""
    requested = request.args.get("version", type=int)
    try:
        found = engine().get_decision(decision_id)
        evaluations = found["evaluations"]
        wanted = (request.args.get("instance"), request.args.get("seq"))
        selected = next((e for e in evaluations if (e["instance_id"], str(e["seq"])) == wanted), None)
        if selected is None and wanted == (None, None):
            selected = next((e for e in evaluations if requested in (None, e["decision_version"])), None)
        version = requested or (selected and selected["decision_version"]) or found["version"]
        if version != found["version"]:
            found = engine().get_decision(decision_id, version)
    except NotFound as exc:
        abort(404, description=str(exc))
    return render_template("decision.html", d=found, evaluations=evaluations, selected=selected,
                           shown=selected if selected and selected["decision_version"] == version else None,
                           missing=wanted != (None, None) and selected is None)


@ui.get("/decisions/<decision_id>/dmn")
@requires("viewer")
def decision_dmn(decision_id: str) -> Response:
    """The DMN file of one version (``?version=N``; the newest by default), as deployed."""
    try:
        xml = engine().get_decision(decision_id, request.args.get("version", type=int))["xml"]
    except NotFound as exc:
        abort(404, description=str(exc))
    return Response(xml, mimetype="application/xml")
