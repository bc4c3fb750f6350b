"""The one secrets model (osiris/secrets.py): which values are secret, DSN passwords, markers, masking values only."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from osiris.backends.e2b.host import EventSink, HostRun, store_file
from osiris.runtime.connectors import scrub, secrets_of
from osiris.secrets import (
    MASK,
    Masker,
    dsn_passwords,
    is_placeholder,
    is_secret_name,
    markers,
    replace_markers,
    secret_values,
)


@pytest.mark.parametrize(
    ("dsn", "password"),
    [
        ("postgresql://u:se%ZZcr@t pw@127.0.0.1:5432/test", "se%ZZcr@t pw"),  # libpq refuses it
        ("postgres://u:p@ss w0rd@db.example.com/app?sslmode=require", "p@ss w0rd"),
        ("postgresql://u:a%40b%20c@h/d", "a@b c"),  # percent-encoded: both forms are masked
        ("host=h user=u password='it\\'s a \\\\ secret' dbname=d", "it's a \\ secret"),  # libpq's quoting
        ("host=h password=plain%ZZ dbname=d", "plain%ZZ"),
        ("mysql://root:t0p@secret@127.0.0.1:3306/x", "t0p@secret"),
    ],
)
def test_dsn_password_found_where_libpq_cannot_parse(dsn: str, password: str) -> None:
    found = dsn_passwords(dsn)
    assert password in found
    masked = Masker([dsn]).text(f"cannot connect: {dsn} / {password}")
    assert password not in masked and MASK in masked


def test_dsn_without_password_adds_nothing() -> None:
    assert dsn_passwords("postgresql://u@h/d") == []
    assert dsn_passwords("host=h dbname=d user=u") == []
    assert dsn_passwords("https://abc.supabase.co") == []


def test_values_are_masked_never_keys() -> None:
    """A secret equal to an event key (``event``, ``rows``, ``steps``) masks values, and the record keeps its keys
    (it used to become {"***": ...} and the runtime failed with KeyError)."""
    for secret in ("event", "rows", "steps", "component", "step"):
        m = Masker([secret])
        record = {"event": "step_complete", "step": "w", "rows": 3, "steps": {"w": {"component": "x"}}, "m": secret}
        masked = m.data(record)
        assert set(masked) == set(record)
        assert masked["steps"] == {"w": {"component": "x"}} or secret in ("w", "x")
        assert masked["m"] == MASK
        assert secret not in json.dumps([v for v in _values(masked)])


def _values(data: object) -> list[object]:
    if isinstance(data, dict):
        return [x for v in data.values() for x in _values(v)]
    if isinstance(data, list):
        return [x for v in data for x in _values(v)]
    return [data]


def test_name_rule_is_exact_or_suffix_never_substring() -> None:
    assert is_secret_name("password") and is_secret_name("db_password") and is_secret_name("service_role_key")
    assert is_secret_name("pg_dsn") and is_secret_name("key")
    for name in ("primary_key", "keys", "monkey", "url", "keyspace", "upsert_keys", "customer_key_name"):
        assert not is_secret_name(name), name


def test_primary_key_is_not_a_secret() -> None:
    """``primary_key: customer`` used to put "customer" on the secret list: messages read ``"public"."***_sales"``."""
    config = {"primary_key": "customer", "table": "customer_sales", "url": "https://x.supabase.co", "password": "pw1"}
    assert secret_values(config) == ["pw1"]
    assert secrets_of(config) == ["pw1"]
    message = 'table "public"."customer_sales" has no column customer (pw1)'
    assert scrub(message, secrets_of(config)) == f'table "public"."customer_sales" has no column customer ({MASK})'


def test_spec_secret_fields_and_dsn_passwords_in_other_fields() -> None:
    fields = {"host": "h", "client_cert_pass": "c3rt", "url": "https://u:t0ken@api.example.com/x"}
    assert secret_values(fields, ["client_cert_pass"]) == ["c3rt", "t0ken"]


def test_placeholders() -> None:
    for value in ("${env.SUPA_KEY}", "${PW}", "${PW:-x}", "@supabase.main"):
        assert is_placeholder(value)
    for value in ("${env.A}x", "secret", "@x", "${env.A} ${env.B}", 5):
        assert not is_placeholder(value)


def test_one_marker_walker() -> None:
    config = {
        "a": {"$secret": {"source": "env", "name": "A"}},
        "l": [{"$secret": {"source": "connection", "name": "password", "connection": "@pg.w"}}, 1],
        "n": {"$secret": "not a marker body", "k": 1},
    }
    assert [m["name"] for m in markers(config)] == ["A", "password"]
    replaced = replace_markers(config, lambda m: m["name"].lower())
    assert replaced == {"a": "a", "l": ["password", 1], "n": {"$secret": "not a marker body", "k": 1}}


def test_masker_longest_first_and_thread_safe() -> None:
    m = Masker(["abc", "abcdef"])
    assert m.text("xabcdefx abc") == f"x{MASK}x {MASK}"
    threads = [threading.Thread(target=m.add, args=(f"secret-{i:03d}",)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(m.text(f"secret-{i:03d}") == MASK for i in range(50))
    assert Masker([" ", ""]).text("a b") == "a b"  # blank values are not secrets


def test_sandbox_event_stream_and_records_mask_values_not_keys(tmp_path: Path) -> None:
    """The e2b host masked each streamed line as text: a secret ``event`` turned ``"event"`` keys into ``"***"``
    and every event was lost. Values are masked; keys and the record kind stay."""
    masker = Masker(["event", "step", "sEcR-pw"])
    sink = EventSink(tmp_path, "p", masker)
    lines = [
        {"event": "run_start", "run_id": "r1", "pipeline": "p", "steps": 1},
        {"event": "step_start", "step": "a step", "component": "x", "note": "sEcR-pw"},
        "not json: event sEcR-pw",
    ]
    sink.feed("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    run_dir = sink.close()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in events] == ["run_start", "step_start"]
    assert events[1]["step"] == f"a {MASK}" and events[1]["note"] == MASK
    assert (run_dir / "artifacts" / "stdout.log").read_text(encoding="utf-8") == f"not json: {MASK} {MASK}\n"
    run = HostRun(plan={}, redactor=masker)
    status = {"event": "step failed", "steps": {"step": "sEcR-pw"}}
    store_file(run, tmp_path / "status.json", json.dumps(status).encode(), True)
    stored = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
    assert stored == {"event": f"{MASK} failed", "steps": {"step": MASK}}  # a status file: keys kept, values masked


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("      password: hunter2  # the old one", "      password: ***  # the old one"),
        (
            "    config: {table: t, pasword: a1, password: 'b 2', user: u}",
            "    config: {table: t, pasword: ***, password: ***, user: u}",
        ),
        ('    pg_dsn = "host=h password=x"', "    pg_dsn = ***"),
        ('      key: "${env.SUPA_KEY}"', '      key: "${env.SUPA_KEY}"'),  # a placeholder is shown
        ("      primary_key: customer", "      primary_key: customer"),
        ("      client_cert_pass: c3rt", "      client_cert_pass: ***"),  # marked secret by a spec only
        ("      query: SELECT 'postgres://a:pw1@h/x'", "      query: SELECT 'postgres://a:***@h/x'"),
    ],
)
def test_quoted_source_lines_are_masked_whatever_pass_ran(
    line: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from osiris import render

    monkeypatch.setattr(render, "_spec_secret_names", lambda: frozenset({"client_cert_pass"}))
    assert render._masked_line(line, 1, (), 1, 2)[0] == shown
