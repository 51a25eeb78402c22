"""A user deletes a shot and a take from the Project Browser, reads what the dialog promises,
finds them in the Trash (palette, context menu), restores one and deletes the other forever.

Real JupyterLab in headless Chromium, a real worker; screenshots under test-results/ui/<test>/.
"""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import Page, expect

from tests.ui.conftest import Lab, Screenshots, open_lab, set_theme
from tests.ui.test_story import (
    LEFT,
    accept_dialog,
    dismiss_toasts,
    forget_layout,
    show_panel,
    toast,
    tree_item,
    tree_items,
)


def wait_for_take(lab: Lab, project_id: str, task_id: str) -> str:
    """The id of the take of a task, once it is completed."""
    deadline = time.monotonic() + 60
    while True:
        shot = lab.api("GET", f"projects/{project_id}")["chapters"][0]["scenes"][0]["shots"][0]
        for take in shot["takes"]:
            if take["taskId"] == task_id and take["status"] == "completed":
                return str(take["id"])
        assert time.monotonic() < deadline, shot
        time.sleep(0.2)


def expand(page: Page, node_id: str) -> None:
    """Open a node of the tree (select it, then the right arrow key), as a user does."""
    row = tree_item(page, node_id)
    expect(row).to_be_visible(timeout=20_000)
    if row.get_attribute("aria-expanded") != "true":
        row.click()
        page.keyboard.press("ArrowRight")
        expect(row).to_have_attribute("aria-expanded", "true")


def test_delete_to_the_trash_and_restore_from_it(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    name = f"Quay {secrets.token_hex(3)}"
    project_id = lab.api("POST", "projects", json={"name": name})["id"]
    parent = None
    ids = {}
    for kind, node_name in (("chapter", "Act 1"), ("scene", "Dawn"), ("shot", "Pier")):
        body = {"kind": kind, "parentId": parent, "name": node_name}
        parent = ids[kind] = lab.api("POST", f"projects/{project_id}/nodes", json=body)["id"]
    boat = lab.api(
        "POST",
        f"projects/{project_id}/nodes",
        json={"kind": "shot", "parentId": ids["scene"], "name": "Boat"},
    )["id"]
    task = lab.api(
        "POST",
        "tasks/submit",
        json={"projectId": project_id, "nodeId": ids["shot"], "pipeline": "slow"},
    )["taskId"]
    take = wait_for_take(lab, project_id, task)

    forget_layout(lab)
    open_lab(page, lab)
    show_panel(page, LEFT, "gms-project-browser")
    picker = page.locator('[data-testid="gms-project-picker"]')
    picker.focus()
    expect(picker.locator(f'option[value="{project_id}"]')).to_have_count(1, timeout=20_000)
    picker.select_option(project_id)
    expand(page, ids["scene"])
    expect(tree_item(page, ids["shot"])).to_be_visible(timeout=20_000)

    # 1. Delete the shot "Pier" from its context menu: the dialog says where it goes
    tree_item(page, ids["shot"]).click(button="right")
    page.locator(".lm-Menu-item", has_text="Move to Trash…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text('Move shot "Pier" to the trash?')
    expect(dialog).to_contain_text("restore it from the Trash")
    expect(dialog).not_to_contain_text("git history")
    screenshots.take(page, "move-shot-to-trash-dialog")
    accept_dialog(page, "Move to Trash")
    expect(tree_item(page, ids["shot"])).to_have_count(0, timeout=20_000)
    expect(tree_items(page, "shot")).to_have_count(1)
    toast(page, "info", 'Shot "Pier" is in the trash.')
    dismiss_toasts(page)

    # 2. Open the Trash from the command palette: the shot, with where it was and its take
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("Open Trash")
    expect(palette.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text("Open Trash")
    page.keyboard.press("Enter")
    trash = page.locator('[data-testid="gms-trash"]')
    expect(trash).to_be_visible()
    row = trash.locator(".gms-TrashItem", has_text="Shot “Pier”")
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text(f"in {name} \u203a Act 1 \u203a Dawn")
    expect(row).to_contain_text("1 take")
    expect(trash).to_contain_text("kept 30 days")
    screenshots.take(page, "trash-with-the-shot")

    # 3. Restore it from the row's context menu: it is back in the tree, first in its scene
    row.click(button="right")
    page.locator(".lm-Menu-item", has_text="Restore").click()
    expect(row).to_have_count(0, timeout=20_000)
    expect(tree_item(page, ids["shot"])).to_be_visible(timeout=20_000)
    shots = lab.api("GET", f"projects/{project_id}")["chapters"][0]["scenes"][0]["shots"]
    assert [s["id"] for s in shots] == [ids["shot"], boat]
    assert [t["id"] for t in shots[0]["takes"]] == [take]
    screenshots.take(page, "shot-restored")

    # 4. Delete the shot "Boat" with the Delete key, and take it back with the toast's Undo
    show_panel(page, LEFT, "gms-project-browser")
    tree_item(page, boat).click()
    page.keyboard.press("Delete")
    accept_dialog(page, "Move to Trash")
    expect(tree_item(page, boat)).to_have_count(0, timeout=20_000)
    undo = toast(page, "info", 'Shot "Boat" is in the trash.')
    screenshots.take(page, "undo-toast")
    undo.locator("button", has_text="Undo").click()
    expect(tree_item(page, boat)).to_be_visible(timeout=20_000)
    dismiss_toasts(page)

    # 5. Delete the take, then delete it forever from the Trash (a confirmation first)
    show_panel(page, LEFT, "gms-project-browser")
    expand(page, ids["scene"])
    expand(page, ids["shot"])
    expect(tree_item(page, take)).to_be_visible(timeout=20_000)
    tree_item(page, take).click(button="right")
    page.locator(".lm-Menu-item", has_text="Move to Trash…").click()
    expect(page.locator(".jp-Dialog")).to_contain_text("Its file, sidecar and thumbnail")
    accept_dialog(page, "Move to Trash")
    expect(tree_item(page, take)).to_have_count(0, timeout=20_000)
    toast(page, "info", 'Take "Take 1" is in the trash.')
    dismiss_toasts(page)
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Trash").click()
    expect(trash).to_be_visible()
    take_row = trash.locator(".gms-TrashItem", has_text="Take 1")
    expect(take_row).to_be_visible(timeout=20_000)
    set_theme(page, "JupyterLab Dark")
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=20_000)
    screenshots.take(page, "trash-dark-theme")
    take_row.locator("button", has_text="Delete Forever").click()
    expect(page.locator(".jp-Dialog")).to_contain_text("cannot be undone")
    accept_dialog(page, "Delete Forever")
    expect(take_row).to_have_count(0, timeout=20_000)
    assert lab.api("GET", "trash", params={"projectId": project_id})["items"] == []
    # other tests' deletions are in the workspace's trash too: this project's part is empty
    trash.get_by_role("radio", name="This project").check()
    expect(trash).to_contain_text("The trash is empty")
    screenshots.take(page, "trash-empty")
    set_theme(page, "JupyterLab Light")
