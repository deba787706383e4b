"""incidents that explain themselves: each job attempt's request and answer, an operator's note

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "job_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(length=36), sa.ForeignKey("job.id"), nullable=False),
        sa.Column("instance_id", sa.String(length=36), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("request", JSON, nullable=True),
        sa.Column("response", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_job_attempt_job_id", "job_attempt", ["job_id"])
    op.create_index("ix_job_attempt_instance_id", "job_attempt", ["instance_id"])
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("note_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("noted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("noted_at")
        batch.drop_column("note_by")
        batch.drop_column("note")
    op.drop_index("ix_job_attempt_instance_id", table_name="job_attempt")
    op.drop_index("ix_job_attempt_job_id", table_name="job_attempt")
    op.drop_table("job_attempt")
