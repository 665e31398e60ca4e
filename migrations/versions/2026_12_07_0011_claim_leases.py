"""claims with a lease: a validation tick claims the addresses it checks, an alert tick the alerts it sends,
so two schedulers never check the same address or send the same alert

Revision ID: 0011
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0011'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_claimed_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_claimed_at', outreach.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.drop_column('notify_claimed_at')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('check_claimed_at')
