"""a crawl's frontier, seen-set and page count kept in the database: crawl jobs resume where they stopped

Revision ID: 0023
Revises: 0025
Create Date: 2026-12-07 18:13:39

Row changes: none (new tables; a crawl job running during the upgrade starts its frontier when it resumes).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db

revision = '0023'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crawl_shards',
        sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('heartbeat_at', outreach.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job_id', 'shard', name=op.f('pk_crawl_shards')),
    )
    op.create_table(
        'crawl_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('url_hash', sa.BigInteger(), nullable=False),
        sa.Column('page_hash', sa.BigInteger(), nullable=False),
        sa.Column('page', sa.Text(), nullable=False),
        sa.Column('anchor', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_links')),
        sa.UniqueConstraint('job_id', 'url_hash', 'page_hash', name=op.f('uq_crawl_links_job_id'))
    )
    op.create_table(
        'crawl_states',
        sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seeds', sa.JSON(), nullable=False),
        sa.Column('max_pages', sa.Integer(), nullable=False),
        sa.Column('pages_taken', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_crawl_states'))
    )
    op.create_table(
        'crawl_urls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('url_hash', sa.BigInteger(), nullable=False),
        sa.Column('host_hash', sa.BigInteger(), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('state', sa.SmallInteger(), nullable=False),
        sa.Column('is_page', sa.Boolean(), nullable=True),
        sa.Column('is_crawled', sa.Boolean(), nullable=False),
        sa.Column('is_ok', sa.Boolean(), nullable=False),
        sa.Column('is_broken', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('final_url', sa.Text(), nullable=True),
        sa.CheckConstraint('state IN (0, 1, 2)', name=op.f('ck_crawl_urls_state')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_urls')),
        sa.UniqueConstraint('job_id', 'url_hash', name=op.f('uq_crawl_urls_job_id'))
    )
    with op.batch_alter_table('crawl_urls', schema=None) as batch_op:
        batch_op.create_index('ix_crawl_urls_claim', ['job_id', 'state', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('crawl_urls', schema=None) as batch_op:
        batch_op.drop_index('ix_crawl_urls_claim')

    op.drop_table('crawl_urls')
    op.drop_table('crawl_states')
    op.drop_table('crawl_links')
    op.drop_table('crawl_shards')
