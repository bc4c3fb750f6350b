"""supabase.writer's connection fields are honoured: ``retries`` (extra connection attempts) and ``timeout``
(libpq's connect_timeout), against a real socket that accepts and drops every connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from osiris import dialects
from osiris.components.supabase_writer.driver import Driver
from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError

SCHEMA = pa.schema([("id", pa.int64())])


@pytest.fixture
def dropping_server() -> Iterator[tuple[int, list[int]]]:
    """A port whose server closes each connection at once, and the count of connections it took."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], accepted
    srv.close()


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_is_the_number_of_extra_connection_attempts(
    dropping_server: tuple[int, list[int]], tmp_path: Path, retries: int
) -> None:
    port, accepted = dropping_server
    columns = dialects.columns_from_arrow(SCHEMA)
    plan = dialects.plan_write("postgres", {"schema": "public", "table": "t"}, "append", columns)
    config = {"host": "127.0.0.1", "port": port, "database": "x", "user": "u", "sslmode": "disable",
              "retries": retries, "timeout": 5}  # fmt: skip
    with pytest.raises(StepError, match="connect to"):
        Driver({"id": "w", "write": plan}, StepContext("w", config, None, tmp_path, tmp_path)).run(
            {"in": pa.RecordBatchReader.from_batches(SCHEMA, [])}
        )
    assert len(accepted) == retries + 1


def test_timeout_is_the_connect_timeout() -> None:
    route = {"host": "h", "database": "d", "user": "u"}  # without them the connection is refused (no PG* fallback)
    assert postgres.params({**route, "timeout": 7}, {"connect_timeout": 10})["connect_timeout"] == "7"  # libpq text
    assert postgres.params(route, None)["connect_timeout"] == "10"
