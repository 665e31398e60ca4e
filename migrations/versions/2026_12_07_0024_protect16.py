"""mailbox warm-up ramp and automatic pause (bounce rate, 5.7.x block); workspace settings (the catch-all probe)

Revision ID: 0024
Revises: 0026
Create Date: 2026-12-07 18:00:00

No row changes: mailboxes start without a warm-up, unpaused, with the default bounce threshold (5 %).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0024'
down_revision = '0026'
branch_labels = None
depends_on = None

OLD_KINDS = ("kind IN ('went_live', 'relive', 'terms_not_met', 'terms_met', 'lost', 'missed', 'rel_changed', "
             "'anchor_changed', 'became_noindex', 'reply', 'bounce', 'scheduler_stale')")
NEW_KINDS = ("kind IN ('went_live', 'relive', 'terms_not_met', 'terms_met', 'lost', 'missed', 'rel_changed', "
             "'anchor_changed', 'became_noindex', 'reply', 'bounce', 'scheduler_stale', 'mailbox_paused')")


def upgrade() -> None:
    with op.batch_alter_table('mail_mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warmup_start', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('warmup_increment', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('warmup_started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('bounce_pause_percent', sa.Integer(), nullable=False, server_default='5'))
        batch_op.add_column(sa.Column('paused_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.String(length=500), nullable=False, server_default=''))
        batch_op.create_check_constraint(op.f('ck_mail_mailboxes_warmup'),
                                         'warmup_start >= 0 AND warmup_increment >= 0')
        batch_op.create_check_constraint(op.f('ck_mail_mailboxes_bounce_pause_percent'),
                                         'bounce_pause_percent >= 0 AND bounce_pause_percent <= 100')
    with op.batch_alter_table('mail_mailboxes', schema=None) as batch_op:
        for column in ('warmup_start', 'warmup_increment', 'bounce_pause_percent', 'pause_reason'):
            batch_op.alter_column(column, server_default=None)
    op.create_table(
        'workspace_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('catch_all_probe', sa.Boolean(), nullable=True),
        sa.Column('updated_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('id = 1', name=op.f('ck_workspace_settings_single_row')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_workspace_settings_updated_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workspace_settings')),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_kind'), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'mailbox_paused'")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_kind'), OLD_KINDS)
    op.drop_table('workspace_settings')
    with op.batch_alter_table('mail_mailboxes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_mailboxes_bounce_pause_percent'), type_='check')
        batch_op.drop_constraint(op.f('ck_mail_mailboxes_warmup'), type_='check')
        for column in ('pause_reason', 'paused_at', 'bounce_pause_percent', 'warmup_started_on', 'warmup_increment',
                       'warmup_start'):
            batch_op.drop_column(column)
