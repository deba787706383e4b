"""Each attempt of a job's call, kept so an incident explains itself (Camunda Cockpit's
incident detail: the stack trace; here also the HTTP exchange).

The adapter that made the call writes what went over the wire into ``JobCall.exchange``
(``request``: method, url, headers, body; ``response``: status, headers, body); the runner hands
it here with the outcome. A Python endpoint has no wire: its adapter leaves the handler's return
value in ``exchange["result"]``, and the record is built here only when it is kept (not for the
in-process calls of an advance, which keep no attempt): the request is the function, the task's
headers and the input variables; the answer is what it returned. Stored bounded and without
secrets:

- headers named ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``, or with
  ``token``, ``secret``, ``password``, ``passwd``, ``key``, ``session`` or ``credential`` in their
  name keep their name and lose their value (so do such query parameters of the URL, and such
  keys, at any depth, of a Python call's variables and result);
- bodies are cut at :data:`BODY_CHARS`, error texts at :data:`ERROR_CHARS`, headers at
  :data:`MAX_HEADERS`; a job keeps its newest :data:`KEEP_PER_JOB` attempts.

A failed attempt's row is written in its own short transaction just before the outcome's
advance, so the incident that advance may open already has it (an attempt whose outcome is then
lost with a worker is still worth seeing). A successful one rides in the completing advance's
transaction (``outcomes.complete_job(..., call=, started=)``): a second commit per step would
double the cost of the hot path for a row nobody needs before the step is done.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, select

from .db import database_unavailable
from .errors import BpmnErrorRaised, EndpointFailure, FatalFailure, RetryableFailure
from .models import JobAttempt

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .jobs import JobCall
    from .runtime import Engine

log = logging.getLogger("baton.attempts")
BODY_CHARS = 4000
ERROR_CHARS = 4000
MAX_HEADERS = 50
KEEP_PER_JOB = 50
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"authorization|cookie|token|secret|passw|key|session|credential", re.IGNORECASE)


def is_secret(name: str) -> bool:
    """Whether a header or query parameter named ``name`` may carry a secret."""
    return bool(_SECRET_NAME.search(name))


def redact_headers(headers: Any) -> dict[str, str]:
    """Headers as ``name -> value`` with every secret's value replaced, at most :data:`MAX_HEADERS`."""
    items = headers.items() if hasattr(headers, "items") else headers or []
    shown: dict[str, str] = {}
    for name, value in list(items)[:MAX_HEADERS]:
        shown[str(name)] = REDACTED if is_secret(str(name)) else str(value)[:500]
    return shown


def redact_url(url: str) -> str:
    """The URL without its user info, and with secret-looking query values replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode([(k, REDACTED if is_secret(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))[:2000]


def cut(text: str | bytes | None, limit: int = BODY_CHARS) -> str | None:
    """A body as text, cut at ``limit`` characters with a note of how much was left out."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"


def http_request(method: str, url: str, headers: Any, body: Any) -> dict[str, Any]:
    """The ``request`` part of an exchange, ready to store."""
    text = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return {"method": method, "url": redact_url(url), "headers": redact_headers(headers), "body": cut(text)}


def http_response(status: int, headers: Any, body: str | bytes | None) -> dict[str, Any]:
    """The ``response`` part of an exchange, ready to store."""
    return {"status": status, "headers": redact_headers(headers), "body": cut(body)}


def redact_values(value: Any, depth: int = 0) -> Any:
    """JSON-like ``value`` with the value of every secret-looking key (:func:`is_secret`) replaced."""
    if depth > 20:
        return "…"
    if isinstance(value, dict):
        return {str(k): REDACTED if is_secret(str(k)) else redact_values(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v, depth + 1) for v in value]
    return value


def _json_text(value: Any) -> str | None:
    return cut(json.dumps(redact_values(value), default=repr, ensure_ascii=False, sort_keys=True))


