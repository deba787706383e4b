"""open user tasks, for the task list

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "user_task",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("instance_id", sa.String(length=36), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("candidate_users", sa.String(length=1000), nullable=True),
        sa.Column("candidate_groups", sa.String(length=1000), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("form", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("instance_id", "assignee", "claimed_by", "created_at"):
        op.create_index(f"ix_user_task_{column}", "user_task", [column])


def downgrade() -> None:
    for column in ("instance_id", "assignee", "claimed_by", "created_at"):
        op.drop_index(f"ix_user_task_{column}", "user_task")
    op.drop_table("user_task")
