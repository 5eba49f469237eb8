"""The agent's jobs: plain functions the scheduler runs on a timer and the CLI runs once.

    registry   the one list of job names and their schedules
    context    JobContext (settings, database, providers), Skip, the embedding helpers
    runner     run_job: claim a slot, renew its lease, record the outcome
    sample     read file and SQL sources into the reservoirs (and the shared write)
    ingest     POST /v1/queries into the same reservoirs
    canary     re-embed canary sets, compare with baselines; rebaseline
    migration  migrate-check: blue-green comparison of two versions
    drift      test the latest window against the reference
    alerts     evaluate rules on stored results, queue notifications
    deliver    drain the outbox to the sinks

This package imports nothing itself, so ``monitor.jobs.registry`` stays cheap to
import (the CLI lists the job names without loading NumPy or the providers).
"""
