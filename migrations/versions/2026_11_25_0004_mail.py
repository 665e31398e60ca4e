"""mailboxes, templates, sequences, outbox, inbound messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('from_name', sa.String(length=200), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=False),
    sa.Column('smtp_host', sa.String(length=255), nullable=False),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_security', sa.String(length=10), nullable=False),
    sa.Column('smtp_username', sa.String(length=320), nullable=False),
    sa.Column('smtp_password', sa.Text(), nullable=False),
    sa.Column('imap_host', sa.String(length=255), nullable=False),
    sa.Column('imap_port', sa.Integer(), nullable=False),
    sa.Column('imap_security', sa.String(length=10), nullable=False),
    sa.Column('imap_username', sa.String(length=320), nullable=False),
    sa.Column('imap_password', sa.Text(), nullable=False),
    sa.Column('imap_sent_folder', sa.String(length=200), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=False),
    sa.Column('min_spacing_seconds', sa.Integer(), nullable=False),
    sa.Column('jitter_seconds', sa.Integer(), nullable=False),
    sa.Column('window_days', sa.String(length=20), nullable=False),
    sa.Column('window_start_hour', sa.Integer(), nullable=False),
    sa.Column('window_end_hour', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('next_send_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_poll_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('imap_uidvalidity', sa.Integer(), nullable=False),
    sa.Column('imap_last_uid', sa.Integer(), nullable=False),
    sa.Column('last_poll_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("imap_security IN ('none', 'starttls', 'ssl')", name=op.f('ck_mail_mailboxes_imap_security')),
    sa.CheckConstraint("smtp_security IN ('none', 'starttls', 'ssl')", name=op.f('ck_mail_mailboxes_smtp_security')),
    sa.CheckConstraint('daily_cap >= 0 AND min_spacing_seconds >= 0 AND jitter_seconds >= 0', name=op.f('ck_mail_mailboxes_limits')),
    sa.CheckConstraint('window_start_hour >= 0 AND window_end_hour <= 24 AND window_start_hour < window_end_hour', name=op.f('ck_mail_mailboxes_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_mailboxes')),
    sa.UniqueConstraint('name', name=op.f('uq_mail_mailboxes_name'))
    )
    op.create_table('mail_sequences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_sequences')),
    sa.UniqueConstraint('name', name=op.f('uq_mail_sequences_name'))
    )
    op.create_table('mail_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_mail_templates_name'))
    )
    op.create_table('mail_sequence_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('delay_days', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('delay_days >= 0', name=op.f('ck_mail_sequence_steps_delay')),
    sa.ForeignKeyConstraint(['sequence_id'], ['mail_sequences.id'], name=op.f('fk_mail_sequence_steps_sequence_id_mail_sequences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['mail_templates.id'], name=op.f('fk_mail_sequence_steps_template_id_mail_templates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_sequence_steps')),
    sa.UniqueConstraint('sequence_id', 'position', name='uq_mail_sequence_steps_position')
    )
    with op.batch_alter_table('mail_sequence_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_sequence_steps_template_id'), ['template_id'], unique=False)

    op.create_table('mail_campaign_settings',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('sequence_id', sa.Integer(), nullable=True),
    sa.Column('is_paused', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_mail_campaign_settings_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], name=op.f('fk_mail_campaign_settings_mailbox_id_mail_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sequence_id'], ['mail_sequences.id'], name=op.f('fk_mail_campaign_settings_sequence_id_mail_sequences'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_mail_campaign_settings'))
    )
    with op.batch_alter_table('mail_campaign_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_campaign_settings_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_campaign_settings_sequence_id'), ['sequence_id'], unique=False)

    op.create_table('mail_enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('prospect_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('sequence_id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stop_reason', sa.String(length=40), nullable=False),
    sa.Column('stop_detail', sa.String(length=500), nullable=False),
    sa.Column('paused_until', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('active', 'finished', 'stopped')", name=op.f('ck_mail_enrollments_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_mail_enrollments_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_mail_enrollments_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_mail_enrollments_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], name=op.f('fk_mail_enrollments_mailbox_id_mail_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], name=op.f('fk_mail_enrollments_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sequence_id'], ['mail_sequences.id'], name=op.f('fk_mail_enrollments_sequence_id_mail_sequences'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_enrollments')),
    sa.UniqueConstraint('prospect_id', name='uq_mail_enrollments_prospect')
    )
    with op.batch_alter_table('mail_enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_enrollments_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('ix_mail_enrollments_contact_status', ['contact_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_enrollments_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_enrollments_sequence_id'), ['sequence_id'], unique=False)

    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('prospect_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('in_reply_to', sa.String(length=300), nullable=False),
    sa.Column('references', sa.Text(), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=False),
    sa.Column('from_name', sa.String(length=200), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=False),
    sa.Column('to_name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('send_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('soft_bounces', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=False),
    sa.Column('claimed_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('data_started_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('transport', sa.String(length=10), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled', 'bounced', 'unknown')", name=op.f('ck_mail_messages_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_mail_messages_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_mail_messages_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['mail_enrollments.id'], name=op.f('fk_mail_messages_enrollment_id_mail_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], name=op.f('fk_mail_messages_mailbox_id_mail_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], name=op.f('fk_mail_messages_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages')),
    sa.UniqueConstraint('enrollment_id', 'step', name='uq_mail_messages_enrollment_step'),
    sa.UniqueConstraint('message_id', name='uq_mail_messages_message_id')
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_campaign_status', ['campaign_id', 'status'], unique=False)
        batch_op.create_index('ix_mail_messages_contact_status', ['contact_id', 'status'], unique=False)
        batch_op.create_index('ix_mail_messages_mailbox_sent', ['mailbox_id', 'sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_messages_prospect_id'), ['prospect_id'], unique=False)
        batch_op.create_index('ix_mail_messages_status_send_at', ['status', 'send_at'], unique=False)

    op.create_table('mail_inbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('uidvalidity', sa.Integer(), nullable=False),
    sa.Column('uid', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reply_to_message_id', sa.Integer(), nullable=True),
    sa.Column('snippet', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('received_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('reply', 'auto_reply', 'bounce', 'soft_bounce', 'unmatched')", name=op.f('ck_mail_inbound_kind')),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], name=op.f('fk_mail_inbound_mailbox_id_mail_mailboxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reply_to_message_id'], ['mail_messages.id'], name=op.f('fk_mail_inbound_reply_to_message_id_mail_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_inbound')),
    sa.UniqueConstraint('mailbox_id', 'uidvalidity', 'uid', name='uq_mail_inbound_uid')
    )
    with op.batch_alter_table('mail_inbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_inbound_reply_to_message_id'), ['reply_to_message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mail_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_inbound_reply_to_message_id'))

    op.drop_table('mail_inbound')
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_messages_status_send_at')
        batch_op.drop_index(batch_op.f('ix_mail_messages_prospect_id'))
        batch_op.drop_index('ix_mail_messages_mailbox_sent')
        batch_op.drop_index('ix_mail_messages_contact_status')
        batch_op.drop_index('ix_mail_messages_campaign_status')

    op.drop_table('mail_messages')
    with op.batch_alter_table('mail_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_enrollments_sequence_id'))
        batch_op.drop_index(batch_op.f('ix_mail_enrollments_mailbox_id'))
        batch_op.drop_index('ix_mail_enrollments_contact_status')
        batch_op.drop_index(batch_op.f('ix_mail_enrollments_campaign_id'))

    op.drop_table('mail_enrollments')
    with op.batch_alter_table('mail_campaign_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_campaign_settings_sequence_id'))
        batch_op.drop_index(batch_op.f('ix_mail_campaign_settings_mailbox_id'))

    op.drop_table('mail_campaign_settings')
    with op.batch_alter_table('mail_sequence_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_sequence_steps_template_id'))

    op.drop_table('mail_sequence_steps')
    op.drop_table('mail_templates')
    op.drop_table('mail_sequences')
    op.drop_table('mail_mailboxes')
