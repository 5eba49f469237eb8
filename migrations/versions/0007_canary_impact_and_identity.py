"""canary change impact and provider-reported identity

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("canary_runs") as batch:
        batch.add_column(sa.Column("impact", sa.String(length=16), nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("reported_identity", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("identity_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("identity_seen_at")
        batch.drop_column("reported_identity")
    with op.batch_alter_table("canary_runs") as batch:
        batch.drop_column("impact")
