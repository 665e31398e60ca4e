"""crawl jobs and their findings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crawl_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('seeds', sa.JSON(), nullable=False),
    sa.Column('max_pages', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pages_crawled', sa.Integer(), nullable=False),
    sa.Column('links_checked', sa.Integer(), nullable=False),
    sa.Column('broken_found', sa.Integer(), nullable=False),
    sa.Column('queued_urls', sa.Integer(), nullable=False),
    sa.Column('is_cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', outreach.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('broken_links')", name=op.f('ck_crawl_jobs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')", name=op.f('ck_crawl_jobs_status')),
    sa.CheckConstraint('max_pages > 0', name=op.f('ck_crawl_jobs_max_pages')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_crawl_jobs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_crawl_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_jobs'))
    )
    with op.batch_alter_table('crawl_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_crawl_jobs_campaign_created', ['campaign_id', 'created_at'], unique=False)
        batch_op.create_index('ix_crawl_jobs_status', ['status', 'created_at'], unique=False)

    op.create_table('crawl_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crawl_job_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('found_on', sa.JSON(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['crawl_job_id'], ['crawl_jobs.id'], name=op.f('fk_crawl_findings_crawl_job_id_crawl_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_findings')),
    sa.UniqueConstraint('crawl_job_id', 'url', name=op.f('uq_crawl_findings_crawl_job_id'))
    )


def downgrade() -> None:
    op.drop_table('crawl_findings')
    with op.batch_alter_table('crawl_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_crawl_jobs_status')
        batch_op.drop_index('ix_crawl_jobs_campaign_created')

    op.drop_table('crawl_jobs')
