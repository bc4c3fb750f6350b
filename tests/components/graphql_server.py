"""A real GraphQL server for the graphql.extractor tests: ariadne's WSGI app served over HTTP on 127.0.0.1 by a
threading wsgiref server, with knobs a test sets to make it misbehave (bearer token required, HTTP statuses to
answer next, a delay before answering). Items carry awkward text (CR, LF, tab, backslash, quotes, 'NULL', \\N,
emoji) and cursor pagination as the Relay connection spec describes it (edges/node, pageInfo)."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from ariadne import QueryType, make_executable_schema
from ariadne.wsgi import GraphQL

SDL = """
type Query {
  items(first: Int!, after: String): ItemConnection!
  item(id: Int!): Item
  boom: String
}
type ItemConnection { edges: [ItemEdge!]!, pageInfo: PageInfo! }
type ItemEdge { node: Item! }
type PageInfo { hasNextPage: Boolean!, endCursor: String }
type Item { id: Int!, name: String!, score: Float, active: Boolean!, owner: Owner }
type Owner { login: String!, since: String }
"""

AWKWARD = ["plain", "cr\rhere", "lf\nhere", "tab\there", "back\\slash", 'quote"d', "it's", "NULL", "\\N", "emoji 🦉"]


def item(i: int) -> dict[str, Any]:
    """Item ``i`` as the server returns it (the tests compute expected rows with this too)."""
    return {
        "id": i,
        "name": f"{AWKWARD[i % len(AWKWARD)]} #{i}",
        "score": None if i % 7 == 0 else i / 4,
        "active": i % 2 == 0,
        "owner": None if i % 5 == 0 else {"login": f"user{i % 13}", "since": "2024-01-02T03:04:05Z"},
    }


def cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


@attrs.define
class Knobs:
    total: int = 100
    token: str | None = None  # bearer token required when set
    statuses: list[int] = attrs.field(factory=list)  # answer the next requests with these HTTP statuses
    delay: float = 0.0  # seconds to wait before answering
    requests: int = 0
    headers: list[dict[str, str]] = attrs.field(factory=list)  # headers of every request received
    bodies: list[dict[str, Any]] = attrs.field(factory=list)


def _schema(knobs: Knobs) -> Any:
    query = QueryType()

    @query.field("items")
    def items(_: Any, __: Any, first: int, after: str | None = None) -> dict[str, Any]:
        start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
        end = min(start + first, knobs.total)
        return {
            "edges": [{"node": item(i)} for i in range(start, end)],
            "pageInfo": {"hasNextPage": end < knobs.total, "endCursor": cursor(end) if end > start else None},
        }

    @query.field("item")
    def one(_: Any, __: Any, id: int) -> dict[str, Any] | None:
        return item(id) if 0 <= id < knobs.total else None

    @query.field("boom")
    def boom(*_: Any) -> str:
        raise RuntimeError("the warehouse is on fire")

    return make_executable_schema(SDL, query)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _app(knobs: Knobs) -> Callable[..., Any]:
    graphql = GraphQL(_schema(knobs))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        knobs.requests += 1
        knobs.headers.append({k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        with contextlib.suppress(ValueError):
            knobs.bodies.append(json.loads(raw))
        environ["wsgi.input"] = _Body(raw)
        if knobs.delay:
            time.sleep(knobs.delay)
        if knobs.statuses:
            status = knobs.statuses.pop(0)
            start_response(f"{status} Failing", [("Content-Type", "text/plain")])
            return [f"injected {status}".encode()]
        if knobs.token and environ.get("HTTP_AUTHORIZATION") != f"Bearer {knobs.token}":
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"message": "Bad credentials"}']
        return graphql(environ, start_response)

    return app


class _Body:
    def __init__(self, raw: bytes):
        self.raw, self.pos = raw, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.raw) if n is None or n < 0 else self.pos + n
        out, self.pos = self.raw[self.pos : end], min(end, len(self.raw))
        return out


class GraphQLServer:
    """Serves on 127.0.0.1; over HTTPS with ``tls`` (a server-side ``ssl.SSLContext`` holding its certificate)."""

    def __init__(self, knobs: Knobs, tls: ssl.SSLContext | None = None):
        self.knobs = knobs
        self.httpd = make_server("127.0.0.1", 0, _app(knobs), server_class=_Server, handler_class=_Quiet)
        scheme = "http"
        if tls is not None:  # each accepted connection does the TLS handshake before the request is read
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_port}/graphql"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(knobs: Knobs) -> Iterator[GraphQLServer]:
    server = GraphQLServer(knobs)
    try:
        yield server
    finally:
        server.close()
