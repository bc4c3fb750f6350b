"""Run a child process and measure its wall time and peak RSS; interleave cases and take medians.

Peak RSS comes from GNU ``/usr/bin/time -f %M`` (the wait4 rusage of a child forked from that small program, which on
Linux includes the grandchildren it waited for). ``os.wait4`` on a child forked straight from this harness is not
used for memory: Linux keeps the forking parent's high-water mark across exec, so every child would look at least
as large as the harness itself."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAIL = 1500  # characters of stderr kept for a failed run
GNU_TIME = "/usr/bin/time"


@dataclass
class Sample:
    """One measured run of one case."""

    wall: float
    rss_mb: float
    returncode: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    cpu: float | None = None  # user + system seconds of the child (GNU time), steadier than wall on a busy machine

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run_measured(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 900.0
) -> Sample:
    """Start ``argv`` in its own process group under GNU time; return wall seconds and peak RSS in MB."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        start = time.perf_counter()
        wrapped = [GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *argv] if Path(GNU_TIME).exists() else list(argv)
        proc = subprocess.Popen(wrapped, env=dict(env), cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        deadline = start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        fields = Path(rss.name).read_text().splitlines()[-1:]
        text = fields[0].split() if fields else []
        peak_kb = int(text[0]) if len(text) == 3 and text[0].isdigit() else usage.ru_maxrss
        cpu = float(text[1]) + float(text[2]) if len(text) == 3 else usage.ru_utime + usage.ru_stime
    if wrapped[0] == GNU_TIME and proc.returncode:  # GNU time exits with the child's code and notes it on stderr
        stderr = "\n".join(ln for ln in stderr.splitlines() if not ln.startswith("Command exited with non-zero"))
    return Sample(wall, peak_kb / 1024.0, proc.returncode, stdout, stderr[-TAIL:], timed_out, cpu)


@dataclass
class CaseResult:
    """All samples of one case plus its verification outcome."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    verified: bool | None = None  # None: not verified (nothing to verify or the run failed)
    error: str | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.error is None and bool(self.samples) and self.verified is not False

    @property
    def wall_median(self) -> float | None:
        good = [s.wall for s in self.samples if s.ok]
        return statistics.median(good) if good and self.ok else None

    @property
    def cpu_median(self) -> float | None:
        good = [s.cpu for s in self.samples if s.ok and s.cpu is not None]
        return statistics.median(good) if good and self.ok else None

    @property
    def rss_median(self) -> float | None:
        good = [s.rss_mb for s in self.samples if s.ok]
        return statistics.median(good) if good and self.ok else None

    @property
    def status(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.error:
            return "FAILED"
        return "ok" if self.verified else "ok (unverified)" if self.verified is None else "WRONG"

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.name,
            "status": self.status,
            "ok": self.ok,
            "verified": self.verified,
            "error": self.error,
            "skipped": self.skipped,
            "wall_median_s": self.wall_median,
            "rss_median_mb": self.rss_median,
            "cpu_median_s": self.cpu_median,
            "wall_runs_s": [round(s.wall, 4) for s in self.samples],
            "rss_runs_mb": [round(s.rss_mb, 1) for s in self.samples],
            **self.extra,
        }


@dataclass
class Case:
    """A measured case: ``prepare(rep)`` (untimed) returns the argv; ``verify(rep)`` (untimed) returns None when the
    copy is right or a message saying what differs; ``cleanup(rep)`` drops what the run made."""

    name: str
    prepare: Callable[[int], Sequence[str]]
    verify: Callable[[int], str | None] = lambda rep: None
    cleanup: Callable[[int], None] = lambda rep: None
    cwd: Path | None = None
    skip: str | None = None
    verifies: bool = True
    max_runs: int | None = None  # slow references at large sizes: fewer runs (reported with their count)
    budget_s: float | None = None  # a first run slower than this is not repeated
    skip_if: Callable[[Mapping[str, CaseResult]], str | None] = lambda done: None  # before each run: why to skip


def interleave(
    cases: Sequence[Case], repeats: int, env: Mapping[str, str], timeout: float, log: Callable[[str], None]
) -> list[CaseResult]:
    """Run A B C A B C ...; a case that fails once is not run again (its error is kept, no number is reported)."""
    results = {c.name: CaseResult(c.name, skipped=c.skip) for c in cases}
    for rep in range(repeats):
        for case in cases:
            res = results[case.name]
            if res.skipped or res.error or (case.max_runs is not None and len(res.samples) >= case.max_runs):
                continue
            if case.budget_s is not None and res.samples and res.samples[0].wall > case.budget_s:
                continue
            if (why := case.skip_if(results)) is not None:
                res.skipped = why
                log(f"  {case.name}: skipped: {why}")
                continue
            try:
                argv = case.prepare(rep)
                sample = run_measured(argv, env, case.cwd, timeout)
                res.samples.append(sample)
                if not sample.ok:
                    why = "timed out" if sample.timed_out else f"exit code {sample.returncode}"
                    res.error = f"{why}: {sample.stderr.strip() or sample.stdout.strip()[-TAIL:]}"
                elif case.verifies:
                    problem = case.verify(rep)
                    res.verified = problem is None if res.verified in (None, True) else False
                    if problem:
                        res.error = f"verification failed: {problem}"
                log(f"  {case.name} #{rep + 1}: {sample.wall:.2f}s {sample.rss_mb:.0f} MB {res.status}")
            except Exception as exc:  # a harness-side failure of one case must not stop the others
                res.error = f"{type(exc).__name__}: {exc}"
                log(f"  {case.name} #{rep + 1}: {res.error}")
            finally:
                try:
                    case.cleanup(rep)
                except Exception as exc:
                    log(f"  {case.name}: cleanup failed: {exc}")
    return list(results.values())


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None
