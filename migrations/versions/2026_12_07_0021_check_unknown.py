"""backlink checks: an "unknown" status for pages that answered but could not be read whole

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:00:00

A page past the parse limits (too_complex), or over the size cap without the link in the part read
(too_large), says nothing about the link: such a check is "unknown", never "missing".
No row changes.
"""
from __future__ import annotations

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OLD = "status IN ('live', 'missing', 'error')"
NEW = "status IN ('live', 'missing', 'error', 'unknown')"


def upgrade() -> None:
    with op.batch_alter_table('backlink_checks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_backlink_checks_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_backlink_checks_status'), NEW)


def downgrade() -> None:
    op.execute("UPDATE backlink_checks SET status = 'error' WHERE status = 'unknown'")
    with op.batch_alter_table('backlink_checks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_backlink_checks_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_backlink_checks_status'), OLD)
