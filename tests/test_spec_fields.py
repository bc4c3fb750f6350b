"""Every config field of every built-in component (osiris/components/*/spec.yaml) is honoured, refused at check, or
warned about at check as having no effect - never accepted and ignored (issue #12).

- honoured: HONOURED maps the field to the test that proves it (the test must exist);
- refused: the spec's ``x-refused`` lists it, and giving it is error OSR-E161 at check (shown here);
- warned: the spec's ``x-no-effect`` lists it, and giving it is warning OSR-W161 at check (shown here);
- renamed: the spec's ``x-aliases`` renames an Osiris spelling to a field of the above (warning OSR-W160, here);
- own warning: OWN_WARNING lists fields a pass warns about itself (the CSV reader's ``newline``, OSR-W212).

A new spec field fails ``test_every_field_is_classified`` until it is put in one of these.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from osiris.compile import compile_file
from osiris.ir import nodes

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "osiris" / "components").glob("*/spec.yaml"))

T = "tests/components/test_config_fields_honoured.py::"
SUPA = "tests/components/test_supabase_extractor.py::"
CSV = "tests/runtime/test_csv_roundtrip.py::"
DUCK = "tests/runtime/test_duckdb_drivers.py::"
DRIFT = "tests/passes_schema/test_lock_drift.py::"
CONC = "tests/components/test_writer_concurrency.py::"
CSV_PLAN = "tests/components/test_csv_read_plan.py::"
MY_LOCK = "tests/components/test_mysql_writer_lock.py::"
GQL = "tests/components/test_graphql_extractor.py::"
GQL_PIPE = "tests/components/test_graphql_pipeline.py::"
PH = "tests/components/test_posthog_extractor.py::"
INC = "tests/components/test_incremental.py::"

_WRITER = T + "test_writer_fields_end_to_end"
_WRITER_FIELDS = ("connection", "schema", "table", "write_mode", "primary_key", "create_if_missing", "schema_evolution")
MODES = "tests/components/test_writer_modes.py::"
_STRATEGY = MODES + "test_replace_strategy_statements_and_result"
_PG_CONNECT = ("host", "port", "database", "user", "password", "sslmode", "pg_dsn")
_MY_CONNECT = ("host", "port", "database", "user", "password")

HONOURED: dict[str, dict[str, str]] = {
    "duckdb.extractor": {
        "connection": T + "test_duckdb_extractor_connection_schema_and_batch_size",
        "path": DUCK + "test_extractor_table_columns_and_query",
        "schema": T + "test_duckdb_extractor_connection_schema_and_batch_size",
        "table": DUCK + "test_extractor_table_columns_and_query",
        "query": DUCK + "test_extractor_table_columns_and_query",
        "columns": DUCK + "test_extractor_table_columns_and_query",
        "batch_size": T + "test_duckdb_extractor_connection_schema_and_batch_size",
        "incremental": INC + "test_initial_and_end_values_bound_a_backfill",
    },
    "duckdb.processor": {"query": "tests/runtime/test_scheduler.py::test_processor_sees_aliases_and_self_join"},
    "duckdb.writer": {
        **dict.fromkeys(_WRITER_FIELDS, _WRITER),
        "path": DUCK + "test_modes",
        "replace_strategy": _STRATEGY,
        "lock_timeout": CONC + "test_held_duckdb_file_fails_clearly_after_lock_timeout",
    },
    "filesystem.csv_extractor": {
        "connection": T + "test_csv_extractor_types_dates_batches_and_connection",
        "path": CSV + "test_reader_options",
        "delimiter": CSV + "test_reader_options",
        "encoding": CSV + "test_latin1_and_column_order",
        "header": CSV + "test_reader_options",
        "quoting": T + "test_csv_extractor_types_dates_batches_and_connection",
        "compression": CSV + "test_round_trip_options",
        "columns": CSV + "test_reader_options",
        "skip_rows": CSV + "test_reader_options",
        "limit": CSV + "test_reader_options",
        "parse_dates": T + "test_csv_extractor_types_dates_batches_and_connection",
        "dtype": T + "test_csv_extractor_types_dates_batches_and_connection",
        "na_values": CSV + "test_reader_options",
        "chunk_size": T + "test_csv_extractor_types_dates_batches_and_connection",
        "batch_size": T + "test_csv_extractor_types_dates_batches_and_connection",
        "incremental": INC + "test_csv_source_and_csv_target_keep_a_state_file",
        "skip_blank_lines": T + "test_csv_extractor_types_dates_batches_and_connection",
        "comment": CSV_PLAN + "test_comment_lines_are_skipped_but_not_inside_quoted_fields",
    },
    "filesystem.csv_writer": {
        **dict.fromkeys(
            ("connection", "path", "delimiter", "header", "quoting", "columns", "create_dirs"),
            T + "test_csv_writer_fields_end_to_end",
        ),
        "encoding": CSV + "test_latin1_and_column_order",
        "newline": CSV + "test_gzip_really_compressed_and_crlf",
        "compression": CSV + "test_gzip_really_compressed_and_crlf",
    },
    "mysql.extractor": {
        "connection": DRIFT + "test_mysql_drift_fails_the_run_before_the_writer",
        **dict.fromkeys(_MY_CONNECT, T + "test_mysql_connection_fields"),
        "query": T + "test_mysql_connection_fields",
        **dict.fromkeys(
            ("schema", "table", "columns", "limit", "offset", "batch_size"), T + "test_mysql_extractor_table_options"
        ),
        "incremental": INC + "test_mysql_to_postgres_initial_then_only_new_rows_then_reset",
    },
    "mysql.writer": {
        **dict.fromkeys(_WRITER_FIELDS, _WRITER),
        **dict.fromkeys(_MY_CONNECT, T + "test_mysql_connection_fields"),
        "replace_strategy": _STRATEGY,
        "lock_timeout": MY_LOCK + "test_a_table_locked_by_another_session_fails_after_lock_timeout",
    },
    "postgres.extractor": {
        "connection": DRIFT + "test_postgres_drift_fails_the_run_before_the_writer",
        **dict.fromkeys(_PG_CONNECT, T + "test_postgres_connection_fields_reach_libpq"),
        **dict.fromkeys(
            ("schema", "table", "columns", "query", "batch_size"), T + "test_postgres_extractor_table_options"
        ),
        "incremental": INC + "test_late_rows_inside_the_lookback_are_caught_and_deduplicated",
    },
    "postgres.writer": {
        **dict.fromkeys(_WRITER_FIELDS, _WRITER),
        **dict.fromkeys(_PG_CONNECT, T + "test_postgres_writer_connection_fields"),
        "replace_strategy": _STRATEGY,
        "lock_timeout": CONC + "test_locked_postgres_table_fails_clearly_after_lock_timeout",
    },
    "supabase.extractor": {
        "connection": T + "test_supabase_extractor_end_to_end_through_a_connection",
        **dict.fromkeys(_PG_CONNECT, T + "test_postgres_connection_fields_reach_libpq"),
        **dict.fromkeys(("query", "columns", "batch_size"), T + "test_postgres_extractor_table_options"),
        "incremental": INC + "test_initial_and_end_values_bound_a_backfill",
        **dict.fromkeys(
            ("schema", "table", "select", "filter", "order", "limit", "offset"),
            SUPA + "test_select_filter_order_are_the_sql_they_mean",
        ),
        "timeout": SUPA + "test_timeout_is_the_connect_timeout",
        "retries": SUPA + "test_retries_is_the_number_of_connect_retries",
    },
    "supabase.writer": {
        **dict.fromkeys(_WRITER_FIELDS, _WRITER),
        **dict.fromkeys(_PG_CONNECT, T + "test_postgres_writer_connection_fields"),
        "replace_strategy": _STRATEGY,
        "timeout": T + "test_supabase_writer_timeout_and_retries",
        "retries": T + "test_supabase_writer_timeout_and_retries",
        "lock_timeout": T + "test_supabase_writer_lock_timeout",
        # auto/psycopg2 write over PostgreSQL; http_sql is refused at check (OSR-E162, x-refused-values)
        "ddl_channel": "tests/osiris_compat/test_supabase_writer.py::"
        "test_ddl_channel_auto_and_psycopg2_write_over_postgres_and_http_sql_is_refused",
    },
    "graphql.extractor": {
        "connection": GQL_PIPE + "test_local_run_loads_postgres_and_keeps_secrets_out",
        "endpoint": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "query": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "variables": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "batch_size": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "pagination_enabled": GQL + "test_without_pagination_one_request_and_a_single_object_is_one_row",
        "pagination_path": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "pagination_cursor_field": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "pagination_has_next_field": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "pagination_variable_name": GQL + "test_fifty_pages_stream_every_row_exactly_in_many_batches",
        "max_pages": GQL + "test_max_pages_stops_early_and_says_so",
        "data_path": GQL + "test_a_wrong_data_path_is_an_error_not_an_empty_table",
        "flatten_result": GQL + "test_flatten_false_keeps_objects_as_json_text",
        "columns": GQL + "test_declared_columns_win_and_undeclared_fields_are_reported",
        "auth_type": GQL + "test_bearer_token_is_sent_and_a_401_never_shows_it",
        "auth_token": GQL + "test_bearer_token_is_sent_and_a_401_never_shows_it",
        "auth_header_name": GQL + "test_api_key_header_and_extra_headers",
        "headers": GQL + "test_api_key_header_and_extra_headers",
        "auth_username": GQL + "test_basic_auth_is_sent",
        "max_retries": GQL + "test_5xx_gives_up_after_max_retries",
        "retry_delay": GQL + "test_5xx_is_retried_with_backoff_then_succeeds",
        "timeout": GQL + "test_a_timeout_is_retried_and_then_reported",
        "validate_ssl": GQL + "test_validate_ssl_refuses_a_self_signed_certificate_unless_false",
    },
    "posthog.extractor": {
        "incremental": INC + "test_posthog_events_resume_from_the_committed_mark",
        "connection": PH + "test_pipeline_to_postgres_keeps_the_key_out",
        "api_key": PH + "test_a_wrong_key_fails_without_showing_it",
        "project_id": PH + "test_events_every_row_once_over_many_pages_with_tied_timestamps",
        "region": PH + "test_custom_base_url_needs_self_hosted",
        "custom_base_url": PH + "test_custom_base_url_needs_self_hosted",
        "data_type": PH + "test_persons_seek_on_created_at_and_id",
        "event_types": PH + "test_event_types_with_quotes_and_backslashes_are_filtered_exactly",
        "deduplication_enabled": PH + "test_without_deduplication_a_doubled_event_is_kept",
        "initial_since": PH + "test_a_longer_lookback_reaches_further_back",
        "lookback_window_minutes": PH + "test_a_longer_lookback_reaches_further_back",
        "page_size": PH + "test_events_every_row_once_over_many_pages_with_tied_timestamps",
        "batch_size": PH + "test_events_every_row_once_over_many_pages_with_tied_timestamps",
        "max_retries": PH + "test_5xx_and_429_are_retried",
        "retry_delay": PH + "test_5xx_and_429_are_retried",
        "timeout": PH + "test_timeout_fails_the_run_naming_the_step_without_waiting_for_the_server",
    },
}

# Fields warned about by a check of their own (not x-no-effect): (component, field) -> (code, a value that warns).
OWN_WARNING: dict[tuple[str, str], tuple[str, Any]] = {
    ("filesystem.csv_extractor", "newline"): ("OSR-W212", "crlf"),  # infer_schemas: the reader ends rows at any
    # validate_config: only --target ray reads in ranges (honoured there: tests/backends/test_ray.py
    # test_partitioned_read_*); every other target reads in one query, and check says so
    ("mysql.extractor", "partition"): ("OSR-W165", {"column": "id", "count": 2}),
    ("postgres.extractor", "partition"): ("OSR-W165", {"column": "id", "count": 2}),
}

# A config that compiles cleanly for each component, to which one field at a time is added.
BASE: dict[str, dict[str, Any]] = {
    "duckdb.extractor": {"path": "x.duckdb", "table": "t"},
    "duckdb.processor": {"query": "SELECT 1 AS one"},
    "duckdb.writer": {"path": "x.duckdb", "table": "t"},
    "filesystem.csv_extractor": {"path": "in.csv"},
    "filesystem.csv_writer": {"path": "out.csv"},
    "graphql.extractor": {"endpoint": "https://api.example.com/graphql", "query": "{ items { id } }"},
    "posthog.extractor": {"api_key": "${env.POSTHOG_KEY}", "project_id": "1"},
    "mysql.extractor": {"host": "h", "database": "d", "user": "u", "password": "${env.MYSQL_PW}", "table": "t"},
    "mysql.writer": {"host": "h", "database": "d", "user": "u", "password": "${env.MYSQL_PW}", "table": "t"},
    "postgres.extractor": {"host": "h", "database": "d", "user": "u", "table": "t"},
    "postgres.writer": {"host": "h", "database": "d", "user": "u", "table": "t"},
    "supabase.extractor": {"host": "h", "database": "d", "user": "u", "table": "t"},
    "supabase.writer": {"host": "h", "database": "d", "user": "u", "table": "t"},
}
# A valid value for fields whose schema needs one (secrets through the environment, never inline).
VALUES: dict[str, Any] = {
    "url": "https://project.supabase.co",
    "key": "${env.SUPABASE_ANON_KEY}",
    "service_role_key": "${env.SUPABASE_SERVICE_ROLE_KEY}",
    "project_id": "project",
    "returning": "minimal",
    "prefer": "return=minimal",
    "tables": ["a"],
    "truncate_before": True,
    "echo": True,
    "mode": "append",
    "upsert_keys": ["id"],
    "create_table": True,
}


@cache
def specs() -> dict[str, dict[str, Any]]:
    return {doc["name"]: doc for doc in (yaml.safe_load(p.read_text(encoding="utf-8")) for p in SPECS)}


def _classes(name: str, field: str) -> list[str]:
    doc = specs()[name]
    found = []
    if field in HONOURED.get(name, {}):
        found.append("honoured")
    if field in doc.get("x-refused", {}):
        found.append("refused")
    if field in doc.get("x-no-effect", {}):
        found.append("warned")
    if field in doc.get("x-aliases", {}):
        found.append("renamed")
    if (name, field) in OWN_WARNING:
        found.append("warned")
    return found


def _fields(kind: str) -> list[tuple[str, str]]:
    keys = {"refused": "x-refused", "warned": "x-no-effect", "renamed": "x-aliases"}
    return [(name, field) for name, doc in specs().items() for field in doc.get(keys[kind], {})]


def test_every_field_is_classified_exactly_once() -> None:
    problems = []
    for name, doc in specs().items():
        for field in doc["configSchema"]["properties"]:
            found = _classes(name, field)
            if len(found) != 1:
                problems.append(f"{name}.{field}: {found or 'not classified (honoured, refused or warned?)'}")
    assert problems == []


def test_classifications_name_real_fields_and_components() -> None:
    listed = [(n, f) for n, fields in HONOURED.items() for f in fields] + list(OWN_WARNING)
    unknown = [f"{n}.{f}" for n, f in listed if n not in specs() or f not in specs()[n]["configSchema"]["properties"]]
    assert unknown == [] and set(BASE) == set(specs())


@cache
def _test_functions(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))


def test_each_honoured_field_names_an_existing_test() -> None:
    missing = []
    for name, fields in HONOURED.items():
        for field, ref in fields.items():
            path, _, func = ref.partition("::")
            if not (ROOT / path).is_file() or func not in _test_functions(path):
                missing.append(f"{name}.{field}: {ref}")
    assert missing == []


def _compile_with(
    tmp_path: Path, name: str, field: str, value: Any = None, until: str = "validate-config"
) -> tuple[list[Any], dict[str, Any] | None]:
    doc = specs()[name]
    prop = doc["configSchema"]["properties"][field]
    value = value if value is not None else VALUES.get(field, prop.get("default", "x"))
    config = {**BASE[name], field: value}
    steps: list[dict[str, Any]] = []
    if "write" in doc["modes"]:
        (tmp_path / "in.csv").write_text("id,name\n1,a\n")
        steps.append(
            {"id": "src", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}}
        )
    steps.append(
        {"id": "step", "component": name, "mode": "write" if "write" in doc["modes"] else "read", "config": config}
    )
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "f", "steps": steps}, sort_keys=False))
    result = compile_file(str(path), env={}, until=until)
    step = next((s for s in result.pipeline.steps if s.id == "step"), None) if result.pipeline else None
    effective = nodes.plain(step.config) if step is not None else None
    return list(result.diagnostics), effective if isinstance(effective, dict) else None


@pytest.mark.parametrize(("name", "field"), _fields("warned"), ids=str)
def test_warned_fields_are_warned_at_check(tmp_path: Path, name: str, field: str) -> None:
    diags, _ = _compile_with(tmp_path, name, field)
    assert [(d.code, f"'{field}'" in d.message) for d in diags] == [("OSR-W161", True)], diags


@pytest.mark.parametrize(("name", "field"), list(OWN_WARNING), ids=str)
def test_fields_with_their_own_warning_are_warned_at_check(tmp_path: Path, name: str, field: str) -> None:
    code, value = OWN_WARNING[(name, field)]
    (tmp_path / "in.csv").write_text("id,name\n1,a\n")
    diags, _ = _compile_with(tmp_path, name, field, value, until="infer-schemas")
    assert [(d.code, field in d.message) for d in diags] == [(code, True)], diags


@pytest.mark.parametrize(("name", "field"), _fields("refused"), ids=str)
def test_refused_fields_are_errors_at_check(tmp_path: Path, name: str, field: str) -> None:
    diags, _ = _compile_with(tmp_path, name, field)
    assert [(d.code, f"'{field}'" in d.message) for d in diags] == [("OSR-E161", True)], diags


@pytest.mark.parametrize(("name", "field"), _fields("renamed"), ids=str)
def test_renamed_fields_become_their_new_name(tmp_path: Path, name: str, field: str) -> None:
    new = specs()[name]["x-aliases"][field]
    assert _classes(name, new) in (["honoured"], ["refused"], ["warned"])
    diags, effective = _compile_with(tmp_path, name, field)
    assert [d.code for d in diags] == ["OSR-W160"] and effective is not None
    assert field not in effective and effective[new] == VALUES[field]
