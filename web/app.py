"""The application factory: the UI, the REST API and the login pages on one Flask app.

Every request goes through ``web.auth`` (who is calling, may they, CSRF, security headers);
every error under ``/api/`` is ``application/problem+json`` (``web.problems``). A database that
is away is a 503 with ``Retry-After`` everywhere, never a 500 (one handler, below). The probes
and ``/metrics`` are ``web.ops``. Each request binds its ids for the logs and its caller's W3C
trace (``traceparent``) for what it makes (``engine.logs``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError

from engine import Engine, Settings, database_errors, logs

from . import auth
from .problems import RETRY_AFTER_SECONDS, http_problem, is_api_request, problem, unavailable

log = logging.getLogger("baton.web")

_UNAVAILABLE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Baton: unavailable</title>
</head><body><h1>Baton cannot reach its database</h1><p>Nothing was changed. This page will work again once the
database is back; try again in a few seconds.</p></body></html>"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               notifier: Any = None) -> Flask:
    """Build the app. ``engine`` defaults to one whose jobs go to Celery (the configured broker)."""
    settings = settings or Settings.from_env()
    if engine is None:
        if notifier is None:
            from adapters.broker import CeleryNotifier
            from adapters.tasks import create_celery

            notifier = CeleryNotifier(create_celery(settings))
        from adapters.endpoints import call_in_process

        engine = Engine(settings, notifier=notifier, in_process=call_in_process)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_xml_bytes * 4 + 65536,
                      JSON_SORT_KEYS=False)
    app.extensions["baton"] = engine
    auth.init_app(app, session_hours=settings.session_hours, trusted_proxies=settings.trusted_proxies,
                  bootstrap_token=settings.api_token)

    from .api import api
    from .camunda_rest import camunda, camunda_well_known
    from .ops import ops
    from .ui import ui

    app.register_blueprint(api)
    app.register_blueprint(ui)
    app.register_blueprint(ops)
    app.register_blueprint(camunda)  # Camunda 7's REST API, /engine-rest (web/camunda_rest/README.md)
    app.register_blueprint(camunda_well_known)

    @app.before_request
    def _bind_log_context() -> None:
        """The ids this request is about, and the caller's trace (a broken header is ignored)."""
        found = request.view_args or {}
        request.environ["baton.log_token"] = logs.replace(
            instance_id=found.get("instance_id"), element_id=found.get("element_id"),
            trace_id=logs.parse_traceparent(request.headers.get("traceparent")))

    @app.teardown_request
    def _unbind_log_context(_exc: BaseException | None) -> None:
        token = request.environ.pop("baton.log_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # made in another context: nothing of ours to undo
                logs.restore(token)

    def _database_away(exc: Exception) -> Any:
        log.warning("database unavailable during %s %s: %s", request.method, request.path,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        if is_api_request() or request.path in ("/healthz", "/readyz", "/metrics"):
            return unavailable()
        return Response(_UNAVAILABLE_PAGE, status=503, mimetype="text/html",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for error in database_errors():
        app.register_error_handler(error, _database_away)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        """Flask's own errors under /api/ as problem+json; the UI keeps its pages (ui.py)."""
        if auth.is_camunda_request():  # /engine-rest answers in Camunda's error shape
            from .camunda_rest import http_error

            return http_error(exc)
        return http_problem(exc) if is_api_request() else exc

    @app.errorhandler(InternalServerError)
    def _server_error(exc: InternalServerError) -> Any:
        if is_api_request():  # Flask has logged the exception already
            return problem(500, "Internal server error", "Baton failed on this call; the server log has the details")
        return exc

    return app
