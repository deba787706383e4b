"""bus events: what the bus bridge published, consumed and watched, found by correlation key

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "bus_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("routing_key", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("correlation", json_type, nullable=True),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "kind", name="uq_bus_event_id_kind"),
    )
    op.create_index("ix_bus_event_instance", "bus_event", ["instance_id"])
    op.create_table(
        "bus_event_key",
        sa.Column("bus_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("bus_event.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("value", sa.String(length=255), primary_key=True),
    )
    op.create_index("ix_bus_event_key_value", "bus_event_key", ["value"])


def downgrade() -> None:
    op.drop_index("ix_bus_event_key_value", table_name="bus_event_key")
    op.drop_table("bus_event_key")
    op.drop_index("ix_bus_event_instance", table_name="bus_event")
    op.drop_table("bus_event")
