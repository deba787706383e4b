"""What Baton stores (SQLAlchemy 2.0 typed models). The schema is created only by Alembic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    """Files deployed together: all of them become definitions, or none does."""

    __tablename__ = "deployment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    deployed_by: Mapped[str | None] = mapped_column(String(120))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checksum: Mapped[str] = mapped_column(String(64))

    definitions: Mapped[list[ProcessDefinition]] = relationship(back_populates="deployment")


class ProcessDefinition(Base):
    """One version of one BPMN process. The spec is serialized here once, not per instance."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_definition_key_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"))
    file_name: Mapped[str] = mapped_column(String(300))
    checksum: Mapped[str] = mapped_column(String(64))
    source_xml: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[str] = mapped_column(Text)
    bindings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deployment: Mapped[Deployment] = relationship(back_populates="definitions")


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_status_created", "status", "created_at"),
        Index("ix_instance_definition_created", "definition_id", "created_at"),
        Index("ix_instance_definition_id", "definition_id", "id"),  # a version's ids, index-only (0015)
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    definition_id: Mapped[str] = mapped_column(ForeignKey("process_definition.id"), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    parent_instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    parent_task_id: Mapped[str | None] = mapped_column(String(36))
    trace_id: Mapped[str | None] = mapped_column(String(32))  # W3C trace of the start call (engine.logs)

    definition: Mapped[ProcessDefinition] = relationship()


class ActivityEvent(Base):
    """Append-only history: the UI's overlays, timeline and counts come from here."""

    __tablename__ = "activity_event"
    __table_args__ = (UniqueConstraint("instance_id", "seq", name="uq_event_instance_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_type: Mapped[str | None] = mapped_column(String(80))
    name: Mapped[str | None] = mapped_column(String(300))
    event: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[str | None] = mapped_column(String(36))
    attempt: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class Job(Base):
    """The durable unit of work and the outbox: the broker only wakes workers up."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_next_run", "status", "next_run_at"),
                      Index("ix_job_status_sent", "status", "sent_at"),  # the relay ranks pending sends
                      # live tokens by element: the "waiting at" filter (engine/search.py, 0016)
                      Index("ix_job_live_element", "element_id", "instance_id",
                            postgresql_where=text("status IN ('pending', 'running', 'waiting')"),
                            sqlite_where=text("status IN ('pending', 'running', 'waiting')")))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=4)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the relay's re-sends of it
    resend_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # no re-send before (backoff)
    lock_owner: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    trace_id: Mapped[str | None] = mapped_column(String(32))  # W3C trace its calls continue (engine.logs)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def settle(self, status: str, result: dict[str, Any] | None = None) -> None:
        """Give the job its new status (and result) and end the worker's lease on it."""
        self.status, self.updated_at = status, utcnow()
        if result is not None:
            self.result = result
        self.lock_owner = self.locked_until = None


class Incident(Base):
    """An element that failed past its retries with no BPMN error path to take."""

    __tablename__ = "incident"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("job.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    note: Mapped[str | None] = mapped_column(Text)  # an operator's note (engine.incident_detail)
    note_by: Mapped[str | None] = mapped_column(String(200))
    noted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobAttempt(Base):
    """One attempt of a job's call: when, what went over the wire (secrets redacted, bodies cut),
    and how it ended. Written by ``engine.attempts``; the incident page lists them."""

    __tablename__ = "job_attempt"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(20))  # ok | retryable | bpmn_error | fatal | crashed
    request: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text)


class MessageSubscription(Base):
    """A waiting message catch (event, receive task, boundary, event-based gateway branch)."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_subscription_name_created", "name", "created_at"),
                      Index("ix_subscription_element", "element_id", "instance_id"))  # "waiting at" (0016)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="message")  # message | signal
    name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    correlation: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BufferedMessage(Base):
    """A message published with a time to live that matched nothing yet."""

    __tablename__ = "buffered_message"
    __table_args__ = (Index("ix_buffered_name_expires", "name", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    correlation: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MessageReceipt(Base):
    """Message ids already handled: a publish with a known ``message_id`` is not applied twice."""

    __tablename__ = "message_receipt"

    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserTaskRow(Base):
    """An open user or manual task (the task list reads this, not the workflows)."""

    __tablename__ = "user_task"
    __table_args__ = (Index("ix_user_task_element", "element_id", "instance_id"),)  # "waiting at" (0016)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    business_key: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    candidate_users: Mapped[str | None] = mapped_column(String(1000))
    candidate_groups: Mapped[str | None] = mapped_column(String(1000))
    claimed_by: Mapped[str | None] = mapped_column(String(200), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    form: Mapped[list[Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class User(Base):
    """Someone who logs in to the UI. Only a slow hash of the password is kept (``engine.users``)."""

    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token of the REST API. Only the SHA-256 of the secret is kept: it is shown once."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StartRequest(Base):
    """An ``Idempotency-Key`` a caller started an instance with (``engine.idempotency``): a retry
    with the same key returns this instance. The unique key makes two racing retries one start."""

    __tablename__ = "start_request"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_start_request_caller_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    caller: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Lease(Base):
    """A named lease one process holds at a time (``relay``: one relay per database)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BusEvent(Base):
    """An event the bus bridge published, consumed or watched (``engine.trace``). One row per
    event id and kind, so a redelivered event is recorded once."""

    __tablename__ = "bus_event"
    __table_args__ = (UniqueConstraint("event_id", "kind", name="uq_bus_event_id_kind"),
                      Index("ix_bus_event_instance", "instance_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    kind: Mapped[str] = mapped_column(String(12))  # published | consumed | watched
    event_id: Mapped[str | None] = mapped_column(String(200))
    routing_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[str | None] = mapped_column(String(36))  # the publisher, or the one it resumed
    outcome: Mapped[str | None] = mapped_column(String(40))
    correlation: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    business_key: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BusEventKey(Base):
    """A value an event carries as a correlation key or business key: what a trace looks up."""

    __tablename__ = "bus_event_key"
    __table_args__ = (Index("ix_bus_event_key_value", "value"),)

    bus_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                              ForeignKey("bus_event.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class DecisionSource(Base):
    """A DMN file deployed with a diagram, kept as deployed so its decision table can be shown
    (``engine.decisions``); the decision itself runs from the definition's serialized spec."""

    __tablename__ = "decision_source"
    __table_args__ = (Index("ix_decision_source_decision", "decision_id", "created_at"),
                      Index("ix_decision_source_deployment", "deployment_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    decision_id: Mapped[str] = mapped_column(String(200))
    table_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(String(300))
    source_xml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
