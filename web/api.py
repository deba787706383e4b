"""The REST API under ``/api/v1``: JSON in, JSON out; errors as ``application/problem+json``.

One blueprint, ``api``, in four modules: this one (errors, helpers, health, the OpenAPI document,
who am I, the dashboard numbers), ``api_definitions`` (deployments, definitions),
``api_instances`` (instances, tasks, messages, signals, incidents) and ``api_admin`` (users and
tokens). Every view declares its role (``web.auth.requires``) and has its operation in
``web/api_schemas.py``; it reads its input through ``openapi.query()`` / ``openapi.body()``, which
check it against that description, and calls the engine's public API only.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from engine import (
    BatonError,
    DeploymentError,
    Engine,
    InstanceNotActive,
    InvalidRequest,
    NotFound,
    SandboxUnavailable,
)

from . import openapi
from .auth import Identity, current_identity, requires
from .problems import problem, unavailable

api = Blueprint("api", __name__, url_prefix="/api/v1")

__all__ = ["api", "engine", "identity", "problem"]


def engine() -> Engine:
    return current_app.extensions["baton"]


def identity() -> Identity:
    """The caller of a protected view (``web.auth`` has checked it before the view runs)."""
    found = current_identity()
    assert found is not None, "a protected view runs only for an identified caller"
    return found


@api.errorhandler(BatonError)
def _baton_error(exc: BatonError) -> Response:
    if isinstance(exc, DeploymentError):
        return problem(422, "Deployment refused", str(exc), problems=[p.to_dict() for p in exc.problems])
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc))
    if isinstance(exc, InstanceNotActive):
        return problem(409, "Conflict", str(exc))
    if isinstance(exc, InvalidRequest):
        errors = getattr(exc, "errors", None)
        if errors:
            return problem(422, "Invalid input", str(exc), errors=errors)
        return problem(400, "Bad request", str(exc))
    if isinstance(exc, SandboxUnavailable):  # the machine's trouble for now, not the request's
        return unavailable(str(exc))
    return problem(500, "Engine error", str(exc))


@api.errorhandler(openapi.RequestInvalid)
def _request_invalid(exc: openapi.RequestInvalid) -> Response:
    return problem(400, "Bad request", str(exc), errors=exc.errors)


@api.before_request
def _check_request() -> None:
    openapi.check_request()


@api.get("/health")
def health() -> Response:
    return jsonify({"ok": True})


@api.get("/openapi.json", endpoint="openapi")
def openapi_document() -> Response:
    """Open to all: a client needs it to learn how to authenticate; it holds no data."""
    return jsonify(openapi.document(current_app))


@api.get("/me")
@requires("viewer")
def whoami() -> Response:
    caller = identity()
    return jsonify({"kind": caller.kind, "id": caller.id, "name": caller.name, "role": caller.role})


@api.get("/overview")
@requires("viewer")
def overview() -> Response:
    eng = engine()
    return jsonify({**eng.monitor_overview(), "workers": eng.worker_health()})


from . import api_admin, api_bulk, api_decisions, api_definitions, api_instances, api_trace  # noqa: E402,F401  (their routes join ``api``)
