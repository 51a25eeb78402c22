"""Short full passes of Python's cyclic garbage collector in the studio's long-lived processes.

Starting the server or a worker imports hundreds of thousands of objects (modules, classes,
functions, schemas) that live as long as the process. Every full pass of the collector walks
them all again: measured with the server's imports, ≈ 220,000 objects and ≈ 130 ms a pass,
against ≈ 15 ms for everything a film of 10,000 takes adds. Those passes come every few writes
of a large manifest, and each one stalls whatever runs then (an answer, an event).

The young generation is collected every `YOUNG` new objects rather than Python's 700: parsing
and filing a take makes thousands of short-lived objects, none in cycles that matter, and a
worker spent about 5% of its CPU a quick take in those passes (two worker processes, one take
a submit, three pairs in turns on a disk in memory: 2.75/2.73/2.67 → 2.60/2.57/2.55 ms a take,
360/362/368 → 369/381/379 takes/s).
"""

from __future__ import annotations

import gc
import logging
import time

#: New objects (allocations less deallocations) between two passes over the young generation.
YOUNG = 20_000
#: What a process logs once it froze (`freeze_startup`'s answer, formatted).
FROZEN = "%s: %d start-up objects left out of the garbage collector's passes (%.0f ms)"


def freeze_startup() -> tuple[int, float]:
    """Collect once, then leave every object alive now out of later passes (`gc.freeze`), and
    pass over the young generation every `YOUNG` new objects.

    What is made afterwards is collected as before; what was frozen is still freed when nothing
    refers to it (only a cycle among frozen objects would stay). The number of objects frozen
    and the milliseconds it took.
    """
    start = time.perf_counter()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, older, oldest)
    return gc.get_freeze_count(), (time.perf_counter() - start) * 1000


def freeze_and_say(log: logging.Logger, who: str) -> None:
    """`freeze_startup`, and log what `who` (the server, a worker, a pool process) froze."""
    count, took = freeze_startup()
    log.info(FROZEN, who, count, took)
