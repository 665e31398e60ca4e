"""crawl jobs: a "refused" status for crawls whose seeds the SSRF guard refused

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-07 12:30:00

Such crawls used to end "done" with nothing found, which read as a clean result.
"""
from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD = "status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')"
NEW = "status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted', 'refused')"


def upgrade() -> None:
    with op.batch_alter_table('crawl_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_crawl_jobs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_crawl_jobs_status'), NEW)


def downgrade() -> None:
    op.execute("UPDATE crawl_jobs SET status = 'failed' WHERE status = 'refused'")
    with op.batch_alter_table('crawl_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_crawl_jobs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_crawl_jobs_status'), OLD)
