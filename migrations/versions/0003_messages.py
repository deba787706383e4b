"""message subscriptions, buffered messages (ttl) and message receipts (idempotent publish)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "message_subscription",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("instance_id", sa.String(length=36), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("correlation", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_message_subscription_instance_id", "message_subscription", ["instance_id"])
    op.create_index("ix_subscription_name_created", "message_subscription", ["name", "created_at"])
    op.create_table(
        "buffered_message",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("correlation", JSON, nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_buffered_name_expires", "buffered_message", ["name", "expires_at"])
    op.create_table(
        "message_receipt",
        sa.Column("message_id", sa.String(length=200), primary_key=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_receipt")
    op.drop_index("ix_buffered_name_expires", "buffered_message")
    op.drop_table("buffered_message")
    op.drop_index("ix_subscription_name_created", "message_subscription")
    op.drop_index("ix_message_subscription_instance_id", "message_subscription")
    op.drop_table("message_subscription")
