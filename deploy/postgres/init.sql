-- Run once when the database volume is created (docker-entrypoint-initdb.d). The role's session
-- defaults, which hold behind PgBouncer too: no statement or lock wait holds a web worker for
-- long (README "Operations"). A sweep's batch raises its own statement timeout with SET LOCAL.
ALTER ROLE shebao SET statement_timeout = '20s';
ALTER ROLE shebao SET lock_timeout = '5s';
ALTER ROLE shebao SET idle_in_transaction_session_timeout = '60s';
