"""``baton serve``: gunicorn in-process, with threads from the config (never Flask's dev server)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from engine import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from .app import create_app

        return create_app(self.settings)


def serve_forever(settings: Settings, host: str, port: int, threads: int) -> None:
    _Gunicorn(settings, {
        "bind": f"{host}:{port}", "workers": 1, "threads": threads, "worker_class": "gthread",
        "accesslog": None, "errorlog": "-", "loglevel": "warning", "timeout": 60,
        "graceful_timeout": 5,
    }).run()
