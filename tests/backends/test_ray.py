"""``--target ray`` (osiris/backends/ray) on a local Ray cluster the tests start once (session fixture: Ray is slow to
start). Its workers share this virtualenv and inherit this process's environment at ``ray.init`` - which is how the
test secret reaches them: never as a task argument or a runtime_env (docs/distributed.md).

Parity with the local backend (quickstart; MariaDB -> DuckDB -> PostgreSQL with a partitioned read), partitioned
reads with NULLs, a worker killed mid-run, no secret in Ray's logs or in any remote call's arguments.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
import ray
from conftest import MY, PG
from e2b_support import EXAMPLES, events, record_files, step_events

from osiris.backends.local.plan import build_plan
from osiris.backends.ray import partition
from osiris.backends.ray import scheduler as ray_scheduler
from osiris.backends.ray.launch import cluster_runtime_env
from osiris.cli import main
from osiris.compile import compile_file
from osiris.runtime.cancel import CancelToken
from osiris.runtime.engine import RunOptions, run_plan

SECRET_VAR = "OSIRIS_RAY_TEST_PASSWORD"
OUTPUTS = shutil.ignore_patterns("output", "out", "runs", "build")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(Ray's temp dir, the secret its workers see as $OSIRIS_RAY_TEST_PASSWORD).

    Module-scoped: Ray starts once for this file and its processes are gone before the rest of the suite runs.
    """
    secret = f"ray-secret-{uuid.uuid4().hex}"
    os.environ[SECRET_VAR] = secret  # before ray.init: a local cluster's workers inherit the environment
    temp = Path(tmp_path_factory.mktemp("ray"))
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False)
    try:
        yield temp, secret
    finally:
        ray.shutdown()
        os.environ.pop(SECRET_VAR, None)


