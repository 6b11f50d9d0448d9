-- The application's database roles (PostgreSQL), run once per database as the master user after the first
-- apply and before the first deploy sends traffic: docs/RUNBOOK.md, section 1b (`run_sql "$(cat ...)"`), and
-- `make verify` / the test suite (--datastore-sql) against the local PostgreSQL behind the deployed endpoint.
-- The role names are the stack's defaults (app_username, read_username in terraform/modules/database).

-- The role the API logs in as through RDS Proxy. The proxy logs in with the password of its auth secret: set it
-- next, as RUNBOOK 1b says (ALTER ROLE modelserve_app PASSWORD '...'); it is not written in a file.
-- Without a proxy (create_db_proxy = false) the tasks log in to the instance with IAM: GRANT rds_iam instead.
CREATE ROLE modelserve_app LOGIN;
-- The role the API reads the replicas as, with IAM tokens only, read-only (unused without replicas).
CREATE ROLE modelserve_reader LOGIN;
GRANT rds_iam TO modelserve_reader;

DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO modelserve_app, modelserve_reader', current_database());
END
$$;
-- The application creates its own tables (modelserve/db.py), so it owns them; the reader may read them.
GRANT USAGE, CREATE ON SCHEMA public TO modelserve_app;
GRANT USAGE ON SCHEMA public TO modelserve_reader;
-- The master is no superuser: it may set another role's default privileges only as a member of that role.
GRANT modelserve_app TO CURRENT_USER;
ALTER DEFAULT PRIVILEGES FOR ROLE modelserve_app IN SCHEMA public GRANT SELECT ON TABLES TO modelserve_reader;
