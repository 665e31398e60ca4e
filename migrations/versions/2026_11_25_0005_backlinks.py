"""backlinks, checks, events, client link settings, report shares and report deliveries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_link_settings',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('live_check_days', sa.Integer(), nullable=True),
    sa.Column('is_monthly_report', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_link_settings_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_link_settings'))
    )
    op.create_table('report_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('recipients', sa.String(length=1000), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('sending', 'sent', 'failed', 'skipped')", name=op.f('ck_report_deliveries_status')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_report_deliveries_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_deliveries')),
    sa.UniqueConstraint('client_id', 'period', name='uq_report_deliveries_client_period')
    )
    op.create_table('report_shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=False),
    sa.Column('date_to', sa.Date(), nullable=False),
    sa.Column('expires_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_opened_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('open_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_report_shares_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_report_shares_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_report_shares_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_shares')),
    sa.UniqueConstraint('nonce', name=op.f('uq_report_shares_nonce'))
    )
    with op.batch_alter_table('report_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_shares_client_id'), ['client_id'], unique=False)

    op.create_table('backlinks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('prospect_id', sa.Integer(), nullable=True),
    sa.Column('page_url', sa.String(length=2000), nullable=False),
    sa.Column('site_url', sa.String(length=2000), nullable=False),
    sa.Column('target_url', sa.String(length=2000), nullable=False),
    sa.Column('match_mode', sa.String(length=10), nullable=False),
    sa.Column('agreed_anchor', sa.String(length=500), nullable=False),
    sa.Column('agreed_rel', sa.String(length=20), nullable=False),
    sa.Column('price', sa.Float(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('deadline_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('render_js', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('next_check_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_live_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('live_since', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lost_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seen_rel', sa.String(length=200), nullable=False),
    sa.Column('seen_anchor', sa.String(length=500), nullable=False),
    sa.Column('is_follow', sa.Boolean(), nullable=True),
    sa.Column('is_indexable', sa.Boolean(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("agreed_rel IN ('follow', 'nofollow', 'sponsored', 'ugc', 'any')", name=op.f('ck_backlinks_agreed_rel')),
    sa.CheckConstraint("match_mode IN ('exact', 'site')", name=op.f('ck_backlinks_match_mode')),
    sa.CheckConstraint("status IN ('pending', 'live', 'lost', 'missed', 'paused')", name=op.f('ck_backlinks_status')),
    sa.CheckConstraint('consecutive_failures >= 0', name=op.f('ck_backlinks_failures')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_backlinks_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_backlinks_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_backlinks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], name=op.f('fk_backlinks_prospect_id_prospects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backlinks'))
    )
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backlinks_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('ix_backlinks_client_status', ['client_id', 'status'], unique=False)
        batch_op.create_index('ix_backlinks_next_check_at', ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_backlinks_prospect_id'), ['prospect_id'], unique=False)

    op.create_table('backlink_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('page_url', sa.String(length=2000), nullable=False),
    sa.Column('final_url', sa.String(length=2000), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('follow', sa.Boolean(), nullable=False),
    sa.Column('indexable', sa.Boolean(), nullable=False),
    sa.Column('found_in', sa.String(length=10), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('live', 'missing', 'error')", name=op.f('ck_backlink_checks_status')),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_backlink_checks_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backlink_checks'))
    )
    with op.batch_alter_table('backlink_checks', schema=None) as batch_op:
        batch_op.create_index('ix_backlink_checks_backlink_checked', ['backlink_id', 'checked_at'], unique=False)

    op.create_table('backlink_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('backlink_id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notify_attempts', sa.Integer(), nullable=False),
    sa.Column('notify_error', sa.String(length=500), nullable=False),
    sa.CheckConstraint("kind IN ('went_live', 'lost', 'relive', 'rel_changed', 'anchor_changed', 'became_noindex', 'became_indexable', 'page_found', 'missed')", name=op.f('ck_backlink_events_kind')),
    sa.ForeignKeyConstraint(['backlink_id'], ['backlinks.id'], name=op.f('fk_backlink_events_backlink_id_backlinks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['check_id'], ['backlink_checks.id'], name=op.f('fk_backlink_events_check_id_backlink_checks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backlink_events'))
    )
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.create_index('ix_backlink_events_backlink_created', ['backlink_id', 'created_at'], unique=False)
        batch_op.create_index('ix_backlink_events_notified_at', ['notified_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('backlink_events', schema=None) as batch_op:
        batch_op.drop_index('ix_backlink_events_notified_at')
        batch_op.drop_index('ix_backlink_events_backlink_created')

    op.drop_table('backlink_events')
    with op.batch_alter_table('backlink_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_backlink_checks_backlink_checked')

    op.drop_table('backlink_checks')
    with op.batch_alter_table('backlinks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backlinks_prospect_id'))
        batch_op.drop_index('ix_backlinks_next_check_at')
        batch_op.drop_index('ix_backlinks_client_status')
        batch_op.drop_index(batch_op.f('ix_backlinks_campaign_id'))

    op.drop_table('backlinks')
    with op.batch_alter_table('report_shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_shares_client_id'))

    op.drop_table('report_shares')
    op.drop_table('report_deliveries')
    op.drop_table('client_link_settings')
