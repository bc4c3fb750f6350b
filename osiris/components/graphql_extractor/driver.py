"""graphql.extractor: POST a GraphQL query, follow cursor pagination, stream the rows at ``data_path`` as Arrow.

Each page is one request (``{"query", "variables"}``); with ``pagination_enabled`` the page-info object at
``pagination_path`` gives the next cursor, set into ``variables[pagination_variable_name]`` for the next page,
until ``hasNextPage`` is false or ``max_pages`` pages were read. A response with ``errors`` fails the step with the
server's messages (a partial answer is not loaded). Only queries are sent: a mutation or subscription is refused
before any request, so every request may be retried (docs/components/graphql.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pyarrow as pa
from jsonpath_ng import parse as jsonpath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError

from osiris.runtime.connectors.http import Api, Policy, Scrubber, error_messages
from osiris.runtime.connectors.jsonrows import Rows, declared_columns, page_batches
from osiris.runtime.driver import StepContext, StepError

_IGNORED = re.compile(r'#[^\n\r]*|"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|[\s,\ufeff]+')


def operation_kind(query: str) -> str:
    """``mutation`` or ``subscription`` when the document defines one at its top level (comments and strings
    skipped), else ``query`` (``{ ... }`` shorthand, named queries and fragments)."""
    depth = 0
    for token in re.findall(r"[{}]|\b(?:query|mutation|subscription)\b", _IGNORED.sub(" ", query)):
        if token in "{}":
            depth += 1 if token == "{" else -1
        elif depth == 0 and token != "query":
            return token
    return "query"


def settings(ctx: StepContext) -> dict[str, Any]:
    """The connection's fields under the step's config (the step's values win)."""
    conn = {k: v for k, v in (ctx.connection or {}).items() if k != "default"}
    return {**conn, **ctx.config}


def find(path: str, document: Any, field: str) -> list[Any]:
    try:
        expr = jsonpath(path)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # jsonpath-ng also raises bare Exception
        raise StepError(f"`{field}` {path!r} is not a JSONPath: {exc}") from None
    return [m.value for m in expr.find(document)]


def rows_at(document: Any, path: str, page: int) -> list[Any]:
    """The rows ``data_path`` selects: a matched list's items, a matched object as one row; several matches are
    concatenated. No match is an error (a wrong path must not look like an empty source)."""
    found = find(path, document, "data_path")
    if not found:
        keys = ", ".join(sorted(document.get("data") or {})) if isinstance(document.get("data"), dict) else "none"
        raise StepError(f"data_path {path!r} matches nothing in page {page} (fields under data: {keys})")
    rows: list[Any] = []
    for value in found:
        if isinstance(value, list):
            rows.extend(value)
        elif value is not None:
            rows.append(value)
    return rows


def _headers(value: Any) -> dict[str, str]:
    """``headers`` from a connection (a mapping) or ``${env.NAME}`` (a JSON object in the variable)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise StepError('`headers` from an environment variable must be a JSON object, e.g. {"X-Key": "..."}')
    return {str(k): str(v) for k, v in (value or {}).items()}


def _auth(cfg: Mapping[str, Any]) -> tuple[dict[str, str], httpx.Auth | None]:
    headers = _headers(cfg.get("headers"))
    kind, token = cfg.get("auth_type") or "none", cfg.get("auth_token")
    if kind == "none":
        if token:
            raise StepError("auth_token is set but auth_type is none: say how to send it (bearer, basic, api_key)")
        return headers, None
    if not token:
        raise StepError(f"auth_type {kind} needs auth_token")
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {token}"
        return headers, None
    if kind == "api_key":
        headers[str(cfg.get("auth_header_name") or "X-API-Key")] = str(token)
        return headers, None
    if kind == "basic":
        if not cfg.get("auth_username"):
            raise StepError("auth_type basic needs auth_username")
        return headers, httpx.BasicAuth(str(cfg["auth_username"]), str(token))
    raise StepError(f"auth_type {kind!r} is not one of none, bearer, basic, api_key")


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        cfg = settings(self.ctx)
        endpoint, query = cfg.get("endpoint"), cfg.get("query")
        if not endpoint or not query:
            raise StepError("graphql.extractor needs `endpoint` (or a connection giving it) and `query`")
        kind = operation_kind(str(query))
        if kind != "query":
            raise StepError(f"the GraphQL document is a {kind}: graphql.extractor only sends queries")
        headers, auth = _auth(cfg)
        scrub = Scrubber([cfg.get("auth_token"), cfg.get("auth_username"), cfg.get("headers"), headers])
        api = Api(
            f"GraphQL endpoint {scrub(str(endpoint))}",
            Policy(
                timeout=float(cfg.get("timeout", 30)),
                max_retries=int(cfg.get("max_retries", 3)),
                retry_delay=float(cfg.get("retry_delay", 1.0)),
                verify=bool(cfg.get("validate_ssl", True)),
            ),
            headers=headers,
            auth=auth,
            scrub=scrub,
            event=self.ctx.event,
        )
        rows = Rows(
            "graphql.extractor",
            int(cfg.get("batch_size") or self.ctx.batch_size),
            declared=declared_columns(cfg.get("columns")),
            flatten=bool(cfg.get("flatten_result", True)),
            event=self.ctx.event,
        )
        pages = self._pages(api, cfg, str(endpoint), str(query))
        try:
            first = list(rows.add(next(pages), 1))  # the first page fixes the schema (and fails fast)
        except StopIteration:  # pragma: no cover - _pages always yields a first page or raises
            first = []
        except BaseException:
            api.close()
            raise
        return pa.RecordBatchReader.from_batches(rows.schema, self._batches(api, rows, pages, first))

    def _batches(
        self, api: Api, rows: Rows, pages: Iterator[list[Any]], first: list[pa.RecordBatch]
    ) -> Iterator[pa.RecordBatch]:
        def done(page: int) -> None:
            self.ctx.event("graphql_complete", {"pages": page, "rows": rows.rows, "requests": api.requests})

        return page_batches(rows, pages, first, done=done, close=api.close)

    def _pages(self, api: Api, cfg: Mapping[str, Any], endpoint: str, query: str) -> Iterator[list[Any]]:
        variables = dict(cfg.get("variables") or {})
        paginate = bool(cfg.get("pagination_enabled", False))
        max_pages = int(cfg.get("max_pages") or 0)
        data_path = str(cfg.get("data_path") or "data")
        info_path = str(cfg.get("pagination_path") or "data.pageInfo")
        cursor_field = str(cfg.get("pagination_cursor_field") or "endCursor")
        next_field = str(cfg.get("pagination_has_next_field") or "hasNextPage")
        variable = str(cfg.get("pagination_variable_name") or "after")
        seen: set[str] = set()
        page = 0
        while True:
            page += 1
            document = api.post_json(endpoint, {"query": query, "variables": variables})
            if not isinstance(document, dict):
                raise StepError(f"{api.what}: page {page} is not a JSON object")
            if document.get("errors"):
                errors = document["errors"] if isinstance(document["errors"], list) else [document["errors"]]
                messages = "; ".join(api.scrub(m) for m in error_messages(errors))
                raise StepError(f"{api.what} answered page {page} with errors: {messages}")
            objects = rows_at(document, data_path, page)
            self.ctx.event("graphql_page", {"page": page, "rows": len(objects)})
            yield objects
            if not paginate:
                return
            infos = [i for i in find(info_path, document, "pagination_path") if isinstance(i, dict)]
            if not infos:
                raise StepError(f"pagination_path {info_path!r} finds no page info in page {page}")
            has_next, cursor = infos[0].get(next_field), infos[0].get(cursor_field)
            if not has_next:
                return
            if cursor is None or str(cursor) in seen:
                raise StepError(
                    f"page {page} says {next_field}: true but its {cursor_field} is "
                    f"{'missing' if cursor is None else 'a cursor already used'}; stopping rather than looping"
                )
            if max_pages and page >= max_pages:
                self.ctx.event("graphql_max_pages", {"pages": page, "more": True})
                return
            seen.add(str(cursor))
            variables[variable] = cursor
