"""An editor's hand-off from the panels: export a scene from the Project Browser's context menu,
find it in the Asset Browser's Exports, and play the animatic in the Studio's main area.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.ui.conftest import TOKEN, Lab, Screenshots, open_lab, set_theme
from tests.ui.test_story import dismiss_toasts, show_panel, toast, tree_item

pytestmark = pytest.mark.ui
LEFT, RIGHT = ".jp-SideBar.jp-mod-left", ".jp-SideBar.jp-mod-right"


def wait_task(lab: Lab, task_id: str) -> dict[str, object]:
    """Poll a task to its end (setup only: the test itself waits on what the user sees)."""
    deadline = time.monotonic() + 90
    while True:
        record: dict[str, object] = lab.api("GET", f"tasks/{task_id}/status")
        if record["status"] in ("completed", "error", "cancelled"):
            assert record["status"] == "completed", record
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.1)


def scene_with_takes(lab: Lab) -> tuple[str, str, list[str]]:
    """A project "Harbour …" at 320x180 whose scene Dawn has two shots with a take and one
    without: (project id, scene id, shot ids)."""
    project = lab.api(
        "POST", "projects", json={"name": f"Harbour {secrets.token_hex(3)}", "quality": "low"}
    )
    pid = project["id"]
    lab.api(
        "PATCH",
        f"projects/{pid}",
        json={"settings": {"fps": 24, "resolution": {"width": 320, "height": 180}}},
    )
    chapter = lab.api("POST", f"projects/{pid}/nodes", json={"kind": "chapter", "name": "Act 1"})
    scene = lab.api(
        "POST",
        f"projects/{pid}/nodes",
        json={"kind": "scene", "parentId": chapter["id"], "name": "Dawn"},
    )
    shots = []
    for name, prompt in (("Quay", "a quay at dawn"), ("Gulls", None), ("Pier", "the pier")):
        shot = lab.api(
            "POST",
            f"projects/{pid}/nodes",
            json={"kind": "shot", "parentId": scene["id"], "name": name, "duration": 1.0},
        )
        shots.append(shot["id"])
        if prompt:
            accepted = lab.api(
                "POST",
                "tasks/submit",
                json={
                    "projectId": pid,
                    "nodeId": shot["id"],
                    "pipeline": "still",
                    "parameters": {"prompt": prompt, "width": 320, "height": 180},
                },
            )
            wait_task(lab, accepted["taskId"])
    return pid, scene["id"], shots


def test_export_a_scene_from_the_context_menu_and_play_the_animatic(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    pid, scene_id, _ = scene_with_takes(lab)
    open_lab(page, lab)
    page.locator('[data-testid="gms-project-picker"]').select_option(pid)
    expect(tree_item(page, scene_id)).to_contain_text("Dawn")

    # Right-click the scene: Export ▸ Animatic.
    tree_item(page, scene_id).click(button="right")
    page.locator(".lm-Menu-item", has_text="Export").first.hover()
    submenu = page.locator("#gms-export-menu")
    expect(submenu).to_be_visible()
    for label in ("Animatic", "OpenTimelineIO", "EDL", "Final Cut Pro 7 XML", "Storyboard"):
        expect(submenu.locator(".lm-Menu-item", has_text=label)).to_be_visible()
    screenshots.take(page, "export-context-menu")
    submenu.locator(".lm-Menu-item", has_text="Animatic").click()

    # It runs as a task; the notice names the export (not a take) and its gap.
    done = toast(page, "success", "Animatic of Dawn is ready", timeout=90_000)
    expect(done).to_contain_text("06_Exports/animatic-dawn.mp4")
    expect(done).to_contain_text("1 shot without a picture")
    # the "Exporting…" notice became this one: it does not linger beside it
    expect(page.locator(".Toastify__toast", has_text="Exporting")).to_have_count(0)
    screenshots.take(page, "export-ready-notice")
    done.locator("button", has_text="Play").click()
    dismiss_toasts(page)

    # The animatic plays in the Studio's main area.
    view = page.locator('[data-testid="gms-export-view"]')
    expect(view).to_have_attribute("data-kind", "animatic")
    player = view.locator('[data-testid="gms-export-player"]')
    player.evaluate("video => video.play()")
    page.wait_for_function(
        "video => video.readyState >= 2 && video.currentTime > 0 && video.videoWidth === 320",
        arg=player.element_handle(),
        timeout=30_000,
    )
    duration = player.evaluate("video => video.duration")
    assert duration == pytest.approx(3.0, abs=0.1)  # three shots of a second, the gap included
    expect(view.locator('[data-testid="gms-export-gaps"]')).to_contain_text("Gulls")
    player.evaluate("video => { video.pause(); video.currentTime = 0.5; }")
    page.wait_for_function(
        "video => !video.seeking && video.readyState >= 2", arg=player.element_handle()
    )
    screenshots.take(page, "animatic-playing-in-studio")

    # The Asset Browser lists it under Exports, with its kind, and it downloads.
    show_panel(page, LEFT, "gms-asset-browser")
    row = page.locator('[data-testid="gms-export-row"][data-kind="animatic"]')
    expect(row).to_contain_text("Scene Dawn")
    expect(row.locator('[data-testid="gms-export-kind"]')).to_have_text("Animatic")
    link = row.locator('[data-testid="gms-export-download"]').get_attribute("href")
    assert link
    answer = requests.get(link, headers={"Authorization": f"token {TOKEN}"}, timeout=30)
    assert answer.ok and answer.content[4:8] == b"ftyp"

    # The boards from the same menu: listed next to it, shown in the main area.
    show_panel(page, LEFT, "gms-project-browser")
    tree_item(page, scene_id).click(button="right")
    page.locator(".lm-Menu-item", has_text="Export").first.hover()
    page.locator("#gms-export-menu .lm-Menu-item", has_text="Storyboard").click()
    toast(page, "success", "Boards of Dawn is ready", timeout=90_000)
    dismiss_toasts(page)
    show_panel(page, LEFT, "gms-asset-browser")
    boards = page.locator('[data-testid="gms-export-row"][data-kind="boards"]')
    boards.dblclick()
    expect(view).to_have_attribute("data-kind", "boards")
    image = view.locator("img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 1000", arg=image.element_handle()
    )
    # the Inspector shows the selected export, and can make it again
    show_panel(page, RIGHT, "gms-inspector")
    details = page.locator('[data-testid="gms-export-details"]')
    expect(details).to_contain_text("boards-dawn.pdf")
    expect(details).to_contain_text("Gulls (1 s)")
    expect(page.locator('[data-testid="gms-inspector-title"]')).to_have_text("Export")
    expect(page.locator(".gms-Inspector .gms-Subject-name")).to_have_text("Boards of Scene Dawn")
    expect(details.locator('[data-testid="gms-inspector-export-again"]')).to_be_enabled()
    set_theme(page, "JupyterLab Dark")
    screenshots.take(page, "boards-in-studio-dark")
    set_theme(page, "JupyterLab Light")
    assert Path(lab.workspace / "Projects" / pid / "06_Exports" / "boards-dawn.pdf").is_file()
