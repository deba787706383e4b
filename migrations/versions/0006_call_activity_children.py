"""a called process runs as a child instance linked to its caller

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("parent_instance_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("parent_task_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_process_instance_parent_instance_id", ["parent_instance_id"])


def downgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_index("ix_process_instance_parent_instance_id")
        batch.drop_column("parent_task_id")
        batch.drop_column("parent_instance_id")
