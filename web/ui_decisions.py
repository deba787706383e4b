"""Decision pages: each deployed decision table drawn with dmn-js, its evaluations listed, and the
rules one evaluation matched highlighted (``?instance=ID&seq=N``; the newest by default). Viewer."""

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
    try:
        found = engine().get_decision(decision_id)
    except NotFound as exc:
        abort(404, description=str(exc))
    evaluations = found["evaluations"]
    wanted = (request.args.get("instance"), request.args.get("seq"))
    selected = next((e for e in evaluations if (e["instance_id"], str(e["seq"])) == wanted), None)
    if selected is None and wanted == (None, None) and evaluations:
        selected = evaluations[0]
    return render_template("decision.html", d=found, evaluations=evaluations, selected=selected,
                           missing=wanted != (None, None) and selected is None)


@ui.get("/decisions/<decision_id>/dmn")
@requires("viewer")
def decision_dmn(decision_id: str) -> Response:
    try:
        xml = engine().get_decision(decision_id)["xml"]
    except NotFound as exc:
        abort(404, description=str(exc))
    return Response(xml, mimetype="application/xml")
