"""instance ids per definition version: an index the definition's counts read alone

Revision ID: 0015
Revises: 0014

``process_instance (definition_id, id)``: the definition page's per-element counts
(``engine/element_counts.py``) and the instance list's "waiting at an element" filter join a
version's instance ids to jobs, incidents and history. With this index that set is an
index-only scan (no heap visit per instance); the existing ``(definition_id)`` and
``(definition_id, created_at)`` indexes need the table rows for the id (docs/BENCHMARKS.md,
``ui.py``). Both dialects.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_instance_definition_id", "process_instance", ["definition_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_instance_definition_id", table_name="process_instance")
