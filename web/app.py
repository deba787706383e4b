"""The application factory: the UI, the REST API and the login pages on one Flask app.

Every request goes through ``web.auth`` (who is calling, may they, CSRF, security headers);
every error under ``/api/`` is ``application/problem+json`` (``web.problems``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException, InternalServerError

from engine import Engine, Settings

from . import auth
from .problems import http_problem, is_api_request, problem


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               notifier: Any = None) -> Flask:
    """Build the app. ``engine`` defaults to one whose jobs go to Celery (the configured broker)."""
    settings = settings or Settings.from_env()
    if engine is None:
        if notifier is None:
            from adapters.broker import CeleryNotifier
            from adapters.tasks import create_celery

            notifier = CeleryNotifier(create_celery(settings))
        engine = Engine(settings, notifier=notifier)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_xml_bytes * 4 + 65536,
                      JSON_SORT_KEYS=False)
    app.extensions["baton"] = engine
    auth.init_app(app, session_hours=settings.session_hours, trusted_proxies=settings.trusted_proxies,
                  bootstrap_token=settings.api_token)

    from .api import api
    from .ui import ui

    app.register_blueprint(api)
    app.register_blueprint(ui)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        """Flask's own errors under /api/ as problem+json; the UI keeps its pages (ui.py)."""
        return http_problem(exc) if is_api_request() else exc

    @app.errorhandler(InternalServerError)
    def _server_error(exc: InternalServerError) -> Any:
        if is_api_request():  # Flask has logged the exception already
            return problem(500, "Internal server error", "Baton failed on this call; the server log has the details")
        return exc

    return app
