"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine import Engine, Settings


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

    from .api import api
    from .ui import ui

    app.register_blueprint(api)
    app.register_blueprint(ui)
    return app
