"""``/api/v1``: following a key across the bus (``/trace``) and the decisions DMN tables took."""

from __future__ import annotations

from flask import Response, jsonify

from .api import api, engine
from .auth import requires
from .openapi import query


@api.get("/trace")
@requires("viewer")
def trace() -> Response:
    """The instances and bus events that carried one correlation or business key, on one timeline."""
    return jsonify(engine().trace(query()["key"]))
