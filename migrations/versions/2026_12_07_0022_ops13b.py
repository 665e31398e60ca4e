"""prospects per campaign and stage kept by triggers (the dashboard); report deliveries get a claim time

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:00:00

Row changes: campaign_stage_counts is filled from the prospects (outreach.models.stage_counts.ensure).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import outreach.db
from outreach.models import stage_counts

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaign_stage_counts',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('prospects', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_stage_counts_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('campaign_id', 'stage', name=op.f('pk_campaign_stage_counts')),
    )
    op.create_table(
        'stage_count_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('delta', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_count_changes')),
    )
    with op.batch_alter_table('stage_count_changes', schema=None) as batch_op:
        batch_op.create_index('ix_stage_count_changes_campaign', ['campaign_id', 'stage'], unique=False)
    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', outreach.db.UTCDateTime(timezone=True), nullable=True))
    stage_counts.ensure(op.get_bind())  # the triggers, and the counts of the prospects already there


def downgrade() -> None:
    stage_counts.drop(op.get_bind())
    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
    with op.batch_alter_table('stage_count_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_count_changes_campaign')
    op.drop_table('stage_count_changes')
    op.drop_table('campaign_stage_counts')
