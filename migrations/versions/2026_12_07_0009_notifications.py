"""notifications: every alert (link live, terms not met, lost, reply, bounce) listed in the app for its owner

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-07 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0009'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=500), nullable=False),
        sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('read_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('went_live', 'relive', 'terms_not_met', 'terms_met', 'lost', 'missed', "
                           "'rel_changed', 'anchor_changed', 'became_noindex', 'reply', 'bounce')",
                           name=op.f('ck_notifications_kind')),
        sa.CheckConstraint("link LIKE '/%'", name=op.f('ck_notifications_link_in_app')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_read', ['user_id', 'read_at'], unique=False)
        batch_op.create_index('ix_notifications_user_id_id', ['user_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_id_id')
        batch_op.drop_index('ix_notifications_user_read')
    op.drop_table('notifications')
