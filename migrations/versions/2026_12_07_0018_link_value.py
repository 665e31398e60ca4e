"""what a link is worth: referral traffic by month, analytics connections, price currency and payment status,
and why a link was lost in plain words

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:47:18

Links lost before this revision have no stored reason: the link page and the report read it from the check
that lost them (outreach.backlinks.reasons). On SQLite the payment status has no CHECK constraint after an
upgrade (adding one rebuilds the table, see upgrade()); the service refuses any other value.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

PAYMENT_STATUSES = "('unpaid', 'invoiced', 'paid', 'refunded')"


def upgrade() -> None:
    op.create_table(
        'referral_traffic',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('level', sa.String(length=6), nullable=False),
        sa.Column('referrer', sa.String(length=2000), nullable=False),
        sa.Column('key', sa.String(length=700), nullable=False),
        sa.Column('domain', sa.String(length=255), nullable=False),
        sa.Column('sessions', sa.Integer(), nullable=False),
        sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('page', 'domain')", name=op.f('ck_referral_traffic_level')),
        sa.CheckConstraint("source IN ('ga4', 'plausible', 'matomo')", name=op.f('ck_referral_traffic_source')),
        sa.CheckConstraint('sessions >= 0', name=op.f('ck_referral_traffic_sessions')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_referral_traffic_client_id_clients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_traffic')),
        sa.UniqueConstraint('client_id', 'source', 'month', 'level', 'key', name='uq_referral_traffic_row'),
    )
    op.create_index('ix_referral_traffic_client_domain_month', 'referral_traffic', ['client_id', 'domain', 'month'])
    op.create_table(
        'analytics_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('base_url', sa.String(length=500), nullable=False),
        sa.Column('site_id', sa.String(length=200), nullable=False),
        sa.Column('token_encrypted', sa.Text(), nullable=False),
        sa.Column('next_pull_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_pulled_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('pulled_through', sa.Date(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('plausible', 'matomo')", name=op.f('ck_analytics_connections_kind')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'],
                                name=op.f('fk_analytics_connections_client_id_clients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_analytics_connections_created_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_connections')),
    )
    op.create_index(op.f('ix_analytics_connections_client_id'), 'analytics_connections', ['client_id'])
    op.create_index('ix_analytics_connections_next_pull_at', 'analytics_connections', ['next_pull_at'])
    # columns are added in place: on SQLite a batch rebuild of `backlinks` would drop the old table, and with
    # foreign keys on that deletes every check and event of every link (ON DELETE CASCADE)
    op.add_column('backlink_events', sa.Column('reason', sa.String(length=30), nullable=False, server_default=''))
    op.add_column('backlinks', sa.Column('currency', sa.String(length=3), nullable=False, server_default=''))
    op.add_column('backlinks', sa.Column('payment_status', sa.String(length=10), nullable=True))
    op.add_column('backlinks', sa.Column('lost_reason', sa.String(length=30), nullable=False, server_default=''))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a CHECK without that rebuild
        op.create_check_constraint(op.f('ck_backlinks_payment_status'), 'backlinks',
                                   f"payment_status IN {PAYMENT_STATUSES}")
    op.add_column('client_link_settings', sa.Column('is_costs_in_report', sa.Boolean(), nullable=False,
                                                    server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('client_link_settings', 'is_costs_in_report')
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f('ck_backlinks_payment_status'), 'backlinks', type_='check')
    for column in ('lost_reason', 'payment_status', 'currency'):
        op.drop_column('backlinks', column)  # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+)
    op.drop_column('backlink_events', 'reason')
    op.drop_index('ix_analytics_connections_next_pull_at', table_name='analytics_connections')
    op.drop_index(op.f('ix_analytics_connections_client_id'), table_name='analytics_connections')
    op.drop_table('analytics_connections')
    op.drop_index('ix_referral_traffic_client_domain_month', table_name='referral_traffic')
    op.drop_table('referral_traffic')
