"""In JupyterLab, a notebook's progress widget moves live while a take is generated."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page

from tests.ui.conftest import Lab, Screenshots, run_notebook


def test_progress_widget_moves_live_in_jupyterlab(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    run_notebook(
        page,
        lab,
        "widget.ipynb",
        [
            "from gms_lab import Studio\n"
            f"studio = Studio({str(lab.workspace)!r})\n"
            "film = studio.create_project('Widget Film', exist_ok=True)\n"
            "shot = film.chapter('Act 1').scene('Dawn').shot('Wide')",
            # the cell returns at once: the widget must keep moving from the kernel's loop
            "task = shot.generate('slow', seconds=6)",
        ],
    )
    bar = page.locator(".gms-progress .gms-bar").first
    bar.wait_for(timeout=60_000)
    screenshots.take(page, "widget-shown")
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = int(bar.get_attribute("aria-valuenow") or "0")
        if not seen or value != seen[-1]:
            seen.append(value)
            if len(seen) == 3:
                screenshots.take(page, "widget-moving")
                # a running step reads as plain text; only a failure's message is red
                # (read in one go: the widget redraws its elements as it moves)
                colours = page.evaluate(
                    """() => {
                        const el = document.querySelector('.gms-progress .gms-task__step');
                        const probe = document.createElement('span');
                        probe.style.color = 'var(--jp-error-color1)';
                        el.appendChild(probe);
                        const red = getComputedStyle(probe).color;
                        probe.remove();
                        return [getComputedStyle(el).color, red];
                    }"""
                )
                assert colours[0] != colours[1], colours
        status = page.locator(".gms-progress .gms-task__status").first.inner_text()
        if status == "completed":
            break
        time.sleep(0.1)
    screenshots.take(page, "widget-completed")
    assert status == "completed"
    intermediate = [v for v in seen if 0 < v < 100]
    assert len(intermediate) >= 3, seen  # it moved live, step by step
    assert seen == sorted(seen)
    step = page.locator(".gms-progress .gms-task__step").first.inner_text()
    assert re.match(r"(step \d+/\d+|done)", step), step
    projects = lab.api("GET", "projects")["projects"]
    assert any(p["name"] == "Widget Film" for p in projects)
    assert json.dumps(seen)
