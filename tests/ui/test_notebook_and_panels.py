"""A notebook and the studio's panels see each other's work live, through the same services."""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import Page, expect

from tests.ui.conftest import Lab, Screenshots, run_notebook
from tests.ui.test_story import show_panel, tree_item, tree_items


def test_notebook_takes_appear_in_the_panels_and_panel_takes_in_the_notebook(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    name = f"Both ways {secrets.token_hex(3)}"
    run_notebook(
        page,
        lab,
        "both-ways.ipynb",
        [
            "from gms_lab import Studio\n"
            f"studio = Studio({str(lab.workspace)!r})\n"
            f"film = studio.create_project({name!r}, quality='low')\n"
            "shot = film.chapter('Act 1').scene('Pier').shot('Gulls')\n"
            "film.id, shot.id",
            "task = shot.generate('slow', seconds=4)",
            "shot.gallery()",
        ],
    )

    # the notebook made the project: open it in the Project Browser
    deadline = time.monotonic() + 60
    while True:
        found = [p for p in lab.api("GET", "projects")["projects"] if p["name"] == name]
        if found:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    project_id = found[0]["id"]
    show_panel(page, ".jp-SideBar.jp-mod-left", "gms-project-browser")
    picker = page.locator('[data-testid="gms-project-picker"]')
    picker.focus()  # opening the picker shows the projects made meanwhile
    expect(picker.locator(f'option[value="{project_id}"]')).to_have_count(1, timeout=20_000)
    picker.select_option(project_id)
    show_panel(page, ".jp-SideBar.jp-mod-right", "gms-progress")

    # notebook → panels: its task runs live in the Progress Area, its take lands in the tree
    running = page.locator('[data-testid="gms-tasks-running"] [data-testid="gms-task"]')
    expect(running.first).to_be_visible(timeout=30_000)
    step = running.first.locator('[data-testid="gms-task-step"]')
    expect(step).to_contain_text("step", timeout=20_000)
    screenshots.take(page, "notebook-task-in-progress-area")
    expect(tree_items(page, "take")).to_have_count(1, timeout=30_000)
    shot = lab.api("GET", f"projects/{project_id}")["chapters"][0]["scenes"][0]["shots"][0]
    expect(tree_item(page, shot["takes"][0]["id"])).to_be_visible()
    screenshots.take(page, "notebook-take-in-tree")

    # panels → notebook: a take asked for through the studio's API shows up in the gallery
    gallery = page.locator(".gms-gallery .gms-take")
    expect(gallery).to_have_count(1, timeout=30_000)
    lab.api(
        "POST",
        "tasks/submit",
        json={
            "projectId": project_id,
            "nodeId": shot["id"],
            "pipeline": "slow",
            "parameters": {"seconds": 0},
        },
    )
    expect(gallery).to_have_count(2, timeout=30_000)
    expect(tree_items(page, "take")).to_have_count(2, timeout=30_000)
    gallery.first.scroll_into_view_if_needed()
    screenshots.take(page, "panel-take-in-notebook-gallery")

    # picking a take in the notebook's gallery is the shot's selection everywhere
    second = lab.api("GET", f"projects/{project_id}")["chapters"][0]["scenes"][0]["shots"][0]
    wanted = second["takes"][1]["id"]
    page.locator(f'.gms-gallery .gms-take[data-take-id="{wanted}"]').click()
    deadline = time.monotonic() + 20
    while (
        lab.api("GET", f"projects/{project_id}")["chapters"][0]["scenes"][0]["shots"][0][
            "selectedTake"
        ]
        != wanted
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    expect(tree_item(page, wanted)).to_contain_text("★", timeout=20_000)
    screenshots.take(page, "gallery-pick-in-tree")
