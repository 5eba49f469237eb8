-- Runs once, when the local stack's PostgreSQL volume is created (as the owner, driftmon).
-- Grafana reads the agent's tables through a SELECT-only role: it runs whatever SQL a
-- dashboard editor types, so it must not be able to change the history.
CREATE ROLE grafana_ro LOGIN PASSWORD 'grafana_ro';
GRANT CONNECT ON DATABASE driftmon TO grafana_ro;
GRANT USAGE ON SCHEMA public TO grafana_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE driftmon IN SCHEMA public GRANT SELECT ON TABLES TO grafana_ro;
