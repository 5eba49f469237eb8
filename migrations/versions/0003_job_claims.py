"""job claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 17:20:53.551020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_job_runs_job_slot_start'), ['job', 'slot_start'])



def downgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_job_runs_job_slot_start'), type_='unique')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('slot_start')

