"""Baton's one configuration object, filled from ``BATON_*`` environment variables.

Every setting has a default that runs everything on one machine with no server installed
(SQLite and an embedded broker under ``BATON_HOME``). Production points the URLs at servers::

    BATON_DATABASE_URL=postgresql+psycopg://baton@db/baton
    BATON_BROKER_URL=redis://broker:6379/0        # or amqp://guest:guest@rabbit:5672//

==============================  =========================================  ==============================
variable                        meaning                                    default
==============================  =========================================  ==============================
BATON_HOME                      folder for the embedded database/broker    ``./.baton``
BATON_DATABASE_URL              SQLAlchemy URL of the database             ``sqlite:///$BATON_HOME/baton.sqlite``
BATON_BROKER_URL                Celery broker URL                          ``sqla+sqlite:///$BATON_HOME/broker.sqlite``
BATON_ENDPOINTS                 TOML file mapping topics to endpoints      (none: no topic resolves)
BATON_HOST / BATON_PORT         where ``baton serve`` listens              ``127.0.0.1`` / ``8000``
BATON_WEB_PROCESSES             gunicorn worker processes of the web       ``os.cpu_count()``
                                server (each with BATON_WEB_THREADS)
BATON_WEB_THREADS               gunicorn threads of each web process       ``8``
BATON_WORKER_CONCURRENCY        Celery worker processes                    ``2``
BATON_SECRET_KEY                Flask session signing key (set it: a       random per process (``make
                                random key logs everyone out at restart)   run`` keeps one in BATON_HOME)
BATON_API_TOKEN                 admin bootstrap bearer token, for          (none)
                                automation before any token exists
BATON_ADMIN_PASSWORD            password of the ``admin`` user that        (none: ``make run`` generates
                                ``make run`` creates when there is none    one and prints it once)
BATON_SESSION_HOURS             how long a UI login lasts                  ``12``
BATON_TRUSTED_PROXIES           reverse proxies in front of ``baton        ``0`` (client address and
                                serve`` whose X-Forwarded-For/-Proto to    scheme from the socket)
                                trust (login limits, Secure cookies)
BATON_MAX_XML_BYTES             largest diagram accepted at deploy         ``10485760`` (10 MiB)
BATON_IDLE_TRANSACTION_SECONDS  PostgreSQL ends a Baton transaction left   ``60`` (``0``: the server's
                                idle this long: a vanished worker's row    or the role's setting)
                                locks go (docs/SCALING.md)
BATON_JOB_LEASE_SECONDS         lease on a claimed job beyond the endpoint ``15``
                                timeout (then the relay takes it back)
BATON_CONTINUE_STEPS            a worker runs up to this many of an        ``50``
                                instance's next service jobs itself, with
                                no broker round trip (``0``: never)
BATON_RETRY_BASE_SECONDS        first retry delay (doubles per attempt)    ``1.0``
BATON_RELAY_INTERVAL_SECONDS    how often the relay re-sends stale jobs    ``2.0``
BATON_RELAY_STALE_SECONDS       age after which a job nobody took is sent  ``30.0``
                                again (a lost message; a dead worker's job
                                comes back by its lease instead)
BATON_BUS_URL                   message bus of domain events (kombu URL:   (none: a thrown message goes
                                ``amqp://...`` or ``redis://...``)         to this Baton's own instances)
BATON_BUS_ROUTES                TOML file: bus events -> Baton messages,   (none: ``baton bus`` refuses
                                and what Baton's message events publish    to start)
BATON_BUS_EXCHANGE              topic exchange of the bus                  ``baton.events``
BATON_SANDBOX_POOL              script sandbox processes each Baton        ``2`` (one started with the
                                process keeps started and ready (see       engine, the rest on first
                                ``engine/_bpmn/sandbox.py``)               use)
BATON_LOG_FORMAT                ``text`` or ``json`` (one JSON object per  ``text``
                                line, with instance/job/element/trace ids)
BATON_METRICS_DIR               folder where each process keeps its        ``$BATON_HOME/metrics``
                                Prometheus values (``/metrics`` sums them; (``PROMETHEUS_MULTIPROC_DIR``
                                share it on a machine, wipe it when all    wins when set)
                                Baton processes there are stopped)
BATON_METRICS_TOKEN             bearer token Prometheus sends to           (none: ``/metrics`` answers
                                ``/metrics`` (a viewer API token works)    loopback callers only)
BATON_COMMIT_EVERY_STEP         ``true``: every service task, in-process   ``false`` (in-process handlers
                                ones too, is its own job and commit        run inside the advance, which
                                (see "Transactions" in the README)         commits at the next wait)
==============================  =========================================  ==============================
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    """Typed settings. Build with :meth:`from_env`; tests use :meth:`replace` for variants."""

    home: Path = Path(".baton")
    database_url: str = ""
    broker_url: str = ""
    endpoints: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    web_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    web_threads: int = 8
    worker_concurrency: int = 2
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    api_token: str = field(default="", repr=False)
    admin_password: str = field(default="", repr=False)
    session_hours: float = 12.0
    trusted_proxies: int = 0
    max_xml_bytes: int = 10 * 1024 * 1024
    idle_transaction_seconds: float = 60.0
    job_lease_seconds: float = 15.0
    continue_steps: int = 50
    retry_base_seconds: float = 1.0
    relay_interval_seconds: float = 2.0
    relay_stale_seconds: float = 30.0
    bus_url: str = field(default="", repr=False)  # may carry a password
    bus_routes: Path | None = None
    bus_exchange: str = "baton.events"
    sandbox_pool: int = 2
    log_format: str = "text"
    metrics_dir: Path | None = None
    metrics_token: str = field(default="", repr=False)
    commit_every_step: bool = False

    def __post_init__(self) -> None:
        home = Path(self.home)
        object.__setattr__(self, "home", home)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{home.resolve() / 'baton.sqlite'}")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", f"sqla+sqlite:///{home.resolve() / 'broker.sqlite'}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every ``BATON_<FIELD>`` variable; unknown ``BATON_*`` names are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"BATON_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            try:
                if kind.startswith("bool"):
                    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(raw)
                    values[f.name] = raw.lower() in ("true", "1", "yes")
                elif kind.startswith("int"):
                    values[f.name] = int(raw)
                elif kind.startswith("float"):
                    values[f.name] = float(raw)
                elif "Path" in kind:
                    values[f.name] = Path(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ConfigurationError(f"BATON_{f.name.upper()}={raw!r} is not a valid {kind}") from exc
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_embedded(self) -> bool:
        """True when the database is SQLite (one machine, the embedded default)."""
        return self.database_url.startswith("sqlite")
