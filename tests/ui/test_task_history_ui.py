"""A film's task history is longer than a page: the Progress panel shows more on request."""

from __future__ import annotations

import secrets

import redis
from playwright.sync_api import Page, expect

from gms_lab.models import TaskRecord, TaskStatus, utcnow
from gms_lab.tasks.records import TaskRecords
from tests.ui.conftest import Lab, Screenshots, open_lab
from tests.ui.test_story import show_panel


def test_the_progress_panel_reads_older_tasks_a_page_at_a_time(
    page: Page, lab: Lab, redis_url: str, screenshots: Screenshots
) -> None:
    tag = secrets.token_hex(3)
    project = lab.api("POST", "projects", json={"name": f"History {tag}"})
    records = TaskRecords(redis.Redis.from_url(redis_url))
    for n in range(130):  # more than the server's first page (100)
        records.create(
            TaskRecord(
                task_id=f"h{n:04d}-{tag}",
                project_id=project["id"],
                node_id="sh_gone",
                pipeline="still",
                status=TaskStatus.completed,
                progress=1.0,
                step="done",
                finished=utcnow(),
            )
        )
    open_lab(page, lab)
    show_panel(page, ".jp-SideBar.jp-mod-left", "gms-project-browser")
    picker = page.locator('[data-testid="gms-project-picker"]')
    picker.focus()
    expect(picker.locator(f'option[value="{project["id"]}"]')).to_have_count(1, timeout=20_000)
    picker.select_option(project["id"])
    show_panel(page, ".jp-SideBar.jp-mod-right", "gms-progress")

    recent = page.locator('#gms-progress [data-testid="gms-tasks-recent"] [data-testid="gms-task"]')
    older = page.locator('#gms-progress [data-testid="gms-tasks-older"]')
    expect(recent).to_have_count(20, timeout=20_000)
    expect(older).to_be_visible()
    older.click()
    expect(recent).to_have_count(70)
    older.click()  # past the first page: the next one is read from the server
    expect(recent).to_have_count(120)
    older.click()
    expect(recent).to_have_count(130)
    expect(older).to_have_count(0)  # the whole history is shown
    screenshots.take(page, "progress-whole-history")
