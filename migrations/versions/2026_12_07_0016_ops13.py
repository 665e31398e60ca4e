"""scheduler heartbeats and tick totals (health, /metrics); the stale-scheduler notification

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:00:00

No row changes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OLD_KINDS = ("kind IN ('went_live', 'relive', 'terms_not_met', 'terms_met', 'lost', 'missed', 'rel_changed', "
             "'anchor_changed', 'became_noindex', 'reply', 'bounce')")
NEW_KINDS = ("kind IN ('went_live', 'relive', 'terms_not_met', 'terms_met', 'lost', 'missed', 'rel_changed', "
             "'anchor_changed', 'became_noindex', 'reply', 'bounce', 'scheduler_stale')")


def upgrade() -> None:
    op.create_table(
        'scheduler_heartbeats',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('started_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('beat_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('stale_alerted_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('stale_emailed_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_heartbeats')),
        sa.UniqueConstraint('name', name=op.f('uq_scheduler_heartbeats_name')),
    )
    with op.batch_alter_table('scheduler_heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_scheduler_heartbeats_beat_at', ['beat_at'], unique=False)
    op.create_table(
        'tick_stats',
        sa.Column('tick_id', sa.String(length=100), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('errors', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('last_seconds', sa.Float(), nullable=False),
        sa.Column('last_run_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tick_id', name=op.f('pk_tick_stats')),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_kind'), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'scheduler_stale'")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_kind'), OLD_KINDS)
    op.drop_table('tick_stats')
    with op.batch_alter_table('scheduler_heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduler_heartbeats_beat_at')
    op.drop_table('scheduler_heartbeats')
