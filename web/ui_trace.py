"""Pages that follow what happened beyond one instance: an order across the bus (``/trace``).

Reads only (viewer). The page is the API's ``GET /api/v1/trace`` drawn as one timeline with two
lanes: the orchestrated instances' steps on the left, the choreographed bus events on the right.
"""

from __future__ import annotations

from flask import render_template, request

from engine import InvalidRequest

from .auth import requires
from .ui import engine, ui


@ui.get("/trace")
@requires("viewer")
def trace() -> tuple[str, int] | str:
    key = request.args.get("key", "").strip()
    if not key:
        return render_template("trace.html", key="", found=None, error=None)
    try:
        found = engine().trace(key)
    except InvalidRequest as exc:
        return render_template("trace.html", key=key[:255], found=None, error=str(exc)), 400
    return render_template("trace.html", key=key, found=found, error=None)
