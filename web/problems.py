"""Errors of the REST API as ``application/problem+json`` (RFC 9457), Flask's own included.

Every error under ``/api/`` has this shape, whether a view refused the call, the engine raised,
or Flask itself answered (no such route 404, wrong method 405, unreadable body 400, too large 413),
so a client reads one format::

    {"type": "about:blank", "title": "Not found", "status": 404, "detail": "no process instance 42"}
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


_DETAILS = {
    404: "there is no such resource under /api/v1; /api/v1/openapi.json lists every route",
    405: "this route does not take {method}; it takes {allowed}",
}


def http_problem(exc: HTTPException) -> Response:
    """Flask's own errors (routing, method, body size) as problem+json, keeping their headers."""
    status = exc.code or 500
    template = _DETAILS.get(status)
    allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
    detail = template.format(method=request.method, allowed=allowed) if template else (exc.description or exc.name)
    response = problem(status, exc.name, detail)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


# -- the database is away -----------------------------------------------------------------------

RETRY_AFTER_SECONDS = 5


def unavailable(detail: str = "the database is not reachable; try again shortly") -> Response:
    """503 with ``Retry-After``: the caller should retry, and nothing it sent was applied
    (the failed transaction rolled back)."""
    response = problem(503, "Service unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
