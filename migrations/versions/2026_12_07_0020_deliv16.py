"""domain checks and DKIM signing per mailbox; address confidence on contacts

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 16:00:00

Existing mailboxes start unchecked (next_domain_check_at NULL: the daily tick checks them first) and unsigned.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mail_mailboxes') as batch:
        batch.add_column(sa.Column('dkim_selector', sa.String(length=63), nullable=False, server_default=''))
        batch.add_column(sa.Column('dkim_private_key', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('domain_checks_json', sa.Text(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('domain_checked_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('next_domain_check_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('confidence', sa.String(length=10), nullable=False, server_default=''))
        batch.add_column(sa.Column('confidence_reason', sa.String(length=300), nullable=False, server_default=''))
    op.create_index(op.f('ix_mail_mailboxes_next_domain_check_at'), 'mail_mailboxes', ['next_domain_check_at'])


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('confidence_reason')
        batch.drop_column('confidence')
    op.drop_index(op.f('ix_mail_mailboxes_next_domain_check_at'), table_name='mail_mailboxes')
    with op.batch_alter_table('mail_mailboxes') as batch:
        for column in ('next_domain_check_at', 'domain_checked_at', 'domain_checks_json', 'dkim_private_key',
                       'dkim_selector'):
            batch.drop_column(column)
