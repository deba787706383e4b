"""Camunda 7's REST API (``/engine-rest``) as a facade over Baton's engine: see README.md here.

Two blueprints: ``camunda`` (everything under ``/engine-rest``) and ``camunda_well_known`` (the one
path Camunda Modeler asks at the server's root). ``create_app`` registers both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from engine import (
    BatonError,
    DefinitionNotFound,
    Engine,
    ExternalTaskNotFound,
    InstanceNotFound,
    InvalidRequest,
    JobNotHeld,
    MessageNotCorrelated,
    NotFound,
    database_errors,
)

from ..auth import requires
from .errors import CamundaError

camunda = Blueprint("camunda", __name__, url_prefix="/engine-rest")
camunda_well_known = Blueprint("camunda_well_known", __name__)

#: What ``GET /engine-rest/version`` answers: the Camunda 7 REST version this facade follows.
CAMUNDA_VERSION = "7.22.0"


def engine() -> Engine:
    return current_app.extensions["baton"]


def body() -> dict[str, Any]:
    """The JSON object a call sent; none (or ``null``) is an empty one, anything else a 400."""
    if not request.get_data():
        return {}
    found = request.get_json(silent=True, force=True)  # a client that forgot its Content-Type
    if found is None and request.get_data().strip() not in (b"null", b""):
        raise CamundaError(400, "InvalidRequestException", "the request body is not JSON")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise CamundaError(400, "InvalidRequestException", "the request body must be a JSON object")
    return found


def camunda_time(moment: datetime | str | None) -> str | None:
    """Camunda's date format: ``2025-01-31T12:00:00.000+0000``."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def no_content() -> Response:
    return Response(status=204)


@camunda.errorhandler(CamundaError)
def _camunda_error(exc: CamundaError) -> Response:
    return exc.response()


@camunda.errorhandler(BatonError)
def _engine_error(exc: BatonError) -> Response:
    if isinstance(exc, JobNotHeld):
        return CamundaError(400, "RestException", str(exc)).response()
    if isinstance(exc, ExternalTaskNotFound | InstanceNotFound | DefinitionNotFound):
        return CamundaError(404, "RestException", str(exc)).response()
    if isinstance(exc, MessageNotCorrelated):
        return CamundaError(400, "RestException", f"Cannot correlate message: {exc}").response()
    if isinstance(exc, NotFound):
        return CamundaError(404, "RestException", str(exc)).response()
    if isinstance(exc, InvalidRequest):
        return CamundaError(400, "InvalidRequestException", str(exc)).response()
    return CamundaError(500, type(exc).__name__, str(exc)).response()


def _database_away(exc: Exception) -> Response:
    answer = CamundaError(503, "ProcessEngineException",
                          "Baton cannot reach its database; nothing was changed, try again").response()
    answer.headers["Retry-After"] = "5"
    return answer


for _error in database_errors():
    camunda.register_error_handler(_error, _database_away)


def http_error(exc: Any) -> Response:
    """Flask's own errors (an unknown path, a wrong method) under /engine-rest, in Camunda's shape."""
    code = getattr(exc, "code", 500) or 500
    message = (f"no Camunda 7 REST resource at {request.path} in Baton (docs/camunda7.md lists what is served)"
               if code == 404 else getattr(exc, "description", str(exc)))
    return CamundaError(code, "NotFoundException" if code == 404 else "RestException", message).response()


from . import deployments, external_tasks  # noqa: E402,F401  (their routes)


@camunda.route("/<path:unknown>", methods=["GET", "POST", "PUT", "DELETE"])
@requires("viewer")
def unknown_resource(unknown: str) -> Response:
    """Any other path under /engine-rest: Camunda's 404 shape (the UI's handler would send a page)."""
    raise CamundaError(404, "NotFoundException", f"no Camunda 7 REST resource at /engine-rest/{unknown} in Baton "
                                                 "(docs/camunda7.md lists what is served)")


@camunda_well_known.get("/.well-known/camunda-automation-platform/webapps")
def well_known() -> Response:
    """Where Camunda Modeler's links after a deploy go: Baton's UI serves Cockpit's part."""
    root = request.host_url
    return jsonify({"adminUrl": root, "cockpitUrl": root, "tasklistUrl": root + "tasks",
                    "admin": root, "cockpit": root, "tasklist": root + "tasks"})
