"""page-URL search index: prospects found by a piece of their page URL without a scan

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:00:00

PostgreSQL gets a GIN trigram index on lower(page_url COLLATE "C"); SQLite an FTS5 trigram table over
prospects.page_url with its triggers, filled from the rows already there (see outreach.models.url_search).
"""
from __future__ import annotations

from alembic import op

from outreach.models import url_search

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    url_search.ensure(op.get_bind())


def downgrade() -> None:
    url_search.drop(op.get_bind())
