"""What a run cost in CPU time, process by process, read from `/proc` (Linux) and Redis.

A rate (takes/s) depends on the host; the CPU time each take costs much less so. With both in
a row, a figure measured on a slow or busy host says what it would be on another: the host's
cores, divided by the CPU a take costs, bound the rate, whatever the code does in between.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import redis

#: Clock ticks a second, the unit of `/proc/<pid>/stat`'s times.
_TICKS = os.sysconf("SC_CLK_TCK")


def _times(pid: int) -> float:
    """User and system CPU seconds of one process (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def descendants(pids: list[int]) -> list[int]:
    """Every process started by `pids`, and by those, and so on (read from `/proc`)."""
    parents: dict[int, list[int]] = {}
    if not os.path.isdir("/proc"):
        return []
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
    """The host's busy and total CPU seconds since it started (`/proc/stat`; 0 and 0 on a
    system without it, where the rows then say nothing of CPU)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return 0.0, 0.0
    ticks = [int(value) for value in first.split()[1:]]
    total = sum(ticks[:8])  # guest times are already in user and nice
    idle = ticks[3] + ticks[4] + ticks[7]  # idle, iowait, and steal (another machine's)
    return (total - idle) / _TICKS, total / _TICKS


#: CPU seconds so far by party: named groups of processes, "self" (this process: the bench's
#: clients), "redis", and the host's "hostBusy" and "hostAll" (busy, and all of its cores).
Spent = dict[str, float]
_HOST = ("hostBusy", "hostAll")


def spent(processes: dict[str, list[int]], client: redis.Redis) -> Spent:
    """CPU seconds spent so far by each named group of `processes`, by this process, by the
    Redis `client` talks to, and by the host."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info: dict[str, Any] = client.info("cpu")
    parties = {name: sum(_times(pid) for pid in pids) for name, pids in processes.items()}
    parties["self"] = usage.ru_utime + usage.ru_stime
    parties["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    parties["hostBusy"], parties["hostAll"] = _host()
    return parties


def _host_share(before: Spent, after: Spent) -> tuple[float, float]:
    """The host's busy share between two readings, and the seconds that passed."""
    cores = os.cpu_count() or 1
    elapsed = after["hostAll"] - before["hostAll"]
    busy = (after["hostBusy"] - before["hostBusy"]) / elapsed if elapsed > 0 else 0.0
    return busy, elapsed / cores


def per_item(before: Spent, after: Spent, items: int) -> dict[str, float]:
    """Milliseconds of CPU an item cost between two readings, each party and in all, the
    host's busy share and cores, and the items/s those cores allow at that cost."""
    cost = {
        party: (after[party] - before[party]) * 1000 / items
        for party in before
        if party not in _HOST
    }
    cost["all"] = sum(cost.values())
    cost["hostBusy"], _ = _host_share(before, after)
    cost["cores"] = os.cpu_count() or 1
    cost["ceiling"] = cost["cores"] * 1000 / cost["all"] if cost["all"] > 0 else 0.0
    return cost


def shares(before: Spent, after: Spent) -> dict[str, float]:
    """Each party's CPU between two readings as a share of one core, the host's busy share
    and its cores."""
    busy, seconds = _host_share(before, after)
    out = {
        party: (after[party] - before[party]) / seconds if seconds > 0 else 0.0
        for party in before
        if party not in _HOST
    }
    out["hostBusy"], out["cores"] = busy, os.cpu_count() or 1
    return out


def describe(cost: dict[str, float], pipeline: str) -> str:
    """A take's cost, in a row's notes (nothing where the host's CPU times cannot be read)."""
    if not cost["cores"] or cost["hostBusy"] == 0.0:
        return "CPU a take: not measured on this system"
    return (
        f"CPU a take: worker {cost['workers']:.1f} ms + `{pipeline}` {cost['pipelines']:.1f}"
        f" + clients {cost['self']:.1f} + Redis {cost['redis']:.1f} = {cost['all']:.1f} ms;"
        f" host {cost['hostBusy']:.0%} busy: its {cost['cores']:.0f} cores allow"
        f" ≈ {cost['ceiling']:.0f} takes/s at that cost"
    )


def describe_load(load: dict[str, float]) -> str:
    """The 50 clients' row's parties (`shares`), in its notes."""
    if load["hostBusy"] == 0.0:
        return "CPU not measured on this system"
    return (
        f"CPU in cores: server {load['server']:.2f}, the clients' processes"
        f" {load['clients']:.2f}, publisher {load['self']:.2f}, Redis {load['redis']:.2f};"
        f" host {load['hostBusy']:.0%} busy of {load['cores']:.0f} cores"
    )
