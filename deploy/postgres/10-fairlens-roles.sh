#!/bin/sh
# The two database roles, created once when the postgres volume is first initialised (the image runs
# /docker-entrypoint-initdb.d/*.sh as the superuser). By hand on an existing server, run the same SQL as a superuser.
#   fairlens      owns the database, the schema, every table and the append-only triggers; runs migrations and
#                 grant_runtime_role, and is the only role whose maintenance setting passes the triggers.
#   fairlens_app  the application's login (web, worker, beat): no DDL, and after `manage.py grant_runtime_role
#                 fairlens_app` only INSERT and SELECT on audit entries, checkpoints and anchors.
set -eu
: "${FAIRLENS_DB_OWNER_PASSWORD:?set FAIRLENS_DB_OWNER_PASSWORD}"
: "${FAIRLENS_DB_APP_PASSWORD:?set FAIRLENS_DB_APP_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v dbname="$POSTGRES_DB" -v owner_password="$FAIRLENS_DB_OWNER_PASSWORD" \
  -v app_password="$FAIRLENS_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE fairlens LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE fairlens_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
ALTER DATABASE :"dbname" OWNER TO fairlens;
ALTER SCHEMA public OWNER TO fairlens;
-- Nobody but the owner creates objects; the runtime role gets CONNECT and TEMPORARY from grant_runtime_role.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO fairlens_app;
SQL
