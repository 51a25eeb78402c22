"""What a run cost in CPU time, process by process, read from `/proc` (Linux) and Redis.

A rate (takes/s) depends on the host; the CPU time each take costs much less so. With both in
a row, a figure measured on a slow or busy host says what it would be on another: the host's
cores, divided by the CPU a take costs, bound the rate, whatever the code does in between.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

#: Clock ticks a second, the unit of `/proc/<pid>/stat`'s times.
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Spent:
    """CPU seconds so far: the worker processes, their pipeline processes, this process (the
    bench's clients: submits and polling), Redis, and the whole host (busy and all cores)."""

    workers: float
    pipelines: float
    clients: float
    redis: float
    host_busy: float
    host_all: float


def _times(pid: int) -> float:
    """User and system CPU seconds of one process (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _descendants(pids: list[int]) -> list[int]:
    """Every process started by `pids`, and by those, and so on (read from `/proc`)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _host() -> tuple[float, float]:
    """The host's busy and total CPU seconds since it started (`/proc/stat`)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks[:8])  # guest times are already in user and nice
    idle = ticks[3] + ticks[4] + ticks[7]  # idle, iowait, and steal (another machine's)
    return (total - idle) / _TICKS, total / _TICKS


def spent(workers: list[int], client: redis.Redis) -> Spent:
    """CPU seconds spent so far by the worker processes `workers` and what they started, by
    this process, by the Redis `client` talks to, and by the host."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info: dict[str, Any] = client.info("cpu")
    busy, total = _host()
    return Spent(
        workers=sum(_times(pid) for pid in workers),
        pipelines=sum(_times(pid) for pid in _descendants(workers)),
        clients=usage.ru_utime + usage.ru_stime,
        redis=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        host_busy=busy,
        host_all=total,
    )


def per_item(before: Spent, after: Spent, items: int) -> dict[str, float]:
    """Milliseconds of CPU an item cost between two readings, each party and in all, the
    host's busy share and cores, and the items/s those cores allow at that cost."""
    cost = {
        party: (getattr(after, party) - getattr(before, party)) * 1000 / items
        for party in ("workers", "pipelines", "clients", "redis")
    }
    cost["all"] = sum(cost.values())
    cores = os.cpu_count() or 1
    elapsed = after.host_all - before.host_all
    cost["hostBusy"] = (after.host_busy - before.host_busy) / elapsed if elapsed > 0 else 0.0
    cost["cores"] = cores
    cost["ceiling"] = cores * 1000 / cost["all"] if cost["all"] > 0 else 0.0
    return cost


def describe(cost: dict[str, float], pipeline: str) -> str:
    """The cost in a row's notes."""
    return (
        f"CPU a take: worker {cost['workers']:.1f} ms + `{pipeline}` {cost['pipelines']:.1f}"
        f" + clients {cost['clients']:.1f} + Redis {cost['redis']:.1f} = {cost['all']:.1f} ms;"
        f" host {cost['hostBusy']:.0%} busy: its {cost['cores']:.0f} cores allow"
        f" ≈ {cost['ceiling']:.0f} takes/s at that cost"
    )
