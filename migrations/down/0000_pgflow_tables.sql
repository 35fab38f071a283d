-- Reverts 0000_pgflow_tables: removes schema pgflow and everything still in it (the seven tables
-- and their rows). Run by Kysely's `down`; the migration tracking tables live elsewhere and stay.
drop schema if exists pgflow cascade;
