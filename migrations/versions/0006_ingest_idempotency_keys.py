"""ingest idempotency keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_requests")),
        sa.UniqueConstraint("source", "key", name=op.f("uq_ingest_requests_source_key")),
    )
    with op.batch_alter_table("ingest_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_requests_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_requests_created_at"))
    op.drop_table("ingest_requests")
