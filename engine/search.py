"""Finding instances by what an operator knows: part of a business key or of a variable's text,
the element an instance waits at, an open incident.

The filters are SQLAlchemy clauses that :func:`engine.monitoring.find_instances` adds to its
keyset page; each one is written so an index serves it on 100,000+ instances:

- **prefix** (``order-1*``): on PostgreSQL ``LIKE 'order-1%'``, served by the
  ``varchar_pattern_ops`` index of migration 0011 whatever the database's collation; on SQLite a
  range ``>= 'order-1' AND < 'order-1\\U0010ffff'`` on the plain business key index (SQLite
  compares text byte by byte, so the range is exactly the prefix).
- **contains** (``*trip*``, case-insensitive): on PostgreSQL ``ILIKE '%trip%'``, served by the
  ``pg_trgm`` GIN index when the extension could be created (migration 0011), else a scan; on
  SQLite ``LIKE`` (ASCII case-insensitive), a scan.
- a variable's value by prefix or contains: the JSON text of the whole variables column is
  matched first (the trigram index of 0011 serves that on PostgreSQL), then the named variable's
  own text, so only candidate rows are unpacked.
- **waiting at an element**: the instance has a live token there, i.e. a pending, running or
  waiting job (service call, timer, call activity), an open user task or a message subscription
  at that element, each read index-only by element (migration 0016: a partial index of the live
  jobs). The three are ORed ``IN`` lists, not one ``IN`` of their union: PostgreSQL hashes each
  list once and tests the instances it walks anyway (newest first for a page, stopping at the
  page's end), where a union's unknown size made it probe every token's instance and sort.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, and_, cast, exists, func, or_, select, type_coerce, union_all
from sqlalchemy.dialects.postgresql import JSONB

from .errors import InvalidRequest
from .models import ActivityEvent, Incident, Job, MessageSubscription, ProcessInstance, UserTaskRow

if TYPE_CHECKING:
    from .runtime import Engine

MATCHES = ("exact", "prefix", "contains")
# What an element's count on the definition diagram means, and the instance list filter behind it.
ELEMENT_STATES = ("active", "incident", "completed", "cancelled")
LIVE_JOB = ("pending", "running", "waiting")
BUSINESS_KEY_MAX = 200  # the column's length: a longer key is refused, never cut
_LAST = "\U0010ffff"
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def check_business_key(business_key: str | None) -> str | None:
    """A business key is at most :data:`BUSINESS_KEY_MAX` characters (refused, naming its length)."""
    if business_key is not None and len(business_key) > BUSINESS_KEY_MAX:
        raise InvalidRequest(f"business key: at most {BUSINESS_KEY_MAX} characters; this one has "
                             f"{len(business_key)}")
    return business_key


def split_pattern(text: str, match: str | None = None) -> tuple[str, str]:
    """What was typed and how to match it: ``trip*`` is a prefix, ``*trip*`` contains, and an
    explicit ``match`` wins over the stars. Returns (text without stars, match)."""
    if match is not None and match not in MATCHES:
        raise InvalidRequest(f"match {match!r}: use one of {', '.join(MATCHES)}")
    bare = text.strip("*")
    if match is None:
        if text.startswith("*") and len(text) > 1:
            match = "contains"
        elif text.endswith("*") and len(text) > 1:
            match = "prefix"
        else:
            match = "exact"
    if match == "exact":
        bare = text
    if not bare:
        raise InvalidRequest("the search text is empty: type at least one character besides '*'")
    return bare, match


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_clause(engine: Engine, column: Any, text: str, match: str) -> Any:
    """``column`` equals, starts with or contains ``text`` (contains ignores case)."""
    if match == "exact":
        return column == text
    if match == "prefix":
        if engine.db.is_sqlite:
            # The range uses the index; the LIKE only re-checks (and is case-sensitive here).
            return and_(column >= text, column < text + _LAST, func.substr(column, 1, len(text)) == text)
        return column.like(_escape_like(text) + "%", escape="\\")
    return column.ilike("%" + _escape_like(text) + "%", escape="\\")


def business_key_clause(engine: Engine, text: str, match: str | None = None) -> Any:
    bare, how = split_pattern(text, match)
    return text_clause(engine, ProcessInstance.business_key, bare, how)


def variable_text_clause(engine: Engine, name: str, text: str, match: str) -> Any:
    """The variable ``name`` is a string that starts with / contains ``text``."""
    if not _VARIABLE_NAME.match(name):
        raise InvalidRequest(f"variable name {name!r}: use letters, digits and '_'")
    if match not in ("prefix", "contains"):
        raise InvalidRequest(f"value match {match!r}: use exact, prefix or contains")
    if not text:
        raise InvalidRequest("the value to match is empty")
    column = ProcessInstance.variables
    if engine.db.is_sqlite:
        value = func.json_extract(column, f"$.{name}")
        return and_(func.json_type(column, f"$.{name}") == "text", text_clause(engine, value, text, match))
    jsonb = type_coerce(column, JSONB)
    value = jsonb[name].astext
    # The whole document's text contains the value's text whenever the variable does (a JSON
    # string escapes only quotes, backslashes and control characters, which are left to the
    # second test): the trigram index narrows the rows, the second test decides.
    plain = re.sub(r'["\\\x00-\x1f]', "", text)
    narrow = cast(column, Text).ilike("%" + _escape_like(plain) + "%", escape="\\") if plain else None
    exact = and_(func.jsonb_typeof(jsonb[name]) == "string", text_clause(engine, value, text, match))
    return and_(narrow, exact) if narrow is not None else exact


def live_tokens() -> Any:
    """(instance_id, element_id) of every live token: a job in flight, an open user task, a
    message subscription. The "active" count on a diagram and the "waiting at" filter use it."""
    return union_all(
        select(Job.instance_id, Job.element_id).where(Job.status.in_(LIVE_JOB)),
        select(UserTaskRow.instance_id, UserTaskRow.element_id),
        select(MessageSubscription.instance_id, MessageSubscription.element_id),
    )


def element_clause(element_id: str, state: str = "active") -> Any:
    """Instances whose element ``element_id`` is in ``state`` (:data:`ELEMENT_STATES`)."""
    if state not in ELEMENT_STATES:
        raise InvalidRequest(f"element state {state!r}: use one of {', '.join(ELEMENT_STATES)}")
    me = ProcessInstance.id
    # Live tokens and open incidents are few: their instance ids first, never an EXISTS probed
    # for every instance of a large filter. Live tokens: one hashed list per table (see above).
    if state == "active":
        return or_(
            me.in_(select(Job.instance_id).where(Job.element_id == element_id, Job.status.in_(LIVE_JOB))),
            me.in_(select(UserTaskRow.instance_id).where(UserTaskRow.element_id == element_id)),
            me.in_(select(MessageSubscription.instance_id).where(MessageSubscription.element_id == element_id)))
    if state == "incident":
        return me.in_(select(Incident.instance_id).where(Incident.element_id == element_id,
                                                         Incident.resolved_at.is_(None)))
    # History is large: probed per instance through its (instance_id) index.
    return exists().where(ActivityEvent.instance_id == me, ActivityEvent.element_id == element_id,
                          ActivityEvent.event == state)


def incident_clause(has_incident: bool) -> Any:
    """Instances with (or without) an open incident."""
    found = exists().where(Incident.instance_id == ProcessInstance.id, Incident.resolved_at.is_(None))
    return found if has_incident else ~found
