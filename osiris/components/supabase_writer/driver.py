"""supabase.writer: Supabase is PostgreSQL; its writer is postgres.writer's (a binary COPY load in one transaction
executing the write plan, docs/ddl.md), reached through the Postgres connection fields or ``pg_dsn``."""

from osiris.components.postgres_writer.driver import Driver

__all__ = ["Driver"]
