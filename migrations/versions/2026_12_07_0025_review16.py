"""personalise before sending: a campaign may hold each first email for review; the personaliser role

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 18:00:00

Existing campaigns do not require review and existing messages are not held (is_review_required false).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

OLD_ROLES = "('admin', 'member', 'client_viewer')"
NEW_ROLES = "('admin', 'member', 'client_viewer', 'personaliser')"
AWAITING = "step = 1 AND status = 'scheduled' AND approved_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('mail_campaign_settings') as batch_op:
        batch_op.add_column(sa.Column('is_review_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('mail_messages') as batch_op:
        batch_op.add_column(sa.Column('approved_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('edited_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(op.f('fk_mail_messages_approved_by_id_users'), 'users', ['approved_by_id'],
                                    ['id'], ondelete='SET NULL')
    op.create_index('ix_mail_messages_awaiting_review', 'mail_messages',
                    ['status', 'step', 'approved_at', 'campaign_id', 'send_at'],
                    sqlite_where=sa.text(AWAITING), postgresql_where=sa.text(AWAITING))
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', f"role IN {NEW_ROLES}")


def downgrade() -> None:
    # a personaliser had no more rights than a client viewer has: without the role, the account is deactivated
    op.execute("UPDATE users SET role = 'member', is_active = false WHERE role = 'personaliser'")
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', f"role IN {OLD_ROLES}")
    op.drop_index('ix_mail_messages_awaiting_review', table_name='mail_messages')
    with op.batch_alter_table('mail_messages') as batch_op:
        batch_op.drop_constraint(op.f('fk_mail_messages_approved_by_id_users'), type_='foreignkey')
        batch_op.drop_column('edited_at')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('approved_at')
    with op.batch_alter_table('mail_campaign_settings') as batch_op:
        batch_op.drop_column('is_review_required')
