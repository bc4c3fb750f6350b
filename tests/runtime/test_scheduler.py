"""The scheduler on hand-written plans: streaming, tee, concurrency, failure handling and run records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from rt_helpers import plan, step

from osiris.runtime.engine import RunOptions, RunResult, run_plan

NUMBERS, SINK, BOOM = "rt_drivers:Numbers", "rt_drivers:Sink", "rt_drivers:Boom"


def _run(tmp_path: Path, p: dict[str, Any], **kw: Any) -> RunResult:
    return run_plan(p, RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", env={}, **kw))


def _events(result: RunResult) -> list[dict[str, Any]]:
    lines = (result.run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_tee_feeds_two_consumers_and_counts_rows(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 40, "rows": 500}, driver=NUMBERS),
        step("fast", "test.writer", {}, ["src"], driver=SINK),
        step("slow", "test.writer", {"delay": 0.3}, ["src"], driver=SINK),
    )
    result = _run(tmp_path, p, memory_budget=16_000)  # forces spilling for the slow consumer
    assert result.ok
    n = 40 * 500
    sinks = [e for e in _events(result) if e["event"] == "sink"]
    assert sorted(e["step"] for e in sinks) == ["fast", "slow"]
    assert all(e["rows"] == n and e["sum"] == n * (n - 1) // 2 for e in sinks)
    steps = result.status["steps"]
    assert steps["src"]["rows_out"] == n and steps["fast"]["rows_in"] == n and steps["slow"]["rows_in"] == n
    assert steps["slow"]["rows_written"] == n
    assert result.status["memory_peak_bytes"] <= 16_000
    assert not (result.run_dir / "tmp").exists()  # spill files are gone with the run's temp folder


def test_event_stream_shape(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 2}, driver=NUMBERS),
        step("out", "test.writer", {}, ["src"], driver=SINK),
    )
    result = _run(tmp_path, p)
    events = _events(result)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_complete"
    for e in events:
        if e["event"].startswith("step_"):
            assert {"step", "rows_in", "rows_out", "bytes_in", "bytes_out", "duration_ms"} <= set(e)
    done = {e["step"]: e for e in events if e["event"] == "step_complete"}
    assert done["src"]["rows_out"] == 2000 and done["out"]["rows_in"] == 2000
    status = json.loads((result.run_dir / "status.json").read_text())
    assert status["ok"] is True and status["steps"]["out"]["status"] == "ok"
    metrics = [json.loads(x) for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"metric": "rows_out", "value": 2000, "step": "src"}.items() <= next(
        m for m in metrics if m["metric"] == "rows_out" and m["step"] == "src"
    ).items()
    assert result.run_dir.parent.name == "test-pipeline"
    assert json.loads((result.run_dir / "steps" / "src" / "config.json").read_text()) == {"batches": 2}


def _overlap(result: RunResult, a: str, b: str) -> bool:
    ev = {(e["event"], e["step"]): e["ts"] for e in _events(result)}
    return ev[("step_start", b)] < ev[("step_complete", a)] and ev[("step_start", a)] < ev[("step_complete", b)]


def test_independent_branches_run_concurrently_up_to_jobs(tmp_path: Path) -> None:
    def p() -> dict[str, Any]:
        return plan(
            step("a", "test.extractor", {"batches": 5, "sleep": 0.04}, driver=NUMBERS),
            step("b", "test.extractor", {"batches": 5, "sleep": 0.04}, driver=NUMBERS),
            step("wa", "test.writer", {}, ["a"], driver=SINK),
            step("wb", "test.writer", {}, ["b"], driver=SINK),
        )

    parallel = _run(tmp_path, p(), jobs=4)
    assert parallel.ok and _overlap(parallel, "a", "b")
    serial = _run(tmp_path, p(), jobs=1)  # one slot: producers finish (spilling) before their consumer starts
    assert serial.ok and not _overlap(serial, "a", "b")
    assert all(s["rows_in"] == 5000 for k, s in serial.status["steps"].items() if k.startswith("w"))


def test_failed_step_skips_dependents_and_keeps_independent_branch(tmp_path: Path) -> None:
    p = plan(
        step("bad", "test.extractor", {"batches": 5, "fail_at": 2}, driver=NUMBERS),
        step("t", "test.processor", {"after": 100}, ["bad"], driver=BOOM),
        step("w", "test.writer", {}, ["t"], driver=SINK),
        step("good", "test.extractor", {"batches": 3}, driver=NUMBERS),
        step("wg", "test.writer", {}, ["good"], driver=SINK),
        step("later", "test.writer", {}, ["w"], driver=SINK),
    )
    p["steps"][-1]["inputs"] = []  # needs 'w' without reading it: waits for it to finish
    result = _run(tmp_path, p)
    assert not result.ok
    st = {k: v["status"] for k, v in result.status["steps"].items()}
    assert st == {"bad": "failed", "t": "skipped", "w": "skipped", "good": "ok", "wg": "ok", "later": "skipped"}
    assert result.status["failed_steps"] == ["bad"]
    assert "step 'bad' (test.extractor) failed: source broke at batch 2" in result.status["error"]
    kinds = {
        e["step"]: e["event"] for e in _events(result) if e["event"].startswith("step_") and e["event"] != "step_start"
    }
    assert kinds["bad"] == "step_error" and kinds["later"] == "step_skipped"


CSV_IN = "id,name\n1,a\n2,b\n3,c\n"


def _pipeline(fail: bool) -> dict[str, Any]:
    query = "SELECT id, name, 1 / (id - 2) AS x FROM input_df" if fail else "SELECT id, name FROM input_df"
    return plan(
        step("ex", "filesystem.csv_extractor", {"path": "in.csv"}),
        step("tx", "duckdb.processor", {"query": query}, ["ex"]),
        step(
            "db",
            "duckdb.writer",
            {"path": "out.duckdb", "table": "t", "write_mode": "replace", "primary_key": "id"},
            ["tx"],
        ),
        step("csv", "filesystem.csv_writer", {"path": "out/t.csv"}, ["tx"]),
    )


def test_failing_transform_leaves_targets_as_they_were_and_rerun_succeeds(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(CSV_IN)
    first = _run(tmp_path, _pipeline(fail=False))
    assert first.ok, first.status
    before_csv = (tmp_path / "out" / "t.csv").read_bytes()
    (tmp_path / "in.csv").write_text(CSV_IN + "4,d\n")
    # integer division by zero is an error in DuckDB (1 / 0 is NULL for doubles, so force an int error)
    failing = _pipeline(fail=True)
    failing["steps"][1]["config"]["query"] = "SELECT id, name, CAST(name AS INTEGER) AS x FROM input_df"
    second = _run(tmp_path, failing)
    assert not second.ok
    assert second.status["steps"]["tx"]["status"] == "failed"
    assert {second.status["steps"][s]["status"] for s in ("db", "csv")} == {"skipped"}
    assert "step 'tx' (duckdb.processor" in second.status["error"] and "Conversion" in second.status["error"]
    assert (tmp_path / "out" / "t.csv").read_bytes() == before_csv
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t.csv"]  # no temp file left behind
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        assert con.sql("SELECT id, name FROM t ORDER BY id").fetchall() == [(1, "a"), (2, "b"), (3, "c")]
    third = _run(tmp_path, _pipeline(fail=False))
    assert third.ok
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (4,)
    assert (tmp_path / "out" / "t.csv").read_text().splitlines()[-1] == '4,"d"'
    assert (third.run_dir / "ddl" / "db.sql").read_text().startswith("CREATE TABLE IF NOT EXISTS")


def test_writer_failure_mid_stream_rolls_back_duckdb(tmp_path: Path) -> None:
    ok = plan(
        step("src", "test.extractor", {"batches": 3, "rows": 10}, driver=NUMBERS),
        step("db", "duckdb.writer", {"path": "o.duckdb", "table": "nums"}, ["src"]),
    )
    assert _run(tmp_path, ok).ok
    broken = plan(
        step("src", "test.extractor", {"batches": 3, "rows": 10, "fail_at": 2}, driver=NUMBERS),
        step("db", "duckdb.writer", {"path": "o.duckdb", "table": "nums"}, ["src"]),
    )
    result = _run(tmp_path, broken)
    assert result.status["steps"]["db"]["status"] == "skipped"
    with duckdb.connect(str(tmp_path / "o.duckdb")) as con:
        assert con.execute("SELECT count(*), sum(n) FROM nums").fetchone() == (30, 435)


def test_processor_sees_aliases_and_self_join(tmp_path: Path) -> None:
    p = plan(
        step("a", "test.extractor", {"batches": 3, "rows": 4}, driver=NUMBERS),
        step("b", "test.extractor", {"batches": 1, "rows": 3}, driver=NUMBERS),
        step(
            "j",
            "duckdb.processor",
            {"query": "SELECT x.n AS n FROM df_a x JOIN df_a y ON x.n = y.n JOIN df_b z ON z.n = x.n ORDER BY n"},
            ["a", "b"],
        ),
        step("one", "duckdb.processor", {"query": "SELECT count(*) AS n FROM input_df"}, ["a"]),
        step("w", "duckdb.writer", {"path": "o.duckdb", "table": "j"}, ["j"]),
        step("w1", "duckdb.writer", {"path": "o.duckdb", "table": "one"}, ["one"]),
    )
    result = _run(tmp_path, p)
    assert result.ok, result.status["error"]
    with duckdb.connect(str(tmp_path / "o.duckdb")) as con:
        assert con.sql("SELECT n FROM j").fetchall() == [(0,), (1,), (2,)]
        assert con.sql("SELECT n FROM one").fetchall() == [(12,)]


def test_step_ids_never_escape_the_run_directory(tmp_path: Path) -> None:
    p = plan(
        step("../evil", "test.extractor", {"batches": 1}, driver=NUMBERS),
        step("x/y", "test.writer", {}, ["../evil"], driver=SINK),
        name="../pipe",
    )
    result = _run(tmp_path, p)
    assert result.ok
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert all((tmp_path / "runs") in f.parents for f in files), files
    assert len(list((result.run_dir / "steps").iterdir())) == 2
