"""backlink terms: a link found off its agreed anchor or rel is "terms_not_met"; failures remember since when

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:00:00

A link with failed checks before this revision counts its failures from its last check.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_STATUSES = "('pending', 'live', 'lost', 'missed', 'paused')"
NEW_STATUSES = "('pending', 'live', 'terms_not_met', 'lost', 'missed', 'paused')"
OLD_KINDS = ("('went_live', 'lost', 'relive', 'rel_changed', 'anchor_changed', 'became_noindex', "
             "'became_indexable', 'page_found', 'missed')")
NEW_KINDS = ("('went_live', 'lost', 'relive', 'rel_changed', 'anchor_changed', 'became_noindex', "
             "'became_indexable', 'page_found', 'missed', 'terms_not_met', 'terms_met')")


def upgrade() -> None:
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_since', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unmet_terms', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.drop_constraint(op.f('ck_backlinks_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {NEW_STATUSES}")
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_backlink_events_kind'), type_='check')
        batch_op.create_check_constraint('kind', f"kind IN {NEW_KINDS}")
    op.execute("UPDATE backlinks SET failing_since = last_checked_at WHERE consecutive_failures > 0")


def downgrade() -> None:
    op.execute("UPDATE backlinks SET status = 'live' WHERE status = 'terms_not_met'")
    op.execute("DELETE FROM backlink_events WHERE kind IN ('terms_not_met', 'terms_met')")
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_backlink_events_kind'), type_='check')
        batch_op.create_check_constraint('kind', f"kind IN {OLD_KINDS}")
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_backlinks_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {OLD_STATUSES}")
        batch_op.drop_column('unmet_terms')
        batch_op.drop_column('failing_since')
