"""retrieval metrics and migrate checks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:56:08.676186
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('migrate_checks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['from_version_id'], ['model_versions.id'], name=op.f('fk_migrate_checks_from_version_id_model_versions')),
    sa.ForeignKeyConstraint(['set_id'], ['canary_sets.id'], name=op.f('fk_migrate_checks_set_id_canary_sets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_version_id'], ['model_versions.id'], name=op.f('fk_migrate_checks_to_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_migrate_checks'))
    )
    with op.batch_alter_table('migrate_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_migrate_checks_from_version_id_to_version_id_created_at'), ['from_version_id', 'to_version_id', 'created_at'], unique=False)

    op.create_table('retrieval_metrics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('canary_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('dims', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['canary_run_id'], ['canary_runs.id'], name=op.f('fk_retrieval_metrics_canary_run_id_canary_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retrieval_metrics')),
    sa.UniqueConstraint('canary_run_id', 'metric', 'dims', name=op.f('uq_retrieval_metrics_canary_run_id_metric_dims'))
    )


def downgrade() -> None:
    op.drop_table('retrieval_metrics')
    with op.batch_alter_table('migrate_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_migrate_checks_from_version_id_to_version_id_created_at'))

    op.drop_table('migrate_checks')
