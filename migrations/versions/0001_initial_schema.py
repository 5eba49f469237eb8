"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 16:56:16.351790
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_result_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index(op.f('ix_alerts_fingerprint_state'), 'alerts', ['fingerprint', 'state'], unique=False)
    op.create_index(op.f('ix_alerts_state'), 'alerts', ['state'], unique=False)
    op.create_table('canary_sets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canary_sets')),
    sa.UniqueConstraint('name', 'content_hash', name=op.f('uq_canary_sets_name_content_hash'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('replica', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    op.create_index(op.f('ix_job_runs_job_started_at'), 'job_runs', ['job', 'started_at'], unique=False)
    op.create_index(op.f('ix_job_runs_job_status'), 'job_runs', ['job', 'status'], unique=False)
    op.create_table('model_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('dimensions', sa.Integer(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('model_name', 'config_hash', name=op.f('uq_model_versions_model_name_config_hash'))
    )
    op.create_table('sample_windows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen', sa.BigInteger(), nullable=False),
    sa.Column('kept', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_windows')),
    sa.UniqueConstraint('source', 'window_start', name=op.f('uq_sample_windows_source_window_start'))
    )
    op.create_table('source_counters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('counter', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_counters')),
    sa.UniqueConstraint('source', 'counter', name=op.f('uq_source_counters_source_counter'))
    )
    op.create_table('source_positions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('inode', sa.BigInteger(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_positions')),
    sa.UniqueConstraint('source', 'path', name=op.f('uq_source_positions_source_path'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sink', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dead', sa.Boolean(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_alert_deliveries_idempotency_key'))
    )
    op.create_index(op.f('ix_alert_deliveries_delivered_at_dead_next_attempt_at'), 'alert_deliveries', ['delivered_at', 'dead', 'next_attempt_at'], unique=False)
    op.create_table('canary_baselines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('noise_floor', sa.Float(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_canary_baselines_model_version_id_model_versions')),
    sa.ForeignKeyConstraint(['set_id'], ['canary_sets.id'], name=op.f('fk_canary_baselines_set_id_canary_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canary_baselines'))
    )
    op.create_index(op.f('ix_canary_baselines_set_id_model_version_id_created_at'), 'canary_baselines', ['set_id', 'model_version_id', 'created_at'], unique=False)
    op.create_table('canary_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['canary_sets.id'], name=op.f('fk_canary_items_set_id_canary_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canary_items')),
    sa.UniqueConstraint('set_id', 'item_key', name=op.f('uq_canary_items_set_id_item_key'))
    )
    op.create_table('canary_qrels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('query_key', sa.String(length=200), nullable=False),
    sa.Column('doc_key', sa.String(length=200), nullable=False),
    sa.Column('relevance', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['canary_sets.id'], name=op.f('fk_canary_qrels_set_id_canary_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canary_qrels')),
    sa.UniqueConstraint('set_id', 'query_key', 'doc_key', name=op.f('uq_canary_qrels_set_id_query_key_doc_key'))
    )
    op.create_table('drift_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reference_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reference_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n_ref', sa.Integer(), nullable=False),
    sa.Column('n_cur', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=24), nullable=False),
    sa.Column('alpha', sa.Float(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_drift_runs_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_runs'))
    )
    op.create_index(op.f('ix_drift_runs_model_version_id_created_at'), 'drift_runs', ['model_version_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_drift_runs_model_version_id_window_start'), 'drift_runs', ['model_version_id', 'window_start'], unique=False)
    op.create_table('query_samples',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('window_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['window_id'], ['sample_windows.id'], name=op.f('fk_query_samples_window_id_sample_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query_samples')),
    sa.UniqueConstraint('window_id', 'slot', name=op.f('uq_query_samples_window_id_slot'))
    )
    op.create_index(op.f('ix_query_samples_window_id_text_hash'), 'query_samples', ['window_id', 'text_hash'], unique=False)
    op.create_index(op.f('ix_query_samples_window_start'), 'query_samples', ['window_start'], unique=False)
    op.create_table('canary_baseline_vectors',
    sa.Column('baseline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dtype', sa.String(length=8), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['baseline_id'], ['canary_baselines.id'], name=op.f('fk_canary_baseline_vectors_baseline_id_canary_baselines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['canary_items.id'], name=op.f('fk_canary_baseline_vectors_item_id_canary_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('baseline_id', 'item_id', name=op.f('pk_canary_baseline_vectors'))
    )
    op.create_table('canary_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('baseline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('min_cosine', sa.Float(), nullable=False),
    sa.Column('p01_cosine', sa.Float(), nullable=False),
    sa.Column('mean_cosine', sa.Float(), nullable=False),
    sa.Column('share_below', sa.Float(), nullable=False),
    sa.Column('norm_ratio', sa.Float(), nullable=False),
    sa.Column('dim_baseline', sa.Integer(), nullable=False),
    sa.Column('dim_current', sa.Integer(), nullable=False),
    sa.Column('tolerance', sa.Float(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['baseline_id'], ['canary_baselines.id'], name=op.f('fk_canary_runs_baseline_id_canary_baselines')),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_canary_runs_model_version_id_model_versions')),
    sa.ForeignKeyConstraint(['set_id'], ['canary_sets.id'], name=op.f('fk_canary_runs_set_id_canary_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canary_runs'))
    )
    op.create_index(op.f('ix_canary_runs_model_version_id_set_id_created_at'), 'canary_runs', ['model_version_id', 'set_id', 'created_at'], unique=False)
    op.create_table('drift_metrics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('test', sa.String(length=64), nullable=False),
    sa.Column('statistic', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('effect', sa.Float(), nullable=True),
    sa.Column('drift', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['drift_runs.id'], name=op.f('fk_drift_metrics_run_id_drift_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_metrics')),
    sa.UniqueConstraint('run_id', 'test', name=op.f('uq_drift_metrics_run_id_test'))
    )
    op.create_table('query_embeddings',
    sa.Column('sample_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dtype', sa.String(length=8), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_query_embeddings_model_version_id_model_versions')),
    sa.ForeignKeyConstraint(['sample_id'], ['query_samples.id'], name=op.f('fk_query_embeddings_sample_id_query_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sample_id', 'model_version_id', name=op.f('pk_query_embeddings'))
    )


def downgrade() -> None:
    op.drop_table('query_embeddings')
    op.drop_table('drift_metrics')
    op.drop_index(op.f('ix_canary_runs_model_version_id_set_id_created_at'), table_name='canary_runs')
    op.drop_table('canary_runs')
    op.drop_table('canary_baseline_vectors')
    op.drop_index(op.f('ix_query_samples_window_start'), table_name='query_samples')
    op.drop_index(op.f('ix_query_samples_window_id_text_hash'), table_name='query_samples')
    op.drop_table('query_samples')
    op.drop_index(op.f('ix_drift_runs_model_version_id_window_start'), table_name='drift_runs')
    op.drop_index(op.f('ix_drift_runs_model_version_id_created_at'), table_name='drift_runs')
    op.drop_table('drift_runs')
    op.drop_table('canary_qrels')
    op.drop_table('canary_items')
    op.drop_index(op.f('ix_canary_baselines_set_id_model_version_id_created_at'), table_name='canary_baselines')
    op.drop_table('canary_baselines')
    op.drop_index(op.f('ix_alert_deliveries_delivered_at_dead_next_attempt_at'), table_name='alert_deliveries')
    op.drop_table('alert_deliveries')
    op.drop_table('source_positions')
    op.drop_table('source_counters')
    op.drop_table('sample_windows')
    op.drop_table('model_versions')
    op.drop_index(op.f('ix_job_runs_job_status'), table_name='job_runs')
    op.drop_index(op.f('ix_job_runs_job_started_at'), table_name='job_runs')
    op.drop_table('job_runs')
    op.drop_table('canary_sets')
    op.drop_index(op.f('ix_alerts_state'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_fingerprint_state'), table_name='alerts')
    op.drop_table('alerts')
