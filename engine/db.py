"""The one session factory.

SQLite (the embedded default) has no ``SELECT ... FOR UPDATE``: SQLAlchemy drops the clause. So
every SQLite transaction starts with ``BEGIN IMMEDIATE``, which takes the database's write lock
up front; two writers then queue behind ``busy_timeout`` instead of failing with "database is
locked" when a reader tries to upgrade. PostgreSQL uses real row locks (``with_for_update``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

# A Baton process cut off from the database (a network split, a frozen host) must not hold an
# instance's row lock, or the relay's, for the two hours a TCP connection takes to notice:
# keepalives find a dead peer in ~20 s, and the server ends a transaction left idle for
# BATON_IDLE_TRANSACTION_SECONDS (no advance waits that long between two statements;
# in-process calls are budgeted at 5 s). A session-level value beats the server's and the role's,
# which is why 0 leaves it to them.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}


def postgres_connect_args(idle_transaction_seconds: float) -> dict[str, object]:
    """libpq arguments of every Baton connection to PostgreSQL."""
    args: dict[str, object] = dict(_KEEPALIVES)
    if idle_transaction_seconds > 0:
        args["options"] = f"-c idle_in_transaction_session_timeout={int(idle_transaction_seconds * 1000)}"
    return args


class Database:
    """Owns the SQLAlchemy engine and hands out sessions, each one a transaction."""

    def __init__(self, url: str, *, echo: bool = False, idle_transaction_seconds: float = 60.0):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"timeout": 60, "check_same_thread": False}
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20,
                                        connect_args=postgres_connect_args(idle_transaction_seconds))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(baton_read_only=True), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (no write lock on SQLite)."""
        session = self._read_sessions()
        try:
            yield session
            session.rollback()
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        read_only = connection.get_execution_options().get("baton_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")



def database_errors() -> tuple[type[BaseException], ...]:
    """What a lost database raises, wrapped by SQLAlchemy or not: connection refused or dropped,
    a pool that cannot reconnect, a server shutting down. Not IntegrityError and the like: those
    are conflicts or bugs."""
    from sqlalchemy import exc

    found: tuple[type[BaseException], ...] = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency, but SQLite needs none
        return found
    return (*found, psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now: the work was not done (its
    transaction rolled back) and can be tried again later; nothing is wrong with it."""
    return isinstance(exc, database_errors())