def python_request(function: str, variables: dict[str, Any], headers: Any) -> dict[str, Any]:
    """The ``request`` of a call to a Python endpoint: the function, the task's headers, the input
    variables (as JSON), ready to store."""
    return {"kind": "python", "method": "CALL", "url": f"python:{function}", "headers": redact_headers(headers),
            "body": _json_text(variables)}


def python_response(result: Any) -> dict[str, Any]:
    """The ``response`` of a Python endpoint: what the handler returned (as JSON), ready to store."""
    return {"kind": "python", "status": None, "headers": {}, "body": _json_text(result)}


def outcome_of(failure: BaseException | None) -> str:
    if failure is None:
        return "ok"
    if isinstance(failure, RetryableFailure):
        return "retryable"
    if isinstance(failure, BpmnErrorRaised):
        return "bpmn_error"
    if isinstance(failure, FatalFailure | EndpointFailure):
        return "fatal"
    return "crashed"


def attempt_row(call: JobCall, started: float, failure: BaseException | None = None) -> JobAttempt:
    """One attempt of ``call`` as a row: its time, its exchange (if the adapter wrote one), how it ended."""
    exchange = call.exchange or {}
    request = exchange.get("request")
    response = exchange.get("response")
    if request is None and call.endpoint is not None and call.endpoint.python:
        request = python_request(call.endpoint.python, call.variables, call.headers)
        if "result" in exchange:
            response = python_response(exchange["result"])
    error = None
    if failure is not None:
        error = cut(f"{type(failure).__name__}: {failure}", ERROR_CHARS)
    return JobAttempt(job_id=call.job_id, instance_id=call.instance_id, element_id=call.element_id,
                      attempt=call.attempt, started_at=datetime.fromtimestamp(started, UTC),
                      ended_at=datetime.fromtimestamp(time.time(), UTC), outcome=outcome_of(failure),
                      request=request if isinstance(request, dict) else None,
                      response=response if isinstance(response, dict) else None, error=error)


def keep_attempt(session: Session, row: JobAttempt) -> None:
    """Add ``row`` in the caller's transaction; past :data:`KEEP_PER_JOB` attempts, drop the oldest.

    Attempt numbers restart when an operator sets retries, so the count is checked on failures
    and from the :data:`KEEP_PER_JOB`-th attempt on, not on a first success (the hot path)."""
    session.add(row)
    if row.outcome == "ok" and row.attempt < KEEP_PER_JOB:
        return
    session.flush()
    old = list(session.scalars(select(JobAttempt.id).where(JobAttempt.job_id == row.job_id)
                               .order_by(JobAttempt.id.desc()).offset(KEEP_PER_JOB)))
    if old:
        session.execute(delete(JobAttempt).where(JobAttempt.id.in_(old)))


def record_attempt(engine: Engine, call: JobCall, started: float, failure: BaseException | None = None) -> None:
    """Keep one attempt of ``call`` in its own transaction. Never raises for a bad exchange: a
    record that cannot be kept must not fail the job."""
    row = attempt_row(call, started, failure)
    try:
        with engine.db.transaction() as session:
            keep_attempt(session, row)
    except Exception as exc:  # the outcome matters more than its record: the job goes on without it
        if database_unavailable(exc):  # expected while the database restarts: one line, no traceback
            log.warning("job %s attempt %s: its record was not kept (the database is away: %s)",
                        call.job_id, call.attempt, type(exc).__name__)
        else:
            log.warning("job %s attempt %s: its record was not kept", call.job_id, call.attempt, exc_info=True)


def attempts_of(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    """A job's kept attempts, oldest first, with times to the millisecond."""
    with engine.db.reading() as session:
        rows = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id))
        return [{"attempt": r.attempt, "started_at": iso_ms(r.started_at), "ended_at": iso_ms(r.ended_at),
                 "duration_ms": duration_ms(r.started_at, r.ended_at), "outcome": r.outcome, "request": r.request,
                 "response": r.response, "error": r.error} for r in rows]


def iso_ms(value: datetime | None) -> str | None:
    """ISO 8601 in UTC to the millisecond (SQLite hands back naive UTC values)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return int(round((end - start).total_seconds() * 1000))
