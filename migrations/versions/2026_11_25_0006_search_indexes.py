"""search indexes: trigram search on domains and contacts, stage filters

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 07:30:00

On PostgreSQL, substring search (ILIKE '%q%') uses GIN trigram indexes (the pg_trgm extension).
SQLite ignores the PostgreSQL-only options and gets plain b-tree indexes on the same columns, so
both schemas match the models.
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index('ix_sites_domain_trgm', ['domain'], unique=False, postgresql_using='gin',
                              postgresql_ops={'domain': 'gin_trgm_ops'})
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_search_trgm', ['email', 'name'], unique=False, postgresql_using='gin',
                              postgresql_ops={'email': 'gin_trgm_ops', 'name': 'gin_trgm_ops'})
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.create_index('ix_prospects_stage_site', ['stage', 'site_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.drop_index('ix_prospects_stage_site')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_search_trgm')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index('ix_sites_domain_trgm')
    # pg_trgm stays: other objects may use it, and it is harmless
