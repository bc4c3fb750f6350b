"""posthog.extractor: HogQL queries through PostHog's query API (``POST /api/projects/<id>/query/`` with
``{"query": {"kind": "HogQLQuery", "query": ...}}``), paged by seek on (time, id) as Osiris does, as Arrow batches.

Time window (events, sessions): from ``initial_since`` (default 30 days ago) minus ``lookback_window_minutes`` to
the run's start. Each page asks for ``page_size`` rows after the last (time, id) seen, so a page boundary inside
rows sharing a timestamp loses nothing and repeats nothing; person_distinct_ids has no time column and pages by
offset. The state Osiris keeps (``{<data_type>_state: {...}, recent_uuids: [...]}``) is computed the same way and
recorded as the ``posthog_state`` event and ``<run>/artifacts/<step>/state.json`` (docs/components/posthog.md).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from osiris.runtime import incremental
from osiris.runtime.connectors.http import Api, Policy, Scrubber
from osiris.runtime.connectors.jsonrows import Column, Rows, page_batches
from osiris.runtime.driver import StepContext, StepError

HOSTS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com"}
RECENT_UUIDS = 10_000  # as Osiris: the last 10,000 uuids are kept, for deduplication and in the state
TS = pa.timestamp("us", tz="UTC")


def _col(name: str, type_: pa.DataType, kind: str = "declared") -> Column:
    return Column(name, kind, type_)


# data_type -> (HogQL select list, table, time column or None, id column, Arrow columns or None = from the answer)
SOURCES: dict[str, tuple[str, str, str | None, str, list[Column] | None]] = {
    "events": (
        "uuid, event, timestamp, distinct_id, person_id, properties",
        "events",
        "timestamp",
        "uuid",
        [
            _col("uuid", pa.string()),
            _col("event", pa.string()),
            _col("timestamp", TS),
            _col("distinct_id", pa.string()),
            _col("person_id", pa.string()),
            _col("properties", pa.string(), "json"),
        ],
    ),
    "persons": (
        "id, created_at, properties, is_identified",
        "persons",
        None,
        "id",
        [
            _col("id", pa.string()),
            _col("created_at", TS),
            _col("properties", pa.string(), "json"),
            _col("is_identified", pa.bool_()),
        ],
    ),
    "sessions": ("*", "sessions", "$start_timestamp", "session_id", None),
    "person_distinct_ids": (
        "distinct_id, person_id",
        "person_distinct_ids",
        None,
        "distinct_id",
        [_col("distinct_id", pa.string()), _col("person_id", pa.string())],
    ),
}
SEEK_TIME = {"events": "timestamp", "persons": "created_at", "sessions": "$start_timestamp"}
STATE_FIELDS = {
    "events": ("last_timestamp", "last_uuid"),
    "persons": ("last_created_at", "last_id"),
    "sessions": ("last_start_timestamp", "last_session_id"),
}


def arrow_type(clickhouse: str) -> pa.DataType:
    """The Arrow type of a ClickHouse type PostHog reports in ``types`` (sessions' columns); text when unsure."""
    t = clickhouse
    for wrapper in ("Nullable(", "LowCardinality("):
        while t.startswith(wrapper) and t.endswith(")"):
            t = t[len(wrapper) : -1]
    if t.startswith("DateTime"):
        return TS
    if t in ("Date", "Date32"):
        return pa.date32()
    if t in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32"):
        return pa.int64()
    if t in ("Float32", "Float64"):
        return pa.float64()
    if t == "Bool":
        return pa.bool_()
    return pa.string()  # String, UUID, UInt64, Decimal, arrays...: as text (JSON text for non-strings), lossless


def hogql_string(text: str) -> str:
    """A HogQL string literal (backslash and quote escaped)."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def hogql_time(value: datetime) -> str:
    """A UTC instant in HogQL at microseconds (PostHog's timestamps are DateTime64(6)), so seeking after a row never
    skips or repeats rows of the same second."""
    return f"toDateTime64({hogql_string(value.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f'))}, 6, 'UTC')"


def base_url(cfg: Mapping[str, Any]) -> str:
    region = cfg.get("region") or "us"
    custom = cfg.get("custom_base_url")
    if region == "self_hosted":
        if not custom:
            raise StepError("region self_hosted needs custom_base_url")
        return str(custom).rstrip("/")
    if custom:
        raise StepError(f"custom_base_url is only used with region self_hosted (region is {region})")
    if region not in HOSTS:
        raise StepError(f"region {region!r} is not one of us, eu, self_hosted")
    return HOSTS[region]


def parse_since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise StepError(f"initial_since {text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Query:
    """The HogQL text of each page: the window, the filter, and the seek position after the previous page."""

    def __init__(self, data_type: str, cfg: Mapping[str, Any], now: datetime, mark: datetime | None = None):
        self.data_type = data_type
        self.select, self.table, self.window_col, self.id_col, _ = SOURCES[data_type]
        self.page_size = int(cfg.get("page_size") or 1000)
        self.where: list[str] = []
        self.since: datetime | None = None
        if self.window_col:
            start = parse_since(cfg["initial_since"]) if cfg.get("initial_since") else now - timedelta(days=30)
            start = start if mark is None else mark  # incremental: from the last committed run's mark
            self.since = start - timedelta(minutes=int(cfg.get("lookback_window_minutes", 15)))
            col = self.window_col
            self.where += [f"{col} >= {hogql_time(self.since)}", f"{col} < {hogql_time(now)}"]
        types = cfg.get("event_types") or []
        if types:
            if data_type != "events":
                raise StepError(f"event_types filters events; data_type is {data_type}")
            self.where.append(f"event IN ({', '.join(hogql_string(t) for t in types)})")

    def text(self, after: tuple[str, str] | None, offset: int) -> str:
        where = list(self.where)
        time_col = SEEK_TIME.get(self.data_type)
        if after is not None and time_col:
            t, i = time_col, self.id_col
            at, key = hogql_time(_instant(after[0])), hogql_string(after[1])
            where.append(f"({t} > {at} OR ({t} = {at} AND {i} > {key}))")
        order = f"{time_col} ASC, {self.id_col} ASC" if time_col else "person_id ASC, distinct_id ASC"
        sql = f"SELECT {self.select} FROM {self.table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order} LIMIT {self.page_size}"
        if not time_col and offset:
            sql += f" OFFSET {offset}"
        return sql


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        conn = {k: v for k, v in (self.ctx.connection or {}).items() if k != "default"}
        cfg = {**conn, **self.ctx.config}
        data_type = str(cfg.get("data_type") or "")
        if data_type not in SOURCES:
            raise StepError(f"data_type {data_type!r} is not one of {', '.join(SOURCES)}")
        if not cfg.get("api_key") or not cfg.get("project_id"):
            raise StepError("posthog.extractor needs api_key and project_id (from the connection)")
        root = base_url(cfg)
        scrub = Scrubber([cfg["api_key"]])
        region = cfg.get("region") or "us"
        api = Api(
            f"PostHog ({region}) query API",
            Policy(
                timeout=float(cfg.get("timeout", 60)),
                max_retries=int(cfg.get("max_retries", 5)),
                retry_delay=float(cfg.get("retry_delay", 1.0)),
            ),
            headers={"Authorization": f"Bearer {cfg['api_key']}"},
            scrub=scrub,
            event=self.ctx.event,
        )
        url = f"{root}/api/projects/{cfg['project_id']}/query/"
        cursor = incremental.source_cursor(self.ctx)
        query = Query(data_type, cfg, datetime.now(UTC), self._mark(cursor, data_type))
        pages = self._pages(api, url, query, bool(cfg.get("deduplication_enabled", True)))
        try:
            page_one = next(pages)
            columns = SOURCES[data_type][4] or [Column(n, "declared", t) for n, t in self.types]
            rows = Rows(
                "posthog.extractor",
                int(cfg.get("batch_size") or self.ctx.batch_size),
                declared=[Column(c.name, c.kind, c.type) for c in columns],
                flatten=False,
                event=self.ctx.event,
            )
            first = list(rows.add(page_one, 1))
        except BaseException:
            api.close()
            raise
        reader = pa.RecordBatchReader.from_batches(rows.schema, self._batches(api, rows, pages, first, query))
        return incremental.tracked(self.ctx, cursor, reader, query.text(None, 0))

    @staticmethod
    def _mark(cursor: incremental.Cursor | None, data_type: str) -> datetime | None:
        """The committed mark to resume from (None: first run, or not incremental)."""
        if cursor is None:
            return None
        window = SOURCES[data_type][2]
        if cursor.column != window:
            cursor.fail(f"incremental cursor_column {cursor.column!r} is not the window of {data_type}")
            raise StepError(f"incremental.cursor_column of {data_type} must be {window or 'absent (no time window)'}")
        cursor.bounds()  # a state that could not be read fails the step here
        if cursor.mark is None:
            return None
        value = incremental.from_json(cursor.mark)
        if not isinstance(value, datetime):
            raise StepError(f"the incremental mark {cursor.mark} is not a time")
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def _batches(
        self, api: Api, rows: Rows, pages: Iterator[list[dict[str, Any]]], first: list[pa.RecordBatch], query: Query
    ) -> Iterator[pa.RecordBatch]:
        def done(page: int) -> None:
            self._record_state(query)
            self.ctx.event("posthog_complete", {"pages": page, "rows": rows.rows, "duplicates": self.duplicates})

        return page_batches(rows, pages, first, done=done, close=api.close)

    def _pages(self, api: Api, url: str, query: Query, dedupe: bool) -> Iterator[list[dict[str, Any]]]:
        self.last: dict[str, Any] | None = None
        self.recent: deque[str] = deque(maxlen=RECENT_UUIDS)
        self.duplicates = 0
        self.types: list[tuple[str, pa.DataType]] = []
        seen: set[str] = set()
        after: tuple[str, str] | None = None
        offset, page = 0, 0
        while True:
            page += 1
            answer = api.post_json(url, {"query": {"kind": "HogQLQuery", "query": query.text(after, offset)}})
            results, columns = _results(answer, api.what, page)
            if page == 1:
                types = dict(answer.get("types") or [])
                self.types = [(c, arrow_type(str(types.get(c, "String")))) for c in columns]
            objects = [dict(zip(columns, r, strict=True)) for r in results]
            if objects:
                self.last = objects[-1]
            out = []
            for obj in objects:
                raw = obj.get("uuid") if query.data_type == "events" else None
                uuid = None if raw is None else str(raw)
                if uuid is not None:
                    if dedupe and uuid in seen:
                        self.duplicates += 1
                        continue
                    if len(self.recent) == RECENT_UUIDS:
                        seen.discard(self.recent[0])  # the deque drops it on append: memory stays bounded
                    seen.add(uuid)
                    self.recent.append(uuid)
                out.append(obj)
            self.ctx.event("posthog_page", {"page": page, "rows": len(objects), "kept": len(out)})
            yield out
            if len(objects) < query.page_size:
                return
            time_col = SEEK_TIME.get(query.data_type)
            if time_col:
                last = objects[-1]
                after = (str(last[time_col]), str(last[query.id_col]))
            else:
                offset += len(objects)

    def _record_state(self, query: Query) -> None:
        """The state Osiris would hand to the next run, recorded (osirisc does not resume from it yet)."""
        fields = STATE_FIELDS.get(query.data_type)
        type_state: dict[str, Any] = {}
        if fields and self.last is not None:
            last = self.last
            type_state = {fields[0]: str(last[SEEK_TIME[query.data_type]]), fields[1]: str(last[query.id_col])}
        state = {f"{query.data_type}_state": type_state, "recent_uuids": list(self.recent)}
        folder = Path(self.ctx.run_dir) / "artifacts" / self.ctx.step_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        self.ctx.event("posthog_state", {"state": type_state, "recent_uuids": len(self.recent)})


def _results(answer: Any, what: str, page: int) -> tuple[list[list[Any]], list[str]]:
    """``results`` and ``columns`` of a HogQL answer; an ``error`` in the body is a step error."""
    if not isinstance(answer, dict):
        raise StepError(f"{what}: page {page} is not a JSON object")
    if answer.get("error"):
        raise StepError(f"{what}: the HogQL query of page {page} failed: {answer['error']}")
    results, columns = answer.get("results"), answer.get("columns")
    if not isinstance(results, list) or not isinstance(columns, list):
        raise StepError(f"{what}: page {page} has no `results` and `columns` (not a HogQL query answer)")
    return results, [str(c) for c in columns]
