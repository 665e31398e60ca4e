"""prospecting runs: the shared run lifecycle ("refused"); footprint searches and contact finds as runs

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07 13:00:00

Crawl jobs and prospecting runs now share one lifecycle (outreach.runs.lifecycle), so both tables
accept the same statuses. A footprint search and the Prospecting tab's Find contacts leave the web
request and become runs of their own kinds ("search", "contacts").
No row changes.
"""
from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_STATUS = "status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')"
NEW_STATUS = "status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted', 'refused')"
OLD_KIND = "kind IN ('guest_posts', 'mentions', 'import')"
NEW_KIND = "kind IN ('guest_posts', 'mentions', 'search', 'contacts', 'import')"


def upgrade() -> None:
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_prospecting_runs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_prospecting_runs_status'), NEW_STATUS)
        batch_op.drop_constraint(op.f('ck_prospecting_runs_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_prospecting_runs_kind'), NEW_KIND)


def downgrade() -> None:
    op.execute("DELETE FROM prospecting_runs WHERE kind IN ('search', 'contacts')")
    op.execute("UPDATE prospecting_runs SET status = 'failed' WHERE status = 'refused'")
    with op.batch_alter_table('prospecting_runs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_prospecting_runs_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_prospecting_runs_kind'), OLD_KIND)
        batch_op.drop_constraint(op.f('ck_prospecting_runs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_prospecting_runs_status'), OLD_STATUS)
