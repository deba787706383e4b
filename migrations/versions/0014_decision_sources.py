"""decision sources: each deployed DMN file's XML, so a decision table can be shown

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_source",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("deployment_id", sa.String(length=36),
                  sa.ForeignKey("deployment.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision_id", sa.String(length=200), nullable=False),
        sa.Column("table_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("source_xml", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_decision_source_decision", "decision_source", ["decision_id", "created_at"])
    op.create_index("ix_decision_source_deployment", "decision_source", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_decision_source_deployment", table_name="decision_source")
    op.drop_index("ix_decision_source_decision", table_name="decision_source")
    op.drop_table("decision_source")
