"""sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:19.531276
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# SQLite rebuilds sample_windows to change its unique constraint; with foreign keys
# on, dropping the old table would cascade to the samples and their vectors, so
# they are kept aside and put back (PRAGMA foreign_keys cannot change inside the
# migration's transaction).
_CHILDREN = ('query_samples', 'query_embeddings')


def _keep_children() -> bool:
    if op.get_bind().dialect.name != 'sqlite':
        return False
    for table in _CHILDREN:
        op.execute(f'CREATE TEMP TABLE _keep_{table} AS SELECT * FROM {table}')
    return True


def _restore_children() -> None:
    for table in _CHILDREN:
        columns = ', '.join(c['name'] for c in sa.inspect(op.get_bind()).get_columns(table))
        op.execute(f'DELETE FROM {table}')
        op.execute(f'INSERT INTO {table} ({columns}) SELECT {columns} FROM temp._keep_{table}')
        op.execute(f'DROP TABLE temp._keep_{table}')


def upgrade() -> None:
    op.create_table('source_watermarks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_watermarks')),
    sa.UniqueConstraint('source', name=op.f('uq_source_watermarks_source'))
    )
    with op.batch_alter_table('query_samples', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=True))

    kept = _keep_children()
    with op.batch_alter_table('sample_windows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stratum', sa.String(length=200), server_default='', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_sample_windows_source_window_start'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_sample_windows_source_window_start_stratum'), ['source', 'window_start', 'stratum'])
    # the default only fills existing rows; the code always writes the stratum
    with op.batch_alter_table('sample_windows', schema=None) as batch_op:
        batch_op.alter_column('stratum', server_default=None, existing_type=sa.String(length=200), existing_nullable=False)
    if kept:
        _restore_children()

    with op.batch_alter_table('source_positions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_positions', schema=None) as batch_op:
        batch_op.drop_column('fingerprint')

    # the old schema has one reservoir per (source, window): stratified ones cannot stay
    op.execute("DELETE FROM query_embeddings WHERE sample_id IN (SELECT q.id FROM query_samples q"
               " JOIN sample_windows w ON w.id = q.window_id WHERE w.stratum <> '')")
    op.execute("DELETE FROM query_samples WHERE window_id IN "
               "(SELECT id FROM sample_windows WHERE stratum <> '')")
    op.execute("DELETE FROM sample_windows WHERE stratum <> ''")
    kept = _keep_children()
    with op.batch_alter_table('sample_windows', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sample_windows_source_window_start_stratum'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_sample_windows_source_window_start'), ['source', 'window_start'])
        batch_op.drop_column('stratum')

    with op.batch_alter_table('query_samples', schema=None) as batch_op:
        batch_op.drop_column('meta')
    if kept:
        _restore_children()

    op.drop_table('source_watermarks')
