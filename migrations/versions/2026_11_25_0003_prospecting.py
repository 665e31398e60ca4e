"""assets and prospecting runs (guest-post and mention discovery)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('target_url', sa.String(length=2000), nullable=False),
    sa.Column('brand_names', sa.Text(), nullable=False),
    sa.Column('image_url', sa.String(length=2000), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.Column('image_phash', sa.String(length=16), nullable=False),
    sa.Column('image_type', sa.String(length=60), nullable=False),
    sa.Column('image_data', sa.LargeBinary(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('image', 'brand')", name=op.f('ck_assets_kind')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_assets_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_assets_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets'))
    )
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assets_client_id'), ['client_id'], unique=False)

    op.create_table('prospecting_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('seeds', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('max_pages', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pages_crawled', sa.Integer(), nullable=False),
    sa.Column('sites_done', sa.Integer(), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('is_cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('guest_posts', 'mentions')", name=op.f('ck_prospecting_runs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')", name=op.f('ck_prospecting_runs_status')),
    sa.CheckConstraint('max_pages > 0', name=op.f('ck_prospecting_runs_max_pages')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_prospecting_runs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_prospecting_runs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prospecting_runs'))
    )
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.create_index('ix_prospecting_runs_campaign_created', ['campaign_id', 'created_at'], unique=False)
        batch_op.create_index('ix_prospecting_runs_status', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_prospecting_runs_status')
        batch_op.drop_index('ix_prospecting_runs_campaign_created')

    op.drop_table('prospecting_runs')
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assets_client_id'))

    op.drop_table('assets')
