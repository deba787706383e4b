"""live tokens by element: the indexes behind the "waiting at an element" filter

Revision ID: 0016
Revises: 0015

The instance list's "waiting at an element" filter (``engine/search.py``) looks up the instances
with a live token at one element: a pending, running or waiting job there, an open user task, a
message subscription. Each of those tables was read whole for it (a sequential scan of every job
ever made). ``job (element_id, instance_id)`` only for the live statuses (a partial index: done
and failed jobs, the bulk of the table, are not in it), and ``(element_id, instance_id)`` on
``user_task`` and ``message_subscription``, make each lookup an index-only scan. Nothing is
added to the advance but the index upkeep of rows it writes anyway. Both dialects.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('pending', 'running', 'waiting')")


def upgrade() -> None:
    op.create_index("ix_job_live_element", "job", ["element_id", "instance_id"],
                    postgresql_where=LIVE, sqlite_where=LIVE)
    op.create_index("ix_user_task_element", "user_task", ["element_id", "instance_id"])
    op.create_index("ix_subscription_element", "message_subscription", ["element_id", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_subscription_element", table_name="message_subscription")
    op.drop_index("ix_user_task_element", table_name="user_task")
    op.drop_index("ix_job_live_element", table_name="job")
