"""The benchmark table: one row per figure, each with a baseline measured in the same run."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One figure: what the studio does, what a baseline does on the same machine, now."""

    figure: str
    value: float
    unit: str
    baseline: str
    baseline_value: float | None
    target: str
    #: value / baseline_value, or the inverse where bigger is better (`higher_is_better`)
    ratio: float | None = None
    meets: bool | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The value as the table shows it."""
        return _fmt(self.value, self.unit) + (f" ({self.notes})" if self.notes else "")


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("ms",):
        return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"
    if unit == "MB/s":
        return f"{value:.0f} MB/s"
    if unit == "/s":
        return f"{value:.0f}/s" if value >= 10 else f"{value:.1f}/s"
    return f"{value:g} {unit}".strip()


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the samples."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(samples: list[float]) -> dict[str, float]:
    """p50, p90, p99 of samples in seconds, as milliseconds."""
    return {
        "p50": percentile(samples, 50) * 1e3,
        "p90": percentile(samples, 90) * 1e3,
        "p99": percentile(samples, 99) * 1e3,
        "n": len(samples),
        "mean": statistics.fmean(samples) * 1e3,
    }


def reference_loop() -> float:
    """Milliseconds of CPU that a fixed pure-Python loop takes here now, the best of 3: how
    fast the host lets this machine run at the moment. On a shared host it moves by half
    within a minute, and every figure of a group with it; lower is faster."""

    def once() -> float:
        start, total = time.process_time(), 0
        for i in range(1_000_000):
            total += i & 7
        return time.process_time() - start

    return min(once() for _ in range(3)) * 1e3


def new_file_cost(count: int = 64) -> float:
    """Microseconds a new empty file's creation takes here now, the median of `count`, in a new
    folder of the temp folder (where the bench works). On ext4 without a journal (our
    machines) a new inode is found past every inode of its group freed in the last minutes:
    after a burst of deletions (an install, a test run, the bench's own rows) it costs 10 to
    20 times more, and every row that makes files with it."""
    folder = tempfile.mkdtemp(prefix="gms-bench-files-")
    times: list[float] = []
    try:
        for i in range(count):
            start = time.perf_counter()
            os.close(os.open(os.path.join(folder, f"f{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            times.append(time.perf_counter() - start)
    finally:
        for i in range(len(times)):
            os.unlink(os.path.join(folder, f"f{i}"))
        os.rmdir(folder)
    return statistics.median(times) * 1e6


class Table:
    """Rows as they are measured; printed as a Markdown table and written as JSON."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.skipped: dict[str, str] = {}
        self.started = time.time()
        #: `reference_loop()` before each group, by group.
        self.host: dict[str, float] = {}
        #: Microseconds a new file's creation took before each group (`new_file_cost`).
        self.files: dict[str, float] = {}

    def run(self, group: str, bench: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run one group; one that cannot run here (a missing package, say) is told and
        skipped, and the table of the others is still printed and written."""
        self.host[group] = reference_loop()
        self.files[group] = new_file_cost()
        print(
            f"[{group}] host: the reference loop takes {self.host[group]:.0f} ms, "
            f"a new file {self.files[group]:.0f} µs"
        )
        try:
            bench(*args, **kwargs)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.skipped[group] = reason
            print(f"  {group}: skipped ({reason})")
            traceback.print_exc()

    def add(self, row: Row) -> Row:
        """Record a row and print it at once (a long run shows progress)."""
        self.rows.append(row)
        base = _fmt(row.baseline_value, row.unit)
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
        print(f"  {row.figure:<52} {row.text():>22}   {row.baseline}: {base}   ratio {ratio}")
        return row

    def markdown(self) -> str:
        """The table as README shows it."""
        lines = [
            "| figure | studio | baseline in the same run | ratio | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            base = f"{row.baseline}: {_fmt(row.baseline_value, row.unit)}"
            ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
            met = {True: "yes", False: "no", None: "—"}[row.meets]
            lines.append(
                f"| {row.figure} | {row.text()} | {base} | {ratio} | {row.target} | {met} |"
            )
        for group, reason in self.skipped.items():
            lines.append(f"| {group}: not measured ({reason}) | — | — | — | — | — |")
        if self.host:
            loops = ", ".join(f"{group} {ms:.0f} ms" for group, ms in self.host.items())
            files = ", ".join(f"{group} {us:.0f} µs" for group, us in self.files.items())
            lines += [
                "",
                f"The reference loop before each group (lower is faster): {loops}.",
                "",
                f"A new file's creation before each group (the disk's state): {files}.",
            ]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        """The rows as JSON, with when and where they were measured."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "started": self.started,
            "seconds": round(time.time() - self.started, 1),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "referenceLoopMs": self.host,
                "newFileMicroseconds": self.files,
            },
            "rows": [asdict(r) for r in self.rows],
            "skipped": self.skipped,
            "markdown": self.markdown(),
        }
        path.write_text(json.dumps(body, indent=2) + "\n")
