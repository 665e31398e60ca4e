"""prospects remember which conflicts their override set aside, so enrolment and sending honour it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00

A prospect overridden before this revision covers every conflict an override can set aside ("*"), as
it did then.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('prospects') as batch_op:
        batch_op.add_column(sa.Column('overridden', sa.JSON(), nullable=False, server_default='[]'))
    op.execute("UPDATE prospects SET overridden = '[\"*\"]' WHERE override_reason <> ''")
    with op.batch_alter_table('prospects') as batch_op:
        batch_op.alter_column('overridden', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('prospects') as batch_op:
        batch_op.drop_column('overridden')
