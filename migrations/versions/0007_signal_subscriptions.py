"""signal catches are subscriptions too (kind = message | signal)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_subscription") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="message"))


def downgrade() -> None:
    with op.batch_alter_table("message_subscription") as batch:
        batch.drop_column("kind")
