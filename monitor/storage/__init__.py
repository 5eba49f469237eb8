"""SQL storage: tables, engine, migrations, and one module of query functions per aggregate.

versions   model versions              canaries   canary sets, baselines, runs, checks
samples    reservoirs, query vectors   drift      drift runs and their metrics
job_runs   claims, leases, outcomes    alerts     alerts, the outbox, silences
snapshot   the read model of /metrics and the status document
"""
