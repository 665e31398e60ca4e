"""template tests: a sequence step's variants (B, C, D; the step's own template is A), an enrolment's letter

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-07 18:30:00

Existing steps get no variants and existing enrolments the letter "" (no test): they render and count as before.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mail_step_variants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('step_id', sa.Integer(), nullable=False),
        sa.Column('letter', sa.String(length=1), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("letter IN ('B', 'C', 'D')", name=op.f('ck_mail_step_variants_letter')),
        sa.ForeignKeyConstraint(['step_id'], ['mail_sequence_steps.id'],
                                name=op.f('fk_mail_step_variants_step_id_mail_sequence_steps'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['template_id'], ['mail_templates.id'],
                                name=op.f('fk_mail_step_variants_template_id_mail_templates'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_step_variants')),
        sa.UniqueConstraint('step_id', 'letter', name='uq_mail_step_variants_letter'),
    )
    with op.batch_alter_table('mail_step_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_step_variants_template_id'), ['template_id'], unique=False)
    with op.batch_alter_table('mail_enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant', sa.String(length=1), nullable=False, server_default=''))
    with op.batch_alter_table('mail_enrollments', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_mail_enrollments_variant'), "variant IN ('', 'A', 'B', 'C', 'D')")
        batch_op.alter_column('variant', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('mail_enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_mail_enrollments_variant'), type_='check')
        batch_op.drop_column('variant')
    with op.batch_alter_table('mail_step_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_step_variants_template_id'))
    op.drop_table('mail_step_variants')
