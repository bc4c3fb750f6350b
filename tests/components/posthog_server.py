"""A PostHog query API stand-in for the posthog.extractor tests: it answers ``POST /api/projects/<id>/query/``
by running the HogQL it receives on DuckDB tables shaped like PostHog's, so the driver's real queries (window,
filters, seek pagination) decide what comes back.

Shapes, from PostHog's API docs (https://posthog.com/docs/api/queries, "Query" endpoint): request body
``{"query": {"kind": "HogQLQuery", "query": "<HogQL>"}}`` with header ``Authorization: Bearer <personal API key>``;
answer ``{"columns": [...], "results": [[...], ...], "types": [[name, type], ...], "hasMore": bool, "limit": n,
"offset": 0, ...}`` with DateTime values as ISO 8601 text in UTC and JSON columns (``properties``) as JSON text.
Errors use PostHog's (Django REST framework) body ``{"type": ..., "code": ..., "detail": ..., "attr": null}``:
401 ``authentication_failed`` "Incorrect authentication credentials.", 400 ``validation_error`` for a bad query.
Table columns follow PostHog's HogQL schema (events: uuid, event, timestamp, distinct_id, person_id, properties;
persons: id, created_at, properties, is_identified; sessions: session_id, $start_timestamp, ...;
person_distinct_ids: distinct_id, person_id)."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
import duckdb

_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
_TIME = re.compile(r"toDateTime64\(('(?:[^'\\]|\\.)*'), 6, 'UTC'\)")


def to_duckdb(hogql: str) -> str:
    """The HogQL subset the driver sends, as DuckDB SQL (times, string escapes, $-identifiers)."""
    sql = _TIME.sub(r"CAST(\1 AS TIMESTAMP)", hogql)
    sql = _STRING.sub(lambda m: "'" + re.sub(r"\\(.)", r"\1", m.group(1)).replace("'", "''") + "'", sql)
    return re.sub(r"(?<![\w'\"])\$(\w+)", r'"$\1"', sql)


@attrs.define
class PostHog:
    con: duckdb.DuckDBPyConnection
    api_key: str
    project_id: str
    queries: list[str] = attrs.field(factory=list)
    statuses: list[int] = attrs.field(factory=list)  # answer the next requests with these HTTP statuses
    delay: float = 0.0  # seconds to wait before answering
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def answer(self, environ: dict[str, Any]) -> tuple[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        if self.statuses:
            status = self.statuses.pop(0)
            return f"{status} Injected", {"type": "server_error", "code": "error", "detail": "try later", "attr": None}
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.api_key}":
            detail = "Incorrect authentication credentials."
            return "401 Unauthorized", {"type": "authentication_error", "code": "authentication_failed",
                                        "detail": detail, "attr": None}  # fmt: skip
        if environ["PATH_INFO"] != f"/api/projects/{self.project_id}/query/" or environ["REQUEST_METHOD"] != "POST":
            return "404 Not Found", {
                "type": "invalid_request",
                "code": "not_found",
                "detail": "Not found.",
                "attr": None,
            }
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        query = body["query"]
        assert query["kind"] == "HogQLQuery"
        self.queries.append(query["query"])
        try:
            with self.lock:
                cur = self.con.cursor()
                rel = cur.execute(to_duckdb(query["query"]))
                columns = [d[0] for d in rel.description]
                rows = rel.fetchall()
        except duckdb.Error as exc:
            return "400 Bad Request", {"type": "validation_error", "code": "invalid_input", "detail": str(exc),
                                       "attr": None}  # fmt: skip
        results = [[_json(v) for v in row] for row in rows]
        types = [[d[0], CLICKHOUSE.get(str(d[1]), "String")] for d in rel.description]
        return "200 OK", {"columns": columns, "results": results, "types": types,
                          "hasMore": False, "limit": len(rows), "offset": 0, "is_cached": False}  # fmt: skip


# DuckDB result types as the ClickHouse types PostHog reports in `types`
CLICKHOUSE = {"VARCHAR": "String", "BIGINT": "Int64", "INTEGER": "Int64", "DOUBLE": "Float64", "BOOLEAN": "Bool",
              "TIMESTAMP": "DateTime64(6, 'UTC')"}  # fmt: skip


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class PostHogServer:
    def __init__(self, posthog: PostHog):
        self.posthog = posthog

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            status, body = posthog.answer(environ)
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]

        self.httpd = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
