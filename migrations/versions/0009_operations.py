"""operations: Idempotency-Key of starts, W3C trace ids of instances and jobs

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "start_request",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("caller", "key", name="uq_start_request_caller_key"),
    )
    op.create_index("ix_start_request_created_at", "start_request", ["created_at"])
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.drop_column("trace_id")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("trace_id")
    op.drop_index("ix_start_request_created_at", table_name="start_request")
    op.drop_table("start_request")
