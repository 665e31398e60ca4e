"""imported metrics: every metric of the SEO tools' exports in typed columns; import runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:00:00

Domain-level metrics (Majestic TF/CF, Moz spam score, referring domains) go on sites; page-level
ones (UR, PA, page AS/TF/CF, traffic, referring domains, external links, links to the target) and the
imported link (page title, anchor, target, nofollow) on prospects. A prospecting run may now be a
CSV import ("import"), so large imports report progress like the other runs.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SITE_FLOATS = ('trust_flow', 'citation_flow', 'spam_score')
PAGE_FLOATS = ('url_rating', 'page_authority', 'page_authority_score', 'page_trust_flow', 'page_citation_flow')
PAGE_COUNTS = ('page_traffic', 'page_referring_domains', 'external_links', 'links_to_target')


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        for name in SITE_FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('referring_domains', sa.Integer(), nullable=True))
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_title', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('link_anchor', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('link_target_url', sa.String(length=2000), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('link_is_nofollow', sa.Boolean(), nullable=True))
        for name in PAGE_FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name in PAGE_COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_prospecting_runs_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_prospecting_runs_kind'),
                                         "kind IN ('guest_posts', 'mentions', 'import')")


def downgrade() -> None:
    op.execute("DELETE FROM prospecting_runs WHERE kind = 'import'")
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_prospecting_runs_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_prospecting_runs_kind'), "kind IN ('guest_posts', 'mentions')")
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        for name in ('page_title', 'link_anchor', 'link_target_url', 'link_is_nofollow', *PAGE_FLOATS, *PAGE_COUNTS):
            batch_op.drop_column(name)
    with op.batch_alter_table('sites', schema=None) as batch_op:
        for name in (*SITE_FLOATS, 'referring_domains'):
            batch_op.drop_column(name)
