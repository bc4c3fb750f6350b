"""posthog.extractor against a PostHog query API stand-in (tests/components/posthog_server.py: the HogQL the driver
sends runs on DuckDB tables shaped like PostHog's; the request/answer shapes and where they come from are in its
docstring): seek pagination over many pages with ties on the timestamp, the time window with its lookback, event
filters with awkward names, deduplication, the state Osiris keeps, every data_type, and failures. One live test runs
against real PostHog when POSTHOG_API_KEY (and POSTHOG_PROJECT_ID, optionally POSTHOG_REGION) are set."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from posthog_server import PostHog, PostHogServer

from osiris.components.posthog_extractor.driver import Driver
from osiris.runtime.driver import StepContext, StepError

KEY = "phx_TestPersonalKey_0123456789abcdef"
PROJECT = "4242"
SINCE = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
N_EVENTS = 12_345
TYPES = ["$pageview", "signup", 'it\'s "quoted" \\ odd', "purchase"]
AWKWARD = ["cr\rlf\n", "tab\t", "back\\slash", "NULL", "\\N", "emoji 🦉", 'q"uote']


PERSONS = """CREATE TABLE persons AS SELECT 'person-' || lpad(i::VARCHAR, 5, '0') AS id,
  TIMESTAMP '2024-01-01' + to_seconds(i // 3) AS created_at,
  '{"email": "u' || i || '@x.io"}' AS properties, i % 2 = 0 AS is_identified
FROM range(2500) t(i)"""
DISTINCT_IDS = """CREATE TABLE person_distinct_ids AS
SELECT 'd' || i AS distinct_id, 'p' || (i % 700) AS person_id FROM range(2100) t(i)"""
SESSIONS = """CREATE TABLE sessions AS SELECT 's' || lpad(i::VARCHAR, 5, '0') AS session_id,
  TIMESTAMP '2024-03-01' + to_seconds(i // 2) AS "$start_timestamp",
  TIMESTAMP '2024-03-01 01:00' + to_seconds(i) AS "$end_timestamp", (i * 1.5)::DOUBLE AS "$session_duration",
  'https://x.io/' || i AS "$entry_current_url"
FROM range(1200) t(i)"""


@functools.cache
def event_rows() -> list[tuple[Any, ...]]:
    rows = []
    for i in range(N_EVENTS):
        ts = SINCE.replace(tzinfo=None) + dt.timedelta(seconds=i // 7, microseconds=(i % 2) * 250_000 * (i % 3 == 0))
        props = json.dumps({"$browser": "Chrome", "text": AWKWARD[i % len(AWKWARD)], "n": i})
        rows.append((str(uuid.UUID(int=(i * 7919) % 10**12 + 1)), TYPES[i % 4], ts, f"d{i % 97}", f"p{i % 31}", props))
    late = SINCE.replace(tzinfo=None)
    rows.append(("late-inside-lookback", "signup", late - dt.timedelta(minutes=10), "d1", "p1", "{}"))
    rows.append(("late-outside-lookback", "signup", late - dt.timedelta(minutes=20), "d1", "p1", "{}"))
    rows.append(("in-the-future", "signup", dt.datetime(2999, 1, 1), "d1", "p1", "{}"))
    rows.append(rows[100])  # PostHog can hold an event twice (same uuid)
    return rows


@pytest.fixture
def posthog() -> Iterator[tuple[PostHog, PostHogServer]]:
    con = duckdb.connect()
    cols = list(zip(*event_rows(), strict=True))
    names = ["uuid", "event", "timestamp", "distinct_id", "person_id", "properties"]
    arrow_events = pa.table({n: pa.array(c, pa.timestamp("us") if n == "timestamp" else pa.string())
                             for n, c in zip(names, cols, strict=True)})  # fmt: skip
    con.register("arrow_events", arrow_events)
    con.execute("CREATE TABLE events AS SELECT * FROM arrow_events")
    con.unregister("arrow_events")
    con.execute(PERSONS)
    con.execute(DISTINCT_IDS)
    con.execute(SESSIONS)
    ph = PostHog(con, KEY, PROJECT)
    server = PostHogServer(ph)
    yield ph, server
    server.close()
    con.close()


def run(config: dict[str, Any], server: PostHogServer, tmp_path: Path) -> tuple[pa.Table, list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    connection = {"api_key": KEY, "project_id": PROJECT, "region": "self_hosted", "custom_base_url": server.url}
    full = {"retry_delay": 0.1, "initial_since": "2024-03-01T00:00:00Z", **config}
    ctx = StepContext("ph", full, connection, tmp_path, tmp_path, event=lambda k, d: events.append((k, d)))
    reader = Driver({"id": "ph"}, ctx).run({})
    return pa.Table.from_batches(list(reader), reader.schema), events


def expected_events(types: list[str] | None = None, dedupe: bool = True) -> list[dict[str, Any]]:
    start = SINCE.replace(tzinfo=None) - dt.timedelta(minutes=15)
    rows = sorted((r for r in event_rows() if start <= r[2] < dt.datetime(2999, 1, 1)), key=lambda r: (r[2], r[0]))
    if types:
        rows = [r for r in rows if r[1] in types]
    if dedupe:
        rows = list({r[0]: r for r in rows}.values())
    cols = ["uuid", "event", "timestamp", "distinct_id", "person_id", "properties"]
    return [dict(zip(cols, (*r[:2], r[2].replace(tzinfo=dt.UTC), *r[3:]), strict=True)) for r in rows]


def test_events_every_row_once_over_many_pages_with_tied_timestamps(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    table, events = run({"data_type": "events", "page_size": 1000, "batch_size": 3000}, server, tmp_path)
    assert table.schema.types == [pa.string()] * 2 + [pa.timestamp("us", tz="UTC")] + [pa.string()] * 3
    assert table.to_pylist() == expected_events()
    assert len(ph.queries) == 13 and ph.queries[0].startswith("SELECT uuid, event, timestamp, distinct_id")
    assert "timestamp >= toDateTime64('2024-02-29 23:45:00.000000', 6, 'UTC')" in ph.queries[0]
    assert "(timestamp > toDateTime64(" in ph.queries[1] and "AND uuid > '" in ph.queries[1]
    assert ("posthog_complete", {"pages": 13, "rows": N_EVENTS + 1, "duplicates": 1}) in events
    assert "late-outside-lookback" not in table.column("uuid").to_pylist()
    state = json.loads((tmp_path / "artifacts" / "ph" / "state.json").read_text(encoding="utf-8"))
    last = expected_events()[-1]
    assert state["events_state"] == {
        "last_timestamp": last["timestamp"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "last_uuid": last["uuid"],
    }
    assert len(state["recent_uuids"]) == 10_000 and state["recent_uuids"][-1] == last["uuid"]


def test_event_types_with_quotes_and_backslashes_are_filtered_exactly(posthog: Any, tmp_path: Path) -> None:
    _, server = posthog
    wanted = [TYPES[1], TYPES[2]]
    table, _ = run({"data_type": "events", "event_types": wanted, "page_size": 1000}, server, tmp_path)
    assert table.to_pylist() == expected_events(wanted)


def test_without_deduplication_a_doubled_event_is_kept(posthog: Any, tmp_path: Path) -> None:
    _, server = posthog
    table, _ = run({"data_type": "events", "deduplication_enabled": False, "page_size": 5000}, server, tmp_path)
    assert table.num_rows == len(expected_events(dedupe=False)) == N_EVENTS + 2


def test_a_longer_lookback_reaches_further_back(posthog: Any, tmp_path: Path) -> None:
    _, server = posthog
    table, _ = run({"data_type": "events", "lookback_window_minutes": 30, "page_size": 10000}, server, tmp_path)
    assert {"late-inside-lookback", "late-outside-lookback"} <= set(table.column("uuid").to_pylist())


def test_persons_seek_on_created_at_and_id(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    table, _ = run({"data_type": "persons", "page_size": 1000}, server, tmp_path)
    assert table.column("id").to_pylist() == [f"person-{i:05d}" for i in range(2500)]
    assert table.schema.field("is_identified").type == pa.bool_() and len(ph.queries) == 3
    assert json.loads(table.column("properties")[7].as_py()) == {"email": "u7@x.io"}
    state = json.loads((tmp_path / "artifacts" / "ph" / "state.json").read_text(encoding="utf-8"))
    assert state["persons_state"] == {"last_created_at": "2024-01-01T00:13:53.000000Z", "last_id": "person-02499"}


def test_person_distinct_ids_page_by_offset(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    table, _ = run({"data_type": "person_distinct_ids", "page_size": 1000}, server, tmp_path)
    assert sorted(table.column("distinct_id").to_pylist()) == sorted(f"d{i}" for i in range(2100))
    assert ph.queries[2].endswith("LIMIT 1000 OFFSET 2000")


def test_sessions_columns_come_from_the_answer(posthog: Any, tmp_path: Path) -> None:
    _, server = posthog
    table, _ = run({"data_type": "sessions", "page_size": 500}, server, tmp_path)
    assert table.column_names == ["session_id", "$start_timestamp", "$end_timestamp", "$session_duration",
                                  "$entry_current_url"]  # fmt: skip
    assert table.column("session_id").to_pylist() == [f"s{i:05d}" for i in range(1200)]
    # typed from the ClickHouse types PostHog reports with the answer
    assert table.schema.types == [pa.string(), pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="UTC"),
                                  pa.float64(), pa.string()]  # fmt: skip
    assert table.column("$start_timestamp")[3].as_py() == dt.datetime(2024, 3, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert table.column("$session_duration")[3].as_py() == 4.5


def test_a_wrong_key_fails_without_showing_it(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    ph.api_key = "phx_other"
    with pytest.raises(StepError) as info:
        run({"data_type": "events"}, server, tmp_path)
    assert "authentication failed (HTTP 401: Incorrect authentication credentials.)" in str(info.value)
    assert KEY not in str(info.value)


def test_5xx_and_429_are_retried(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    ph.statuses = [503, 429]
    table, events = run({"data_type": "persons", "page_size": 10000}, server, tmp_path)
    assert table.num_rows == 2500
    assert [d["reason"] for k, d in events if k == "http_retry"] == ["HTTP 503: try later", "HTTP 429: try later"]


def test_a_hogql_error_names_the_servers_detail(posthog: Any, tmp_path: Path) -> None:
    ph, server = posthog
    ph.con.execute("DROP TABLE persons")
    with pytest.raises(StepError, match=r"HTTP 400: .*persons"):
        run({"data_type": "persons"}, server, tmp_path)


def test_custom_base_url_needs_self_hosted(posthog: Any, tmp_path: Path) -> None:
    _, server = posthog
    with pytest.raises(StepError, match="custom_base_url is only used with region self_hosted"):
        run({"data_type": "events", "region": "eu"}, server, tmp_path)


@pytest.mark.skipif(not os.environ.get("POSTHOG_API_KEY"), reason="live PostHog: set POSTHOG_API_KEY")
def test_live_posthog(tmp_path: Path) -> None:
    region = os.environ.get("POSTHOG_REGION", "us")
    connection = {"api_key": os.environ["POSTHOG_API_KEY"], "project_id": os.environ["POSTHOG_PROJECT_ID"]}
    config = {"data_type": "events", "region": region, "page_size": 100, "lookback_window_minutes": 5,
              "initial_since": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()}  # fmt: skip
    ctx = StepContext("ph", config, connection, tmp_path, tmp_path)
    reader = Driver({"id": "ph"}, ctx).run({})
    table = pa.Table.from_batches(list(reader), reader.schema)
    assert table.column_names == ["uuid", "event", "timestamp", "distinct_id", "person_id", "properties"]
    assert table.num_rows == len(set(table.column("uuid").to_pylist()))


PIPELINE = """\
oml_version: "0.1.0"
name: ph-events
steps:
  - id: events
    component: posthog.extractor
    mode: read
    config:
      connection: "@posthog.main"
      data_type: events
      initial_since: "2024-03-01T00:00:00Z"
      page_size: 1000
      retry_delay: 0.1
  - id: per-event
    component: duckdb.processor
    mode: transform
    needs: [events]
    config:
      query: |
        SELECT event, COUNT(*) AS n, COUNT(DISTINCT distinct_id) AS users,
               SUM(CAST(json_extract(properties, '$.n') AS BIGINT)) AS n_sum
        FROM df_events GROUP BY event
  - id: write
    component: postgres.writer
    mode: write
    needs: [per-event]
    config:
      connection: "@postgres.warehouse"
      schema: {schema}
      table: per_event
      write_mode: replace
      primary_key: [event]
      create_if_missing: true
"""
CONNECTIONS = """\
connections:
  posthog:
    main:
      api_key: ${{PH_KEY}}
      project_id: "{project}"
      region: self_hosted
      custom_base_url: {url}
  postgres:
    warehouse: {{host: 127.0.0.1, port: 5432, database: test, user: postgres, password: ""}}
"""


def write_project(folder: Path, url: str, schema: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.yaml").write_text(PIPELINE.replace("{schema}", schema), encoding="utf-8")
    (folder / "osiris_connections.yaml").write_text(CONNECTIONS.format(url=url, project=PROJECT), encoding="utf-8")
    return folder / "pipeline.yaml"


def per_event(schema: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test") as conn:
        return conn.execute(f'SELECT event, n, users, n_sum FROM "{schema}".per_event ORDER BY event').fetchall()


def expected_per_event() -> list[tuple[Any, ...]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in expected_events():
        groups.setdefault(row["event"], []).append(row)
    return [
        (
            event,
            len(rows),
            len({r["distinct_id"] for r in rows}),
            sum(json.loads(r["properties"]).get("n", 0) for r in rows),
        )
        for event, rows in sorted(groups.items())
    ]


@pytest.mark.db
def test_pipeline_to_postgres_keeps_the_key_out(
    posthog: Any, tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from osiris.cli import main

    _, server = posthog
    monkeypatch.setenv("PH_KEY", KEY)
    pipeline = write_project(tmp_path / "p", server.url, pg_schema)
    runs = tmp_path / "runs"
    assert main(["run", str(pipeline), "--runs-dir", str(runs)]) == 0
    assert per_event(pg_schema) == expected_per_event()
    out = capsys.readouterr()
    files = [p for p in runs.rglob("*") if p.is_file()]
    assert any(p.name == "state.json" for p in files)
    assert not [p for p in files if KEY.encode() in p.read_bytes()] and KEY not in out.out + out.err


@pytest.mark.db
@pytest.mark.slow
def test_sandbox_run_with_the_bundles_pinned_requirements(
    posthog: Any,
    tmp_path: Path,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox_venv: Callable[[str], Path],
) -> None:
    from osiris.backends.e2b.bundle import build_bundle
    from osiris.backends.e2b.launch import LaunchOptions, launch
    from osiris.backends.e2b.tarball import read_tar_gz
    from osiris.backends.e2b.trust import fingerprint
    from osiris.compile import compile_file

    _, server = posthog
    monkeypatch.setenv("PH_KEY", KEY)
    pipeline = write_project(tmp_path / "p", server.url, pg_schema)
    compiled = compile_file(str(pipeline))
    assert not compiled.failed, [d.message for d in compiled.diagnostics]
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(build_bundle(compiled))
    requirements = read_tar_gz(bundle.read_bytes())["requirements.txt"].decode()
    assert "httpx==0.28.1" in requirements.split() and "jsonpath-ng" not in requirements
    venv = sandbox_venv(requirements)
    runs = tmp_path / "runs"
    options = LaunchOptions(
        target="sandbox", expect=fingerprint(bundle.read_bytes()), base_dir=pipeline.parent, runs_dir=runs,
        venv=venv,
    )  # fmt: skip
    assert launch(bundle, options)[0] == 0
    assert per_event(pg_schema) == expected_per_event()
    out = capsys.readouterr()
    assert not [p for p in runs.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert KEY not in out.out + out.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('      connection: "@posthog.main"\n', f"      api_key: {KEY}\n      project_id: '1'\n"),
            "inline secret in 'api_key'",
        ),
        (('"2024-03-01T00:00:00Z"', '"last tuesday"'), "'initial_since' does not have the expected form"),
        (("      data_type: events\n", "      data_type: persons\n      event_types: [signup]\n"), "event_types"),
        (
            ("      data_type: events\n", "      data_type: events\n      region: self_hosted\n"),
            "needs `custom_base_url`",
        ),
    ],
)
def test_check_refuses(
    tmp_path: Path, change: tuple[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from osiris.cli import main

    pipeline = write_project(tmp_path / "p", "http://127.0.0.1:9", "public")
    text = pipeline.read_text(encoding="utf-8")
    assert change[0] in text
    if "region: self_hosted" in change[1]:  # the connection gives custom_base_url: drop it
        conns = pipeline.parent / "osiris_connections.yaml"
        conns.write_text(conns.read_text(encoding="utf-8").replace("      custom_base_url: http://127.0.0.1:9\n", ""))
    pipeline.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    assert main(["check", str(pipeline)]) == 2
    out = capsys.readouterr()
    assert message in out.out + out.err and KEY not in out.out + out.err


SLOW_PIPELINE = """\
oml_version: "0.1.0"
name: ph-slow
steps:
  - id: slow-persons
    component: posthog.extractor
    mode: read
    config:
      connection: "@posthog.main"
      data_type: persons
      page_size: 10000
      max_retries: 0
      timeout: {timeout}
  - id: save
    component: filesystem.csv_writer
    mode: write
    config:
      path: persons.csv
"""


def test_timeout_fails_the_run_naming_the_step_without_waiting_for_the_server(
    posthog: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that answers after 12 s: with timeout 5 (the smallest the spec allows; the default is 60) the run
    fails after about 5 s, not 12, says which step and why, and writes no output; the same server answering within
    the timeout is read and written."""
    import time

    from osiris.cli import main

    ph, server = posthog
    ph.delay = 12.0
    monkeypatch.setenv("PH_KEY", KEY)
    (tmp_path / "osiris_connections.yaml").write_text(
        CONNECTIONS.format(url=server.url, project=PROJECT).split("  postgres:")[0], encoding="utf-8"
    )
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(SLOW_PIPELINE.format(timeout=5), encoding="utf-8")
    started = time.monotonic()
    assert main(["run", str(pipeline), "--runs-dir", str(tmp_path / "runs")]) == 1
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert "slow-persons" in err and "no answer within 5 s (timeout)" in err, err
    assert 4.5 < elapsed < 10.0, f"the run took {elapsed:.1f} s with a 5 s timeout and a server answering after 12 s"
    assert not (tmp_path / "persons.csv").exists()
    ph.delay = 0.5
    assert main(["run", str(pipeline), "--runs-dir", str(tmp_path / "runs")]) == 0
    assert len((tmp_path / "persons.csv").read_text(encoding="utf-8").splitlines()) == 2500 + 1
