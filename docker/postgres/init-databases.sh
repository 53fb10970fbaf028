#!/usr/bin/env bash
# Creates the two databases of the stack on the first start of the PostgreSQL container:
#   airflow  Airflow's metadata, owned by the role airflow
#   ztad     the findings store, owned by the role ztad
# Passwords come from the container environment (AIRFLOW_DB_PASSWORD, ZTAD_DB_PASSWORD).
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD must be set}"
: "${ZTAD_DB_PASSWORD:?ZTAD_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_password="$AIRFLOW_DB_PASSWORD" -v ztad_password="$ZTAD_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE ztad LOGIN PASSWORD :'ztad_password';
CREATE DATABASE ztad OWNER ztad;
SQL
