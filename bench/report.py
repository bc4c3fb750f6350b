"""Results: bench/results/latest.json and the Markdown tables written into bench/README.md (``--write-readme``)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import duckdb

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _cmd(*argv: str) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=20)
    except OSError:
        return "missing"
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else "?"


def machine() -> dict[str, Any]:
    cpu = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")), "?"
        )
    mem = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def tool_versions(osirisc: Path) -> dict[str, str]:
    return {
        "osirisc": _cmd(str(osirisc), "--version").removeprefix("osirisc "),
        "mariadb client": _cmd("mariadb", "--version"),
        "psql": _cmd("psql", "--version"),
        "duckdb (python)": duckdb.__version__,
    }


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def case_table(cases: list[dict[str, Any]], reference: str) -> list[str]:
    ref = next((c for c in cases if c["case"] == reference), None)
    ref_wall = ref["wall_median_s"] if ref else None
    lines = [f"| case | status | median s | x {reference} | peak RSS MB | runs (s) |", "|---|---|---|---|---|---|"]
    for c in cases:
        ratio = c["wall_median_s"] / ref_wall if c["wall_median_s"] is not None and ref_wall else None
        status = c["status"]
        if c.get("error"):
            status += ": " + c["error"].replace("\n", " ").replace("|", "/")[:160]
        runs = ", ".join(f"{w:.2f}" for w in c["wall_runs_s"]) if c["ok"] else "-"
        lines.append(
            f"| {c['case']} | {status} | {_fmt(c['wall_median_s'])} | {_fmt(ratio)} | "
            f"{_fmt(c['rss_median_mb'], 0)} | {runs} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    out = [f"Run: `{results['command']}` (median of {results['repeats']} interleaved repeats unless noted).", ""]
    m = results["machine"]
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Python {m['python']}.")
    versions = {**results["versions"], **results.get("ref_versions", {})}
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    for section in results["sections"]:
        out += ["", f"### {section['title']}", ""]
        if section.get("note"):
            out += [section["note"], ""]
        if "cases" in section:
            out += case_table(section["cases"], section["reference"])
        for k, v in section.get("figures", {}).items():
            out.append(f"- {k}: {v}")
    targets = results.get("targets", [])
    if targets:
        out += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
        for t in targets:
            met = "n/a" if t["met"] is None else "yes" if t["met"] else "NO"
            out.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(out) + "\n"


def write(results: dict[str, Any], out_dir: Path, readme: Path | None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "latest.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "latest.md").write_text(markdown(results), encoding="utf-8")
    if readme is not None:
        text = readme.read_text(encoding="utf-8")
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        readme.write_text(f"{head}{START}\n{markdown(results)}{END}{tail}", encoding="utf-8")
    return path
