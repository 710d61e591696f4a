-- Run once when the database volume is created (docker-entrypoint-initdb.d). The database's session
-- defaults, for every role (the service role that setup_db_roles creates later included), which hold
-- behind PgBouncer too: no statement or lock wait holds a web worker for long (README "Operations").
-- A sweep's batch raises its own statement timeout with SET LOCAL; migrate sets its own.
ALTER DATABASE shebao SET statement_timeout = '20s';
ALTER DATABASE shebao SET lock_timeout = '5s';
ALTER DATABASE shebao SET idle_in_transaction_session_timeout = '60s';
