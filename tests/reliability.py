"""Figures of the fault and fuzz suites (faults injected, changes lost, 5xx seen, …).

Tests call `tally`; the root conftest prints every figure at the end of the run, so one run of
`make test` tells how hard the studio was pushed and what it lost.
"""

from __future__ import annotations

from collections import Counter

#: figure name → count, for the whole test session (insertion order is the printing order)
FIGURES: Counter[str] = Counter()


def tally(figure: str, n: int = 1) -> None:
    """Add `n` to a figure (`n=0` makes a figure show even when nothing happened)."""
    FIGURES[figure] += n


def summary() -> list[str]:
    """One line per figure, in the order they were first tallied."""
    return [f"{name}: {count}" for name, count in FIGURES.items()]
