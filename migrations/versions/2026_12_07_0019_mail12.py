"""mail: Sent-folder copies decide unknown outcomes, follow-up delays in hours or days, the team inbox

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 09:00:00

- mailboxes: who files sent mail in the Sent folder (`sent_copy`: auto, always, never; what auto found), and the
  count of failed polls in a row (retried at the next tick, then further apart);
- messages: where the Sent folder gets each message's copy (`sent_copy`), and who wrote a reply sent from the app;
- sequence steps: `delay_days` becomes `delay_amount` with a `delay_unit` (hours, days) and `business_days_only`;
  existing steps keep their meaning (days, business days only);
- inbound messages: their text for the thread view (existing rows get their snippet), whether they ask to be
  removed, the team's read state (existing rows count as read: they arrived before the inbox showed them), and
  the kind "unsubscribe" (a request through the List-Unsubscribe mailto link).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OLD_KIND = "kind IN ('reply', 'auto_reply', 'bounce', 'soft_bounce', 'unmatched')"
NEW_KIND = "kind IN ('reply', 'auto_reply', 'bounce', 'soft_bounce', 'unsubscribe', 'unmatched')"


def upgrade() -> None:
    with op.batch_alter_table('mail_mailboxes') as batch_op:
        batch_op.add_column(sa.Column('sent_copy', sa.String(length=10), nullable=False, server_default='auto'))
        batch_op.add_column(sa.Column('server_files_sent', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('poll_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint(op.f('ck_mail_mailboxes_sent_copy'), "sent_copy IN ('auto', 'always', 'never')")
    with op.batch_alter_table('mail_mailboxes') as batch_op:
        batch_op.alter_column('sent_copy', server_default=None)
        batch_op.alter_column('poll_failures', server_default=None)

    with op.batch_alter_table('mail_sequence_steps') as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_sequence_steps_delay'), type_='check')
        batch_op.alter_column('delay_days', new_column_name='delay_amount', existing_type=sa.Integer(),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('delay_unit', sa.String(length=5), nullable=False, server_default='days'))
        batch_op.add_column(sa.Column('business_days_only', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('mail_sequence_steps') as batch_op:
        batch_op.create_check_constraint(op.f('ck_mail_sequence_steps_delay'), 'delay_amount >= 0')
        batch_op.create_check_constraint(op.f('ck_mail_sequence_steps_delay_unit'), "delay_unit IN ('hours', 'days')")
        batch_op.alter_column('delay_unit', server_default=None)
        batch_op.alter_column('business_days_only', server_default=None)

    with op.batch_alter_table('mail_messages') as batch_op:
        batch_op.add_column(sa.Column('sent_copy', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('author_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_mail_messages_author_id_users'), 'users', ['author_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_mail_messages_sent_copy'), "sent_copy IN ('', 'server', 'outreach')")
    with op.batch_alter_table('mail_messages') as batch_op:
        batch_op.alter_column('sent_copy', server_default=None)

    with op.batch_alter_table('mail_inbound') as batch_op:
        batch_op.add_column(sa.Column('body_text', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('asks_removal', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('read_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('read_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_mail_inbound_read_by_id_users'), 'users', ['read_by_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.drop_constraint(op.f('ck_mail_inbound_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_mail_inbound_kind'), NEW_KIND)
        batch_op.create_index('ix_mail_inbound_received_at', ['received_at'], unique=False)
    op.execute("UPDATE mail_inbound SET body_text = snippet, read_at = received_at")
    with op.batch_alter_table('mail_inbound') as batch_op:
        batch_op.alter_column('body_text', server_default=None)
        batch_op.alter_column('asks_removal', server_default=None)


def downgrade() -> None:
    op.execute("UPDATE mail_inbound SET kind = 'reply' WHERE kind = 'unsubscribe'")
    with op.batch_alter_table('mail_inbound') as batch_op:
        batch_op.drop_index('ix_mail_inbound_received_at')
        batch_op.drop_constraint(op.f('ck_mail_inbound_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_mail_inbound_kind'), OLD_KIND)
        batch_op.drop_constraint(op.f('fk_mail_inbound_read_by_id_users'), type_='foreignkey')
        batch_op.drop_column('read_by_id')
        batch_op.drop_column('read_at')
        batch_op.drop_column('asks_removal')
        batch_op.drop_column('body_text')
    with op.batch_alter_table('mail_messages') as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_messages_sent_copy'), type_='check')
        batch_op.drop_constraint(op.f('fk_mail_messages_author_id_users'), type_='foreignkey')
        batch_op.drop_column('author_id')
        batch_op.drop_column('sent_copy')
    # a delay in hours becomes the whole days that hold it
    op.execute("UPDATE mail_sequence_steps SET delay_amount = (delay_amount + 23) / 24 WHERE delay_unit = 'hours'")
    with op.batch_alter_table('mail_sequence_steps') as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_sequence_steps_delay_unit'), type_='check')
        batch_op.drop_constraint(op.f('ck_mail_sequence_steps_delay'), type_='check')
        batch_op.drop_column('business_days_only')
        batch_op.drop_column('delay_unit')
        batch_op.alter_column('delay_amount', new_column_name='delay_days', existing_type=sa.Integer(),
                              existing_nullable=False)
    with op.batch_alter_table('mail_sequence_steps') as batch_op:
        batch_op.create_check_constraint(op.f('ck_mail_sequence_steps_delay'), 'delay_days >= 0')
    with op.batch_alter_table('mail_mailboxes') as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_mailboxes_sent_copy'), type_='check')
        batch_op.drop_column('poll_failures')
        batch_op.drop_column('server_files_sent')
        batch_op.drop_column('sent_copy')