@pytest.fixture
def remote_args(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every argument of every remote call the backend makes (actor creation and method calls)."""
    seen: list[Any] = []
    real = ray_scheduler.call

    def recording(method: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return real(method, *args, **kwargs)

    monkeypatch.setattr(ray_scheduler, "call", recording)
    return seen


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.glob("*/*") if p.is_dir()]
    return run


# -- pure parts ---------------------------------------------------------------------------------------------------
def test_ranges_cover_every_value_exactly_once() -> None:
    for lo, hi, count in [(1, 10, 3), (-5, 5, 4), (7, 7, 4), (0, 1, 8), (1, 1_000_000, 7)]:
        parts = partition.ranges(lo, hi, count)
        assert 1 <= len(parts) <= count
        assert parts[0][0] == lo and parts[-1][1:] == (hi, True)
        assert all(not inclusive for _, _, inclusive in parts[:-1])
        assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    covered = [v for s, e, inc in partition.ranges(-3, 9, 4) for v in range(s, e + 1 if inc else e)]
    assert covered == list(range(-3, 10))
    sql = partition.range_query("mysql", "SELECT * FROM `t`", "k", (1, 5, False), nulls=True)
    assert sql == "SELECT * FROM (SELECT * FROM `t`) AS osiris_partition WHERE (`k` >= 1 AND `k` < 5) OR `k` IS NULL"
    with pytest.raises(partition.PartitionError, match="not an integer column"):
        partition.check_bounds("name", "a", "z")


def test_emit_for_ray_writes_the_build_and_the_workers_runtime_env(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=OUTPUTS)
    for out in ("a", "b"):
        assert main(["emit", str(tmp_path / "p" / "pipeline.yaml"), "--target", "ray", "-o", str(tmp_path / out)]) == 0
    doc = json.loads((tmp_path / "a" / "ray-runtime-env.json").read_text())
    pinned = [line for line in (tmp_path / "a" / "requirements.txt").read_text().splitlines() if "==" in line]
    assert pinned and doc["runtime_env"]["pip"] == sorted(pinned) and doc["partitions"] == {}
    assert (tmp_path / "a" / "plan.json").read_bytes() == (tmp_path / "b" / "plan.json").read_bytes()
    assert main(["run", str(tmp_path / "p" / "pipeline.yaml"), "--address", "x:1"]) == 2  # --address needs ray
    assert main(["run", "--bundle", str(tmp_path / "x.tar.gz"), "--target", "ray"]) == 2  # bundles are for sandboxes
    env = cluster_runtime_env(pinned)  # what workers of a real cluster (--address) install and import
    assert env["pip"] == sorted(pinned) and Path(env["py_modules"][0], "backends", "ray", "worker.py").is_file()


@pytest.mark.db
def test_partition_sql_on_both_servers(mysql_db: str, pg_schema: str) -> None:
    """The primary key lookup, the bounds and the range queries, run as the workers run them (one SELECT each)."""
    rows = [(i, None if i % 5 == 0 else i * 3 - 40) for i in range(1, 101)]
    my = pymysql.connect(**{**MY, "database": mysql_db}, autocommit=True)
    with contextlib.closing(my), my.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, k INT NULL)")
        cur.execute("CREATE TABLE u (a INT, b INT, PRIMARY KEY (a, b))")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", rows)

        def mysql_rows(sql: str) -> list[dict[str, Any]]:
            cur.execute(sql)
            return list(cur.fetchall())

        _check_partition_sql("mysql", mysql_rows, {"table": "t"}, {"table": "u"}, rows)
    with psycopg.connect(**PG, autocommit=True, row_factory=psycopg.rows.dict_row) as pg:
        pg.execute(f'CREATE TABLE "{pg_schema}".t (id BIGINT PRIMARY KEY, k INT NULL)')
        pg.execute(f'CREATE TABLE "{pg_schema}".u (a INT, b INT, PRIMARY KEY (a, b))')
        with pg.cursor() as cur:
            cur.executemany(f'INSERT INTO "{pg_schema}".t VALUES (%s, %s)', rows)

        def pg_rows(sql: str) -> list[dict[str, Any]]:
            return list(pg.execute(sql).fetchall())

        config = {"table": "t", "schema": pg_schema}
        _check_partition_sql("postgres", pg_rows, config, {"table": "u", "schema": pg_schema}, rows)


def _check_partition_sql(
    dialect: str, query: Any, config: dict[str, Any], composite: dict[str, Any], rows: list[tuple[int, int | None]]
) -> None:
    assert partition.pick_primary_key(query(partition.primary_key_query(dialect, config)), "t") == "id"
    with pytest.raises(partition.PartitionError, match="no single-column integer primary key"):
        partition.pick_primary_key(query(partition.primary_key_query(dialect, composite)), "u")
    _, sql = partition.source_sql({"component": f"{dialect}.extractor", "dialect": dialect, "config": config})
    (bounds,) = query(partition.bounds_query(dialect, sql, "k"))
    assert (bounds["lo"], bounds["hi"], int(bounds["nulls"])) == (-37, 257, 20)
    seen: list[tuple[int, int | None]] = []
    parts = partition.ranges(bounds["lo"], bounds["hi"], 3)
    for i, part in enumerate(parts):
        seen += [(r["id"], r["k"]) for r in query(partition.range_query(dialect, sql, "k", part, nulls=i == 0))]
    assert sorted(seen) == rows and len(parts) == 3  # every row exactly once, the NULLs included


# -- on the cluster -----------------------------------------------------------------------------------------------
def test_quickstart_parity_with_the_local_backend(
    ray_cluster: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {}
    for target in ("local", "ray"):
        folder = tmp_path / target
        shutil.copytree(EXAMPLES / "quickstart", folder, ignore=OUTPUTS)
        runs[target] = tmp_path / f"runs-{target}"
        if target == "local":
            code = main(["run", str(folder / "pipeline.yaml"), "--runs-dir", str(runs[target])])
        else:  # what `osirisc emit --target ray` wrote, run with --plan (the movies test runs FILE)
            assert main(["emit", str(folder / "pipeline.yaml"), "--target", "ray", "-o", str(tmp_path / "b")]) == 0
            plan = ["--plan", str(tmp_path / "b" / "plan.json"), "--base-dir", str(folder)]
            code = main(["run", *plan, "--target", "ray", "--runs-dir", str(runs[target])])
        assert code == 0, capsys.readouterr().err
    out = {t: tmp_path / t / "output" for t in ("local", "ray")}
    assert (out["ray"] / "revenue_by_region.csv").read_bytes() == (out["local"] / "revenue_by_region.csv").read_bytes()
    tables = []
    for t in ("local", "ray"):
        with duckdb.connect(str(out[t] / "quickstart.duckdb"), read_only=True) as con:
            tables.append(con.execute("SELECT * FROM revenue_by_region ORDER BY region").fetchall())
    assert tables[0] == tables[1] and len(tables[0]) == 4
    local, remote = only_run(runs["local"]), only_run(runs["ray"])
    assert step_events(events(local)) == step_events(events(remote))
    assert record_files(local) == record_files(remote)
    status = json.loads((remote / "status.json").read_text())
    assert status["ok"] and status["state"] == "finished" and status["steps"]["read-sales"]["rows_out"] == 8


def _seed_movies(mysql_db: str) -> None:
    text = (EXAMPLES / "movies" / "seed.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    conn = pymysql.connect(**{**MY, "database": mysql_db}, autocommit=True)
    with contextlib.closing(conn), conn.cursor() as cur:
        for statement in (s.strip() for s in body.split(";")):
            if statement:
                cur.execute(statement)


def _connections(folder: Path, mysql_db: str) -> None:
    """Literal routes (the workers' environment was fixed at ray.init); PostgreSQL's password is the test secret."""
    (folder / "osiris_connections.yaml").write_text(
        "connections:\n"
        "  mysql:\n    movies:\n      default: true\n      host: 127.0.0.1\n      port: 3306\n"
        f"      database: {mysql_db}\n      user: root\n      password: ''\n"
        "  postgres:\n    warehouse:\n      default: true\n      host: 127.0.0.1\n      port: 5432\n"
        f"      database: test\n      user: postgres\n      password: ${{{SECRET_VAR}}}\n"
    )


@pytest.mark.db
def test_movies_parity_partitioned_read_and_no_secret_in_ray(
    ray_cluster: tuple[Path, str],
    tmp_path: Path,
    *,
    mysql_db: str,
    pg_schema: str,
    remote_args: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ray_temp, secret = ray_cluster
    _seed_movies(mysql_db)
    folder = tmp_path / "movies"
    shutil.copytree(EXAMPLES / "movies", folder, ignore=OUTPUTS)
    _connections(folder, mysql_db)
    pipeline = folder / "pipeline.yaml"
    text = pipeline.read_text().replace("schema: public", f"schema: {pg_schema}")
    text = text.replace(  # the movies read in 2 ranges of movie_id on Ray (the local run reads it in one query)
        "      query: SELECT movie_id,", "      partition: {column: movie_id, count: 2}\n      query: SELECT movie_id,"
    )
    text = text.replace(  # the directors in 2 ranges of the table's primary key (director_id), found at run time
        "      table: directors\n", "      table: directors\n      partition: {count: 2}\n"
    )
    pipeline.write_text(text)

    def target() -> list[tuple[object, ...]]:
        with psycopg.connect(**PG) as pg:
            return pg.execute(f'SELECT * FROM "{pg_schema}".director_stats ORDER BY director_id').fetchall()

    assert main(["run", str(pipeline), "--runs-dir", str(tmp_path / "runs-local")]) == 0
    local_rows = target()
    assert [r[:3] for r in local_rows] == [(1, "Ridley Scott", 2), (2, "James Cameron", 2), (3, "Michael Mann", 1)]
    with psycopg.connect(**PG, autocommit=True) as pg:
        pg.execute(f'DROP TABLE "{pg_schema}".director_stats')
    printed = [capsys.readouterr()]
    assert "OSR-W165" in printed[0].err  # the local run reads in one query, and says so
    code = main(["run", str(pipeline), "--target", "ray", "--runs-dir", str(tmp_path / "runs-ray")])
    printed.append(capsys.readouterr())
    assert code == 0, printed[-1].err
    assert "OSR-W165" not in printed[-1].err
    assert target() == local_rows
    run_local, run_ray = only_run(tmp_path / "runs-local"), only_run(tmp_path / "runs-ray")
    assert step_events(events(run_local)) == step_events(events(run_ray))
    assert step_events(events(run_ray))["extract-movies"][-1][:3] == ("step_complete", 0, 5)
    assert record_files(run_local) == record_files(run_ray)
    infos = [e["message"] for e in events(run_ray) if e["event"] == "info" and e.get("step") == "extract-movies"]
    assert any("read in 2 partitions of 'movie_id' over 1..5" in m for m in infos), infos
    infos = [e["message"] for e in events(run_ray) if e["event"] == "info" and e.get("step") == "extract-directors"]
    assert any("read in 2 partitions of 'director_id' (the table's primary key) over 1..3" in m for m in infos), infos
    # no secret anywhere: remote call arguments, Ray's session logs, run records, output
    sent = [s for args in remote_args for s in strings(args)]
    assert any("extract-movies" in s for s in sent) and len(remote_args) > 8  # the check sees the real calls
    assert not any(secret in s for s in sent)
    needle = secret.encode()
    logs = [p for p in ray_temp.rglob("*") if p.is_file()]
    assert any(p.suffix in (".log", ".out", ".err") for p in logs)
    for path in [*logs, *(tmp_path / "runs-ray").rglob("*"), *(tmp_path / "runs-local").rglob("*")]:
        with contextlib.suppress(OSError):
            assert not path.is_file() or needle not in path.read_bytes(), path
    printed.append(capsys.readouterr())
    assert all(secret not in out.out and secret not in out.err for out in printed)


ITEMS_PIPELINE = """\
oml_version: "0.1.0"
name: items
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.movies"
{source}
      batch_size: 50
  - id: load
    component: postgres.writer
    mode: write
    needs: [extract]
    config:
      connection: "@postgres.warehouse"
      schema: {schema}
      table: items
      write_mode: replace
      primary_key: id
      create_if_missing: true
"""


def _plan(path: Path) -> dict[str, Any]:
    result = compile_file(str(path), env=dict(os.environ))
    assert not result.failed and result.pipeline is not None and result.ctx is not None, result.diagnostics
    return json.loads(json.dumps(build_plan(result.pipeline, result.ctx)))


@pytest.mark.db
def test_partitioned_read_with_nulls_then_a_killed_worker_leaves_the_target_unchanged(
    ray_cluster: tuple[Path, str], tmp_path: Path, *, mysql_db: str, pg_schema: str
) -> None:
    rows = [(i, None if i % 7 == 0 else (i * 37) % 1000 - 200, f"v{i}") for i in range(1, 3001)]
    conn = pymysql.connect(**{**MY, "database": mysql_db}, autocommit=True)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, k INT NULL, v VARCHAR(20) NOT NULL)")
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", rows)
    _connections(tmp_path, mysql_db)
    path = tmp_path / "items.yaml"
    source = "      table: items\n      partition: {column: k, count: 3}"
    path.write_text(ITEMS_PIPELINE.format(source=source, schema=pg_schema))

    def target() -> list[tuple[object, ...]]:
        with psycopg.connect(**PG) as pg:
            return pg.execute(f'SELECT id, k, v FROM "{pg_schema}".items ORDER BY id').fetchall()

    def tables() -> list[str]:
        with psycopg.connect(**PG) as pg:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1"
            return [r[0] for r in pg.execute(sql, (pg_schema,)).fetchall()]

    factory = functools.partial(ray_scheduler.RayScheduler, connections=tmp_path / "osiris_connections.yaml")
    result = run_plan(_plan(path), RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", scheduler=factory))
    assert result.ok, result.status
    assert target() == rows  # every row once: 3 ranges of k, the NULLs in the first
    info = [e for e in events(result.run_dir) if e["event"] == "info" and "partitions" in e.get("message", "")]
    assert "read in 3 partitions of 'k' over -200..799 (428 NULL row(s) in partition 1)" in info[0]["message"]
    before, names = target(), tables()
    path.write_text(
        ITEMS_PIPELINE.format(source="      table: items\n      partition: {column: v, count: 2}", schema=pg_schema)
    )
    result = run_plan(_plan(path), RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", scheduler=factory))
    assert result.status["failed_steps"] == ["extract"] and result.status["steps"]["load"]["status"] == "skipped"
    assert "partition column 'v' is not an integer column (its MIN/MAX is str)" in result.status["error"]
    assert target() == before

    # a slow source (MariaDB sleeps 0.5 ms a row, 1.5 s): once its query runs, a worker is killed - the source's,
    # then (another run) the writer's, which by then has its transaction open and waits for rows
    source = "      query: SELECT id, k, CONCAT(v, '-x') AS v FROM items WHERE SLEEP(0.0005) = 0"
    path.write_text(ITEMS_PIPELINE.format(source=source, schema=pg_schema))
    for victim, other in (("extract", "load"), ("load", "extract")):
        result, killed = _run_killing(victim, path, tmp_path)
        assert killed and not result.ok, victim
        assert result.status["failed_steps"] == [victim]
        component = "mysql.extractor" if victim == "extract" else "postgres.writer"
        assert f"step '{victim}' ({component}" in result.status["error"]
        assert "the Ray worker running this step died" in result.status["error"]
        assert result.status["steps"][other]["status"] == ("skipped" if victim == "extract" else "ok")
        if victim == "extract":
            assert result.status["steps"]["load"]["error"] == "stopped because upstream step 'extract' failed"
        assert target() == before and tables() == names  # rolled back: no row changed, no staging table left
    # cancelled (Ctrl-C / SIGTERM ask the same token) while the source's query runs: both steps stop, nothing changes
    result, _ = _run_killing("cancel", path, tmp_path)
    assert result.status["state"] == "cancelled" and result.cancel is not None
    assert {sid: st["status"] for sid, st in result.status["steps"].items()} == {
        "extract": "cancelled",
        "load": "cancelled",
    }
    assert target() == before and tables() == names


def _run_killing(victim: str, path: Path, folder: Path) -> tuple[Any, list[int]]:
    """Run ``path`` on Ray and SIGKILL the worker process of step ``victim`` once the source's query runs (or, for
    ``victim == "cancel"``, cancel the run then)."""
    schedulers: list[ray_scheduler.RayScheduler] = []
    killed: list[int] = []
    cancel = CancelToken()

    def factory(*args: Any, **kwargs: Any) -> ray_scheduler.RayScheduler:
        connections = folder / "osiris_connections.yaml"
        schedulers.append(ray_scheduler.RayScheduler(*args, connections=connections, **kwargs))
        return schedulers[-1]

    def kill(record: dict[str, Any]) -> None:
        if record["event"] == "info" and "read path" in record.get("message", "") and not killed:
            if victim == "cancel":
                cancel.request("test")
                killed.append(0)
                return
            pid = ray.get(schedulers[0].units[victim][0].ping.remote())  # waits for a worker still starting
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    options = RunOptions(base_dir=folder, runs_dir=folder / "runs", scheduler=factory, listeners=[kill], cancel=cancel)
    return run_plan(_plan(path), options), killed
