"""Figures the reliability tests record (requests fuzzed, 5xx seen, faults injected, changes lost).

A test adds to a figure with `count("requests fuzzed", n)`; at the end of the run the terminal
summary (`pytest_terminal_summary` in `tests/conftest.py`) prints every figure recorded, and
writes them to `test-results/reliability.json` so the README's figures can be quoted from the
last run. Names are plain English, lower case; the same name from several tests adds up.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The figures of this run, in the order they were first recorded.
FIGURES: dict[str, int] = {}


def count(name: str, amount: int = 1) -> None:
    """Add `amount` to the figure `name` (created at 0)."""
    FIGURES[name] = FIGURES.get(name, 0) + amount


def report(folder: Path) -> list[str]:
    """The lines of the summary; also saves the figures as JSON in `folder`."""
    if not FIGURES:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reliability.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
    width = max(len(name) for name in FIGURES)
    return [f"{name:<{width}}  {value:>8,}" for name, value in FIGURES.items()]
