"""relay: per-job re-send count and backoff, the relay's lease

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("resends", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("resend_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_job_status_sent", ["status", "sent_at"])
    lease = op.create_table(
        "lease",
        sa.Column("name", sa.String(length=50), primary_key=True),
        sa.Column("holder", sa.String(length=120), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(lease, [{"name": "relay", "holder": None, "expires_at": None}])


def downgrade() -> None:
    op.drop_table("lease")
    with op.batch_alter_table("job") as batch:
        batch.drop_index("ix_job_status_sent")
        batch.drop_column("resend_at")
        batch.drop_column("resends")
