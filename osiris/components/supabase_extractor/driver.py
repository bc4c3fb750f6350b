"""supabase.extractor: Supabase is PostgreSQL; its extractor is postgres.extractor's (server-side cursor, exact
Arrow batches), reached through the Postgres connection fields or ``pg_dsn``."""

from osiris.components.postgres_extractor.driver import Driver

__all__ = ["Driver"]
