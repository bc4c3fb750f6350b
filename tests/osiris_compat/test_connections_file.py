"""An Osiris-style ``osiris_connections.yaml`` works unchanged: the shape Osiris's ``osiris init`` writes (a
``version`` key, several aliases per family with ``default: true`` / ``false``, a ``description`` per alias,
``${VAR}`` inside values, a MySQL ``timeout``, a Supabase alias with API keys only), read by ``check`` and ``run``
against the real MariaDB. ``${VAR:-fallback}`` (written in Osiris's pipeline-format reference, which its own loader
does not expand) works here. A field no component has (Osiris's reference writes ``username``) is refused."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from osiris.cli import main

CONNECTIONS = """\
version: "1.0"
connections:
  mysql:
    reporting:
      default: true
      host: ${SHOP_DB_HOST}
      port: ${SHOP_DB_PORT:-3306}
      user: ${SHOP_DB_USER}
      password: ${SHOP_DB_PASSWORD}
      database: ${SHOP_DB_NAME}
      pool_size: 5
      timeout: 30
    archive:
      default: false
      host: archive.invalid
      user: nobody
      password: ${ARCHIVE_PASSWORD}
      database: old
  supabase:
    project:
      default: true
      project_id: ${SUPA_PROJECT}
      anon_key: ${SUPA_ANON}
      service_role_key: ${SUPA_SERVICE}
  filesystem:
    inbox:
      default: true
      base_dir: "${SHOP_HOME}/inbox"
      description: "Files dropped by the shop"
    outbox:
      default: false
      base_dir: "${SHOP_HOME}/outbox"
      description: "Files we hand back"
"""

PIPELINE = """\
oml_version: "0.1.0"
name: shop-orders
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    config: {connection: "@filesystem.inbox", path: orders.csv}
  - id: load-orders
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.default"
      table: orders
      write_mode: upsert
      primary_key: order_id
      create_if_missing: true
  - id: hand-back
    component: filesystem.csv_writer
    mode: write
    needs: [read-orders]
    config: {connection: "@filesystem.outbox", path: orders-copy.csv}
"""
ORDERS = "order_id,item\n" + "".join(f"{i},item-{i}\n" for i in range(1, 6))


@pytest.mark.db
def test_an_osiris_init_style_connections_file_checks_and_runs(
    tmp_path: Path, mysql_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "outbox").mkdir()
    (tmp_path / "inbox" / "orders.csv").write_text(ORDERS)
    env = {"SHOP_DB_HOST": "127.0.0.1", "SHOP_DB_USER": "root", "SHOP_DB_PASSWORD": "", "SHOP_DB_NAME": mysql_db}
    for name, value in {**env, "SHOP_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHOP_DB_PORT", raising=False)  # the :-3306 fallback applies

    assert main(["check", "p.yaml"]) == 0
    err = capsys.readouterr().err
    # the one field no osirisc component reads warns, positioned in the connections file; nothing else is said
    assert "osiris_connections.yaml:12:7: warning[OSR-W316]" in err and "'timeout'" in err, err
    assert "error" not in err.replace("0 error(s)", ""), err

    assert main(["run", "p.yaml", "--runs-dir", "runs"]) == 0
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=mysql_db)
    with conn.cursor() as cur:
        cur.execute("SELECT order_id, item FROM orders ORDER BY order_id")
        assert cur.fetchall() == tuple((i, f"item-{i}") for i in range(1, 6))
    conn.close()
    assert (tmp_path / "outbox" / "orders-copy.csv").read_text().splitlines()[1:] == [
        f'{i},"item-{i}"' for i in range(1, 6)
    ]


def test_the_default_alias_and_an_unknown_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``@mysql.default`` picks the alias marked ``default: true`` (Osiris's rule); two marked aliases are an error
    naming them; a field no component has (``username``, from Osiris's reference) is refused with the fix."""
    (tmp_path / "p.yaml").write_text(PIPELINE)
    two_defaults = CONNECTIONS.replace("default: false\n      host: archive", "default: true\n      host: archive")
    (tmp_path / "osiris_connections.yaml").write_text(two_defaults)
    assert main(["check", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err
    assert "error[OSR-E313]" in err and "archive, reporting" in err, err

    username = CONNECTIONS.replace("user: ${SHOP_DB_USER}", "username: ${SHOP_DB_USER}")
    (tmp_path / "osiris_connections.yaml").write_text(username)
    assert main(["check", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err
    assert "error[OSR-E316]" in err and "unknown field 'username'" in err and "did you mean 'user'?" in err, err


def test_a_literal_anon_key_warns_without_being_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """OSR-W316 quotes the connections file at the field; the key's value is masked there like any secret."""
    secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXZhbHVlLTQy"
    (tmp_path / "osiris_connections.yaml").write_text(
        f'connections:\n  supabase:\n    main:\n      pg_dsn: "host=127.0.0.1 dbname=test user=postgres"\n'
        f"      anon_key: {secret}\n"
    )
    (tmp_path / "p.yaml").write_text(
        'oml_version: "0.1.0"\nname: anon\nsteps:\n  - {id: src, component: supabase.extractor, mode: read, '
        'config: {connection: "@supabase.main", query: "SELECT 1 AS id"}}\n'
    )
    assert main(["check", str(tmp_path / "p.yaml")]) == 0
    captured = capsys.readouterr()
    assert "warning[OSR-W316]" in captured.err and "'anon_key'" in captured.err, captured.err
    assert secret not in captured.err + captured.out and "c2VjcmV0" not in captured.err + captured.out
