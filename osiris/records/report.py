"""``render_html(record)``: one self-contained HTML page for a run (no script, no network, no CDN).

The page shows the outcome, the DAG as inline SVG (from the run's plan.json; steps coloured by status), a table of
steps (status, duration, rows in/out/written, bytes, error), the DDL each writer executed and each step's
effective config (``$secret`` markers, never values: the run directory holds no secret). Every text from the
record is HTML-escaped. The layout is one column that fits a phone; tables scroll sideways on narrow screens.
"""

from __future__ import annotations

import datetime
import html
import json
from graphlib import CycleError, TopologicalSorter
from typing import Any

from osiris.records.history import RunRecord

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 46, 60, 18, 12
COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e", "cancelled": "#ef6c00", "running": "#1565c0"}

CSS = """
:root{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1b1b;background:#fafafa}
body{margin:0 auto;max-width:980px;padding:12px}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;color:#fff;font-weight:600;font-size:.85rem}
.meta{color:#555;font-size:.9rem;margin:.2rem 0 .8rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #ddd;border-radius:6px;background:#fff}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{padding:.4rem .55rem;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.err{white-space:pre-wrap;color:#b71c1c;min-width:14rem}
pre{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem;overflow-x:auto;font-size:.8rem}
details{margin:.3rem 0}summary{cursor:pointer;font-weight:600}
svg{display:block;max-width:100%;height:auto}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def _fmt_ms(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{int(value)} ms"


def _fmt_bytes(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def step_rows(record: RunRecord) -> list[dict[str, Any]]:
    """Per step, in plan order: status and counts from status.json, else from the events."""
    found = record.status.get("steps")
    status_steps: dict[str, Any] = found if isinstance(found, dict) else {}
    plan_steps = [s for s in record.plan.get("steps", []) if isinstance(s, dict)]
    order = [str(s.get("id")) for s in plan_steps]
    for e in record.events:
        sid = e.get("step")
        if isinstance(sid, str) and sid not in order:
            order.append(sid)
    rows = []
    for sid in order:
        data = dict(status_steps.get(sid) or {})
        if not data:
            for e in record.events:
                if e.get("step") == sid and str(e.get("event", "")).startswith("step_"):
                    data.update({k: v for k, v in e.items() if k not in ("event", "ts")})
                    data["status"] = {"step_start": "running", "step_complete": "ok", "step_error": "failed"}.get(
                        e["event"], str(e["event"]).removeprefix("step_")
                    )
        plan_step = next((s for s in plan_steps if s.get("id") == sid), {})
        data.setdefault("component", plan_step.get("component"))
        rows.append({"step": sid, **data})
    return rows


def dag_svg(steps: list[dict[str, Any]], edges: list[tuple[str, str]]) -> str:
    """An inline SVG of the DAG: one column per depth (longest path from a root), steps coloured by status."""
    ids = [s["step"] for s in steps]
    preds: dict[str, set[str]] = {i: set() for i in ids}
    for src, dst in edges:
        if src in preds and dst in preds:
            preds[dst].add(src)
    try:
        order = list(TopologicalSorter(preds).static_order())
    except CycleError:
        order = ids
    depth: dict[str, int] = {}
    for sid in order:
        depth[sid] = 1 + max((depth.get(p, 0) for p in preds[sid]), default=-1)
    columns: dict[int, list[str]] = {}
    for sid in ids:  # plan order within a column
        columns.setdefault(depth.get(sid, 0), []).append(sid)
    pos: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        for row, sid in enumerate(members):
            pos[sid] = (PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y) - GAP_Y
    by_id = {s["step"]: s for s in steps}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="pipeline graph" class="dag">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#777"/></marker></defs>',
    ]
    for src, dst in edges:
        if src in pos and dst in pos:
            (x1, y1), (x2, y2) = pos[src], pos[dst]
            sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H // 2, x2, y2 + NODE_H // 2
            mid = (sx + ex) // 2
            parts.append(
                f'<path class="edge" d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" stroke="#777" '
                'stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
    for sid in ids:
        x, y = pos[sid]
        status = str(by_id[sid].get("status") or "")
        colour = COLOURS.get(status, "#546e7a")
        label = sid if len(sid) <= 22 else sid[:21] + "…"
        component = str(by_id[sid].get("component") or "")
        parts.append(
            f'<g class="node" data-step="{_esc(sid)}" data-status="{_esc(status)}">'
            f"<title>{_esc(sid)} ({_esc(component)}): {_esc(status)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7" fill="#fff" stroke="{colour}" '
            'stroke-width="2.5"/>'
            f'<text x="{x + 10}" y="{y + 19}" font-size="13" font-weight="600" fill="#1b1b1b">{_esc(label)}</text>'
            f'<text x="{x + 10}" y="{y + 36}" font-size="11" fill="{colour}">{_esc(status or "?")} · '
            f"{_esc(component[:24])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _edges(plan: dict[str, Any]) -> list[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for s in plan.get("steps", []):
        if not isinstance(s, dict):
            continue
        for need in s.get("needs") or []:
            edges.add((str(need), str(s.get("id"))))
        for inp in s.get("inputs") or []:
            if isinstance(inp, dict) and inp.get("step"):
                edges.add((str(inp["step"]), str(s.get("id"))))
    return sorted(edges)


def render_html(record: RunRecord) -> str:
    """The report page for ``record`` (the graph needs the run's plan.json; without it the steps stand alone)."""
    summary = record.summary
    steps = step_rows(record)
    colour = COLOURS.get(summary.status, "#546e7a")
    started = (
        datetime.datetime.fromtimestamp(summary.started, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if summary.started is not None
        else "unknown"
    )
    duration = f"{summary.duration_s:.2f} s" if summary.duration_s is not None else "unknown"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_esc(summary.pipeline)} · run {_esc(summary.run_id)}</title><style>{CSS}</style></head><body>",
        f'<h1>{_esc(summary.pipeline)} <span class="badge" style="background:{colour}">{_esc(summary.status)}</span>'
        "</h1>",
        f'<p class="meta">run {_esc(summary.run_id)} · started {_esc(started)} · {_esc(duration)} · '
        f"{_esc(_fmt_int(summary.rows) or '0')} rows written</p>",
    ]
    if summary.error:
        out.append(f'<pre class="error" style="color:#b71c1c">{_esc(summary.error)}</pre>')
    out += ["<h2>Graph</h2>", '<div class="scroll">', dag_svg(steps, _edges(record.plan)), "</div>"]
    out += [
        "<h2>Steps</h2>",
        '<div class="scroll"><table class="steps"><thead><tr><th>step</th><th>component</th><th>status</th>'
        '<th class="num">duration</th><th class="num">rows in</th><th class="num">rows out</th>'
        '<th class="num">rows written</th><th class="num">bytes in</th><th class="num">bytes out</th>'
        "<th>error</th></tr></thead><tbody>",
    ]
    for s in steps:
        out.append(
            f'<tr data-step="{_esc(s["step"])}"><td>{_esc(s["step"])}</td><td>{_esc(s.get("component"))}</td>'
            f'<td style="color:{COLOURS.get(str(s.get("status")), "#333")}">{_esc(s.get("status"))}</td>'
            f'<td class="num">{_fmt_ms(s.get("duration_ms"))}</td>'
            f'<td class="num">{_fmt_int(s.get("rows_in"))}</td><td class="num">{_fmt_int(s.get("rows_out"))}</td>'
            f'<td class="num">{_fmt_int(s.get("rows_written"))}</td>'
            f'<td class="num">{_fmt_bytes(s.get("bytes_in"))}</td><td class="num">{_fmt_bytes(s.get("bytes_out"))}'
            f'</td><td class="err">{_esc(s.get("error"))}</td></tr>'
        )
    out.append("</tbody></table></div>")
    if record.ddl:
        out.append("<h2>DDL executed</h2>")
        for stem, sql in record.ddl.items():
            out.append(f"<details open><summary>{_esc(stem)}</summary><pre>{_esc(sql)}</pre></details>")
    if record.configs:
        out.append("<h2>Step configs</h2>")
        for stem, config in record.configs.items():
            text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False)
            out.append(f"<details><summary>{_esc(stem)}</summary><pre>{_esc(text)}</pre></details>")
    out.append('<p class="meta">written by osirisc report · secrets appear only as $secret markers</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
