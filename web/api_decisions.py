"""``/api/v1/decisions``: decision tables as deployed, and the rules each evaluation matched."""

from __future__ import annotations

from flask import Response, jsonify

from .api import api, engine
from .auth import requires
from .openapi import query


@api.get("/decisions")
@requires("viewer")
def list_decisions() -> Response:
    return jsonify({"items": engine().list_decisions()})


@api.get("/decisions/<decision_id>")
@requires("viewer")
def get_decision(decision_id: str) -> Response:
    """One version's DMN XML (the newest by default) and the latest evaluations, each with its
    matched rules and the version it used."""
    return jsonify(engine().get_decision(decision_id, query().get("version")))
