"""Where the benchmark data lives and how to reach the servers (environment overrides, never secrets in files)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pymysql

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


@dataclass
class Settings:
    """One run's settings. Passwords come from the environment only (MYSQL_PWD / PGPASSWORD) and are passed on
    to children through their environment, never on a command line or in a file."""

    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_db: str = "bench"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_db: str = "test"
    pg_schema: str = "bench"
    work_dir: Path = field(default_factory=lambda: BENCH_DIR / "work")
    data_dir: Path = field(default_factory=lambda: BENCH_DIR / "data")
    osirisc: Path = field(default_factory=lambda: ROOT / ".venv" / "bin" / "osirisc")
    python: Path = field(default_factory=lambda: ROOT / ".venv" / "bin" / "python")
    ref_python: Path = field(default_factory=lambda: BENCH_DIR / ".venv-ref" / "bin" / "python")
    use_refs: bool = True
    repeats: int = 3
    timeout: float = 900.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            mysql_host=env.get("BENCH_MYSQL_HOST", "127.0.0.1"),
            mysql_port=int(env.get("BENCH_MYSQL_PORT", "3306")),
            mysql_user=env.get("BENCH_MYSQL_USER", "root"),
            pg_host=env.get("BENCH_PG_HOST", "127.0.0.1"),
            pg_port=int(env.get("BENCH_PG_PORT", "5432")),
            pg_user=env.get("BENCH_PG_USER", "postgres"),
            pg_db=env.get("BENCH_PG_DATABASE", "test"),
        )

    @property
    def mysql_password(self) -> str:
        return os.environ.get("MYSQL_PWD", "")

    @property
    def pg_password(self) -> str:
        return os.environ.get("PGPASSWORD", "")

    def child_env(self) -> dict[str, str]:
        """Environment for every measured child: connection settings for the pipelines' connection file and the
        reference scripts, passwords as the clients' own variables."""
        env = dict(os.environ)
        env.update(
            BENCH_MYSQL_HOST=self.mysql_host,
            BENCH_MYSQL_PORT=str(self.mysql_port),
            BENCH_MYSQL_USER=self.mysql_user,
            BENCH_MYSQL_DATABASE=self.mysql_db,
            BENCH_MYSQL_PASSWORD=self.mysql_password,
            MYSQL_PWD=self.mysql_password,
            BENCH_PG_HOST=self.pg_host,
            BENCH_PG_PORT=str(self.pg_port),
            BENCH_PG_USER=self.pg_user,
            BENCH_PG_DATABASE=self.pg_db,
            BENCH_PG_SCHEMA=self.pg_schema,
            BENCH_PG_PASSWORD=self.pg_password,
            PGPASSWORD=self.pg_password,
            PGTZ="UTC",
            PYTHONHASHSEED="0",
        )
        return env

    def mysql_connect(self, database: str | None = None, **kw: object) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.mysql_host,
            port=self.mysql_port,
            user=self.mysql_user,
            password=self.mysql_password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
            **kw,
        )

    def pg_connect(self) -> psycopg.Connection:
        conn = psycopg.connect(
            host=self.pg_host,
            port=self.pg_port,
            user=self.pg_user,
            dbname=self.pg_db,
            password=self.pg_password or None,
            autocommit=True,
        )
        conn.execute("SET TimeZone = 'UTC'")
        return conn
