"""``baton serve``: gunicorn in-process (never Flask's dev server), processes x threads from the config.

One gthread worker process per core by default (``BATON_WEB_PROCESSES``, default
``os.cpu_count()``), each with ``BATON_WEB_THREADS`` threads. Threads alone share one GIL: the
API's own Python (routing, serialising, the ORM) then runs on one core however many requests
wait. ``bench/web.py`` measures one process against one per core.

Each worker process builds its own app, and so its own engine, database pool and sandbox
children, after the fork (``preload_app`` stays off): a connection pool or a sandbox pipe must
never be shared between processes. The settings are read once, in the arbiter, so every worker
signs sessions with the same ``BATON_SECRET_KEY`` (or the same random one), and a UI login made
on one worker is honoured by the others.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from engine import ConfigurationError, Settings


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


def gunicorn_options(host: str, port: int, processes: int, threads: int) -> dict[str, Any]:
    """What ``baton serve`` hands gunicorn; refuses a count below one."""
    if processes < 1 or threads < 1:
        raise ConfigurationError(
            f"baton serve needs at least one process and one thread (got {processes} processes, {threads} threads): "
            "set BATON_WEB_PROCESSES / BATON_WEB_THREADS, or --processes / --threads, to 1 or more")
    return {
        "bind": f"{host}:{port}", "workers": processes, "threads": threads, "worker_class": "gthread",
        "accesslog": None, "errorlog": "-", "loglevel": "warning", "timeout": 60,
        "graceful_timeout": 5, "keepalive": 5,
    }


def serve_forever(settings: Settings, host: str, port: int, threads: int, processes: int | None = None) -> None:
    options = gunicorn_options(host, port, processes or settings.web_processes, threads)
    _Gunicorn(settings, options).run()
