"""What a log line knows about, and the W3C trace Baton continues.

One context variable holds the ids of the work at hand: the instance, the job, the element and
the W3C trace id. Whoever starts a piece of work binds them (the web layer for a request, from
its path and its ``traceparent`` header; ``claim_job`` for a job a worker runs), and everything
logged meanwhile carries them::

    from engine import logs
    with logs.bound(instance_id="…", trace_id=logs.parse_traceparent(header)):
        ...                                  # log lines, and rows made here, know these ids

``BATON_LOG_FORMAT=json`` turns every log line into one JSON object (``time``, ``level``,
``logger``, ``message``, and the ids that are known); plain text stays the default.

**Trace context.** A row made while a trace is bound keeps its trace id: an instance started by a
call that sent ``traceparent`` (``process_instance.trace_id``), and every job made meanwhile
(``job.trace_id``; a job made with no trace bound takes its instance's). A worker binds the trace
of the job it claimed, so the jobs its outcome makes continue the same trace, and the
``traceparent`` an endpoint receives has that trace id with a new parent id (the job's).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from .models import Job, ProcessInstance

IDS = ("instance_id", "job_id", "element_id", "trace_id")
_context: ContextVar[dict[str, str]] = ContextVar("baton_log_context", default={})  # noqa: B039 - never mutated
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


# -- the ids of the work at hand -------------------------------------------------------------------

def current() -> dict[str, str]:
    """The ids bound now (a copy)."""
    return dict(_context.get())


def bind(**ids: str | None) -> None:
    """Bind ids for the rest of this context (a worker's job: until the next job binds its own)."""
    _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Bind ids for the ``with`` block only."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def replace(**ids: str | None) -> Any:
    """Bind exactly these ids (dropping the others); returns the token for :func:`restore`."""
    return _context.set({k: v for k, v in ids.items() if v})


def restore(token: Any) -> None:
    _context.reset(token)


# -- W3C trace context -----------------------------------------------------------------------------

def parse_traceparent(header: str | None) -> str | None:
    """The trace id of a valid ``traceparent`` header (version 00 rules), else None (ignored, as
    the W3C recommendation says: a broken header starts a new trace, it is not an error)."""
    found = _TRACEPARENT.match((header or "").strip().lower())
    if not found:
        return None
    version, trace_id, parent_id, _flags, rest = found.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16 or (version == "00" and rest):
        return None
    return trace_id


def traceparent(trace_id: str, parent_id: str | None = None) -> str:
    """A ``traceparent`` with ``trace_id`` and a parent id (random if not given), sampled."""
    return f"00-{trace_id}-{parent_id or secrets.token_hex(8)}-01"


def job_traceparent(job: Job) -> str:
    """Bind a claimed job's ids and return the ``traceparent`` its endpoint call carries: the
    job's trace (the caller's that made it) or, for a job from before traces were kept, one
    named after its instance; the parent id is the job's, new for every job."""
    trace_id = job.trace_id or job.instance_id.replace("-", "")
    bind(instance_id=job.instance_id, job_id=job.id, element_id=job.element_id, trace_id=trace_id)
    return traceparent(trace_id, job.id.replace("-", "")[:16])


@event.listens_for(ProcessInstance, "before_insert")
def _instance_trace(_mapper: Any, _connection: Any, instance: ProcessInstance) -> None:
    if instance.trace_id is None:
        instance.trace_id = _context.get().get("trace_id")


@event.listens_for(Job, "before_insert")
def _job_trace(_mapper: Any, _connection: Any, job: Job) -> None:
    # One place for every kind of job (outbox, timers, calls): the bound trace, else the instance's,
    # read by the INSERT itself (a subquery) so no job creation site has to know about traces.
    if job.trace_id is None:
        bound_trace = _context.get().get("trace_id")
        job.trace_id = bound_trace or select(ProcessInstance.trace_id).where(  # type: ignore[assignment]
            ProcessInstance.id == job.instance_id).scalar_subquery()


# -- log lines -------------------------------------------------------------------------------------

class ContextFilter(logging.Filter):
    """Puts the bound ids on every record (``%(instance_id)s`` works in text formats too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _context.get()
        for name in IDS:
            if not hasattr(record, name):
                setattr(record, name, ids.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the known ids,
    and the exception's traceback as ``exc_info`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        ids = _context.get()
        for name in IDS:
            value = getattr(record, name, None) or ids.get(name)
            if value:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


_LOGGERS = ("", "gunicorn.error", "gunicorn.access")  # the root and gunicorn's own (not propagated)


def configure(log_format: str) -> None:
    """Apply ``BATON_LOG_FORMAT``: ``json`` makes every handler of the root logger (and
    gunicorn's) write JSON lines, adding a stderr handler when there is none; ``text`` only
    adds the id filter. Safe to call more than once."""
    if log_format not in ("text", "json"):
        from .errors import ConfigurationError

        raise ConfigurationError(f"BATON_LOG_FORMAT={log_format!r}: use text or json")
    root = logging.getLogger()
    if log_format == "json" and not root.handlers:
        root.addHandler(logging.StreamHandler())
        if root.level == logging.WARNING:  # Python's default: Baton's INFO lines are wanted
            root.setLevel(logging.INFO)
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
            if log_format == "json" and not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(JsonFormatter())
