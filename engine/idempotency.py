"""``Idempotency-Key`` for starting instances: a retried start returns the first instance.

Follows the IETF draft "The Idempotency-Key HTTP Header Field" (and Stripe): the key is the
caller's, scoped to who calls (two callers may pick the same key), remembered for
:data:`KEEP_HOURS`, and bound to what was asked: the same key with another request (another
process, version, business key or variables) is refused (:class:`IdempotencyKeyReused`, HTTP 422).

Race-safe in the start's own transaction: :func:`claim` inserts the key first, with
``INSERT ... ON CONFLICT DO NOTHING`` on the unique (caller, key). On PostgreSQL a twin that
arrives while the first start runs waits on that insert until the first commits, then finds its
row and returns its instance; SQLite's ``BEGIN IMMEDIATE`` lets one writer in at a time. The key
and the instance commit together, or neither does (a start that fails leaves the key unused).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .errors import InvalidRequest
from .models import StartRequest, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

KEEP_HOURS = 24
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(InvalidRequest):
    """The key was used for a different request (the draft's 422: ``errors`` makes the API's
    handler answer 422, as for any input that is well formed but cannot be applied)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errors = [message]


def fingerprint(key: str, variables: dict[str, Any], business_key: str | None, version: int | None) -> str:
    """What the request asked, hashed: compared when the key comes again."""
    asked = json.dumps([key, version, business_key, variables], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(asked.encode()).hexdigest()


def claim(session: Session, caller: str, key: str, asked: str) -> str | None:
    """Take ``key`` for this start and return None, or return the instance an earlier start
    with it made. Raises :class:`IdempotencyKeyReused` when that start asked something else."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    now = utcnow()
    # Keys past their time are forgotten here, by the caller that comes next (an index on created_at).
    session.execute(delete(StartRequest).where(StartRequest.caller == caller,
                                               StartRequest.created_at < now - timedelta(hours=KEEP_HOURS)))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    taken = session.execute(
        dialect.insert(StartRequest).values(caller=caller, key=key, fingerprint=asked, created_at=now)
        .on_conflict_do_nothing(index_elements=["caller", "key"]).returning(StartRequest.id)).scalar()
    if taken is not None:
        return None
    earlier = session.execute(select(StartRequest.fingerprint, StartRequest.instance_id)
                              .where(StartRequest.caller == caller, StartRequest.key == key)).one()
    if earlier.fingerprint != asked:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used for a different start request; "
                                   "use a new key for a new request")
    return earlier.instance_id


def bind(session: Session, caller: str, key: str, instance_id: str) -> None:
    """Record the instance the claimed key made (same transaction as the instance)."""
    session.execute(update(StartRequest).where(StartRequest.caller == caller, StartRequest.key == key)
                    .values(instance_id=instance_id))
