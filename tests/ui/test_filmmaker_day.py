"""A filmmaker's day in the studio: both panels of each side at once, edits that are never lost,
shots that carry their prompt and references, assets managed, takes looked at properly, one
status per task everywhere, words that read and never clip.

Real JupyterLab in headless Chromium, a real worker; screenshots under test-results/ui/<test>/
at 1440x900 and 1280x720, light and dark.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import Lab, Screenshots, open_lab, set_theme
from tests.ui.test_story import (
    LEFT,
    RIGHT,
    accept_dialog,
    dismiss_toasts,
    forget_layout,
    saved_layout,
    section_title,
    show_panel,
    toast,
    tree_item,
)

SMALL = {"width": 1280, "height": 720}
LARGE = {"width": 1440, "height": 900}


def png(width: int, height: int, colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def make_film(lab: Lab, shots: list[tuple[str, str]]) -> tuple[str, str, list[str]]:
    """A project with a chapter, a scene and shots (name, prompt): (project, scene, shot ids)."""
    project_id = lab.api("POST", "projects", json={"name": f"Quay {secrets.token_hex(3)}"})["id"]
    chapter = lab.api(
        "POST", f"projects/{project_id}/nodes", json={"kind": "chapter", "name": "Arrival"}
    )["id"]
    scene = lab.api(
        "POST",
        f"projects/{project_id}/nodes",
        json={"kind": "scene", "parentId": chapter, "name": "Dawn"},
    )["id"]
    ids = [
        lab.api(
            "POST",
            f"projects/{project_id}/nodes",
            json={"kind": "shot", "parentId": scene, "name": name, "prompt": prompt},
        )["id"]
        for name, prompt in shots
    ]
    return project_id, scene, ids


def upload(lab: Lab, project_id: str, category: str, name: str, data: bytes) -> str:
    """Upload an asset; its project-relative path."""
    answer = lab.api(
        "POST",
        f"projects/{project_id}/files",
        params={"category": category, "name": name},
        data=data,
    )
    return str(answer["assets"][0]["path"])


def open_project(page: Page, lab: Lab, project_id: str, scene: str) -> None:
    """A first visit of the lab, with the project open, its scene expanded and both side bars
    shown."""
    forget_layout(lab)
    open_lab(page, lab)
    # a first visit shows both side bars
    expect(page.locator("#gms-project-browser")).to_be_visible(timeout=20_000)
    expect(page.locator("#gms-inspector")).to_be_visible()
    show_panel(page, LEFT, "gms-project-browser")
    page.locator('[data-testid="gms-project-picker"]').select_option(project_id)
    expect(tree_item(page, project_id)).to_be_visible(timeout=20_000)
    expand(page, scene)
    show_panel(page, RIGHT, "gms-inspector")


def expand(page: Page, node_id: str) -> None:
    """Open a node of the tree (select it, then the right arrow key), as a user does."""
    row = tree_item(page, node_id)
    expect(row).to_be_visible(timeout=20_000)
    if row.get_attribute("aria-expanded") != "true":
        row.click()
        page.keyboard.press("ArrowRight")
        expect(row).to_have_attribute("aria-expanded", "true")


def select_node(page: Page, node_id: str) -> None:
    """Select a row of the tree."""
    row = tree_item(page, node_id)
    expect(row).to_be_visible(timeout=20_000)
    row.click()
    expect(row).to_have_attribute("aria-selected", "true")


def set_range(slider: Locator, value: int) -> None:
    """Move a range input as a user does (React hears the input event)."""
    slider.evaluate(
        """(el, value) => {
            const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
            set.call(el, String(value));
            el.dispatchEvent(new Event('input', { bubbles: true }));
        }""",
        value,
    )


def kept(lab: Lab, key: str, check: Any) -> None:
    """Wait until JupyterLab has saved the workspace state `key` and `check(value)` holds."""
    deadline = time.monotonic() + 15
    while not check(saved_layout(lab).get(key)):
        assert time.monotonic() < deadline, saved_layout(lab).get(key)
        time.sleep(0.2)


def shots_of(lab: Lab, project_id: str) -> list[dict[str, Any]]:
    manifest = lab.api("GET", f"projects/{project_id}")
    shots: list[dict[str, Any]] = manifest["chapters"][0]["scenes"][0]["shots"]
    return shots


def wait_task(lab: Lab, task_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = lab.api("GET", f"tasks/{task_id}/status")
        if record["status"] in ("completed", "error", "cancelled"):
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.2)


def sidecar(lab: Lab, project_id: str, output: str) -> dict[str, Any]:
    path = lab.workspace / "Projects" / project_id / Path(output).with_suffix(".json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def drag(
    page: Page,
    source: Locator,
    target: Locator,
    during: Any = None,
    at: tuple[float, float] = (0.5, 0.5),
) -> None:
    """Drag `source` onto `target` with the mouse (HTML5 drag and drop, the pointer moving in
    steps as a hand does, so the target hears dragover), calling `during` while it is held
    there (to see the drop feedback). `at` is where on the target, as fractions of its box."""
    source.hover()
    page.mouse.down()
    box = target.bounding_box()
    assert box
    x, y = box["x"] + box["width"] * at[0], box["y"] + box["height"] * at[1]
    page.mouse.move(x, y, steps=8)
    page.mouse.move(x + 3, y + 1, steps=3)
    if during is not None:
        during()
    page.mouse.up()


def both_themes(page: Page, screenshots: Screenshots, step: str) -> None:
    """The same screen at 1440x900 and 1280x720, in the light theme then the dark one."""
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        set_theme(page, theme)
        for size, tag in ((LARGE, "1440"), (SMALL, "1280")):
            page.set_viewport_size(size)
            page.wait_for_timeout(300)  # the side bars lay out again
            screenshots.take(page, f"{step}-{tag}-{theme.split()[-1].lower()}")
    set_theme(page, "JupyterLab Light")
    page.set_viewport_size(LARGE)


def test_both_panels_of_each_side_at_once_and_their_layout_is_kept(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    project_id, scene, [shot] = make_film(lab, [("Wide", "fog over the quay")])
    open_project(page, lab, project_id, scene)

    # one side bar each side, its two sections stacked and visible at once
    boxes = {
        section: page.locator(f"#{section}").bounding_box()
        for section in ("gms-project-browser", "gms-asset-browser", "gms-inspector", "gms-progress")
    }
    for section, box in boxes.items():
        assert box and box["height"] > 60, (section, box)
    assert boxes["gms-asset-browser"]["y"] > boxes["gms-project-browser"]["y"]  # type: ignore[index]
    assert boxes["gms-progress"]["y"] > boxes["gms-inspector"]["y"]  # type: ignore[index]
    # the right side bar's tab is not JupyterLab's Running icon
    icon = "tab => tab.querySelector('svg')?.outerHTML"
    running = page.locator('.lm-TabBar-tab[data-id="jp-running-sessions"]').evaluate(icon)
    for tab in ("gms-sidebar", "gms-browsers"):
        assert page.locator(f'.lm-TabBar-tab[data-id="{tab}"]').evaluate(icon) != running
    select_node(page, shot)
    both_themes(page, screenshots, "both-sections-each-side")

    # collapse the Asset Browser, make the Inspector taller: both survive a reload
    section_title(page, "gms-asset-browser").click()
    expect(page.locator("#gms-asset-browser")).to_be_hidden()
    handle = page.locator("#gms-sidebar .lm-SplitPanel-handle").first
    grip = handle.bounding_box()
    assert grip
    before = page.locator("#gms-inspector").bounding_box()
    assert before
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + 1)
    page.mouse.down()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + 120, steps=8)
    page.mouse.up()
    taller = page.locator("#gms-inspector").bounding_box()
    assert taller and taller["height"] > before["height"] + 60, (before, taller)
    kept(lab, "gms-lab:layout:gms-browsers", lambda v: v and v["collapsed"] == [False, True])
    kept(lab, "gms-lab:layout:gms-sidebar", lambda v: v and v["sizes"][0] > 0.6)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    expect(page.locator("#gms-project-browser")).to_be_visible(timeout=20_000)
    expect(page.locator("#gms-asset-browser")).to_be_hidden()
    expect(section_title(page, "gms-asset-browser")).to_have_attribute("aria-expanded", "false")
    show_panel(page, RIGHT, "gms-inspector")
    after = page.locator("#gms-inspector").bounding_box()
    assert after and abs(after["height"] - taller["height"]) < 12, (taller, after)
    screenshots.take(page, "layout-after-reload")
    section_title(page, "gms-asset-browser").click()
    expect(page.locator("#gms-asset-browser")).to_be_visible()


def test_a_shot_made_from_its_prompt_and_a_dropped_asset(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    project_id, scene, shots = make_film(
        lab, [("Wide", "fog over the quay"), ("Gulls", "gulls over the sea at dawn")]
    )
    plate = upload(lab, project_id, "locations", "quay-plate.png", png(960, 240, "steelblue"))
    open_project(page, lab, project_id, scene)

    # an empty project name is said inside the dialog, and Create waits for one
    page.locator('[data-testid="gms-new-project-button"]').click()
    dialog = page.locator(".jp-Dialog")
    create = dialog.locator(".jp-Dialog-button.jp-mod-accept")
    expect(create).to_be_disabled()
    name = dialog.locator('[data-testid="gms-new-project-name"]')
    name.fill("x")
    name.fill("")
    hint = dialog.locator('[data-testid="gms-new-project-name-hint"]')
    expect(hint).to_have_text("A project needs a name.")
    expect(hint).to_have_class(re.compile(r"gms-mod-error"))
    expect(create).to_be_disabled()
    expect(dialog.locator('[data-testid="gms-new-project-quality-hint"]')).not_to_be_empty()
    screenshots.take(page, "empty-name-warned-in-dialog")
    dialog.locator(".jp-Dialog-button", has_text="Cancel").click()

    # the Inspector saves the prompt when the field is left, the style when another shot is
    # selected: nothing typed is lost
    select_node(page, shots[0])
    form = page.locator('#gms-inspector [data-testid="gms-inspector-form"]')
    prompt = form.locator('[data-testid="gms-field-prompt"]')
    expect(prompt).to_have_value("fog over the quay")
    prompt.fill("fog over the quay, a lantern")
    expect(form.locator('[data-testid="gms-inspector-status"]')).to_have_attribute(
        "data-state", "edited"
    )
    prompt.press("Tab")  # leaving the field saves it
    expect(form.locator('[data-testid="gms-inspector-status"]')).to_have_text("✓ Saved")
    assert shots_of(lab, project_id)[0]["prompt"] == "fog over the quay, a lantern"
    patches: list[str] = []

    def count_patches(request: Any) -> None:
        if request.method == "PATCH" and "/nodes/" in request.url:
            patches.append(request.url.split("?")[0].rsplit("/", 1)[-1])

    page.on("request", count_patches)
    form.locator('[data-testid="gms-field-style"]').fill("35mm film")
    tree_item(page, shots[1]).click()
    expect(form).to_have_attribute("data-kind", "shot")
    deadline = time.monotonic() + 10
    while shots_of(lab, project_id)[0]["style"] != "35mm film":
        assert time.monotonic() < deadline, shots_of(lab, project_id)[0]
        time.sleep(0.1)
    # ... once: leaving the field sent it, the form going away did not send it again (that
    # second save, against the old version, ended in a false "was not saved" warning)
    assert patches == [shots[0]], patches
    page.remove_listener("request", count_patches)

    # drag the plate from the Asset Browser onto the first shot in the tree: it is said while
    # held there, and the shot shows it as a reference
    show_panel(page, LEFT, "gms-asset-browser")
    asset = page.locator(f'#gms-asset-browser [data-testid="gms-asset-item"][data-path="{plate}"]')
    expect(asset).to_be_visible()
    held: list[str] = []

    def feedback() -> None:
        row = tree_item(page, shots[0])
        expect(row).to_have_class(re.compile(r"gms-mod-dropReference"))
        expect(row).to_contain_text("Add as Reference")
        screenshots.take(page, "asset-held-over-a-shot")
        held.append("seen")

    drag(page, asset, tree_item(page, shots[0]), feedback)
    assert held
    deadline = time.monotonic() + 10
    while shots_of(lab, project_id)[0]["references"] != [plate]:
        assert time.monotonic() < deadline, shots_of(lab, project_id)[0]
        time.sleep(0.1)
    expect(tree_item(page, shots[0]).locator('[data-testid="gms-tree-references"]')).to_have_text(
        "1"
    )
    select_node(page, shots[0])
    references = page.locator('#gms-inspector [data-testid="gms-references"]')
    expect(references.locator('[data-testid="gms-reference"]')).to_have_attribute(
        "data-path", plate
    )
    expect(references).to_contain_text("init image")
    # ... and onto the second shot's card in the storyboard
    page.evaluate("() => window.jupyterapp.commands.execute('gms:open-studio')")
    card = page.locator(f'#gms-studio [data-testid="gms-shot-card"][data-node-id="{shots[1]}"]')
    drag(
        page,
        asset,
        card,
        lambda: expect(card).to_have_class(re.compile(r"gms-mod-dropReference")),
    )
    expect(card.locator('[data-testid="gms-shot-references"]')).to_contain_text("1 reference")
    dismiss_toasts(page)
    both_themes(page, screenshots, "shot-with-prompt-style-references")

    # the Generate dialog starts from the shot: its prompt (with its style), "random" seed
    select_node(page, shots[0])
    page.locator('#gms-studio [data-testid="gms-generate-take"]').click()
    generate = page.locator('[data-testid="gms-generate-dialog"]')
    generate.locator('[data-testid="gms-generate-pipeline"]').select_option("still")
    expect(generate.locator('[data-parameter="prompt"]')).to_have_value(
        "fog over the quay, a lantern"
    )
    expect(generate).to_contain_text("with its style “35mm film” added")
    expect(generate.locator('[data-parameter="seed"]')).to_have_attribute("placeholder", "random")
    generate.locator('[data-parameter="steps"]').fill("3")
    description = generate.locator('[data-testid="gms-generate-description"]')
    assert description.evaluate("el => getComputedStyle(el).overflowY") == "auto"
    screenshots.take(page, "generate-dialog-from-the-shot")
    accept_dialog(page, "Generate")
    deadline = time.monotonic() + 90
    while True:
        takes = shots_of(lab, project_id)[0]["takes"]
        if takes and takes[-1]["status"] == "completed":
            break
        assert time.monotonic() < deadline, takes
        time.sleep(0.3)
    made = sidecar(lab, project_id, takes[-1]["file"])
    assert made["prompt"] == "fog over the quay, a lantern, 35mm film"
    assert made["references"] == [plate] and made["style"] == "35mm film"
    assert made["parameters"]["steps"] == 3

    # the dialog remembers this shot's pipeline and parameters (not the shot's own fields);
    # three takes at once, each its own task and seed
    page.locator('#gms-studio [data-testid="gms-generate-take"]').click()
    expect(generate.locator('[data-testid="gms-generate-pipeline"]')).to_have_value("still")
    expect(generate.locator('[data-parameter="steps"]')).to_have_value("3")
    count = generate.locator('[data-testid="gms-generate-count"]')
    expect(count).to_have_value("1")
    count.fill("3")
    generate.locator('[data-parameter="seed"]').fill("20")
    both_themes(page, screenshots, "three-takes-at-once")
    accept_dialog(page, "Generate")
    toast(page, "info", "3 takes of Wide queued")
    deadline = time.monotonic() + 90
    while True:
        takes = shots_of(lab, project_id)[0]["takes"]
        if len(takes) == 4 and all(t["status"] == "completed" for t in takes):
            break
        assert time.monotonic() < deadline, takes
        time.sleep(0.3)
    assert [t["seed"] for t in takes[1:]] == [20, 21, 22]
    assert all(t["parameters"]["steps"] == 3 for t in takes)
    for label in ("Take 2", "Take 3", "Take 4"):  # each one told apart
        toast(page, "success", f"{label} of Wide is ready")

    # "Generate all shots of this scene" (context menu): one take per shot, its own prompt
    dismiss_toasts(page)
    tree_item(page, scene).click(button="right")
    page.locator(".lm-Menu-item", has_text="Generate All 2 Shots…").click()
    expect(generate.locator('[data-testid="gms-generate-batch-note"]')).to_contain_text(
        "each of the 2 shots"
    )
    expect(generate.locator('[data-parameter="prompt"]')).to_have_count(0)
    generate.locator('[data-testid="gms-generate-pipeline"]').select_option("still")
    generate.locator('[data-parameter="steps"]').fill("2")
    screenshots.take(page, "generate-the-whole-scene")
    accept_dialog(page, "Generate All")
    deadline = time.monotonic() + 120
    while True:
        found = shots_of(lab, project_id)
        last = [shot["takes"][-1] if shot["takes"] else None for shot in found]
        if all(
            t and t["status"] == "completed" and t["parameters"].get("steps") == 2 for t in last
        ):
            break
        assert time.monotonic() < deadline, last
        time.sleep(0.3)
    prompts = [sidecar(lab, project_id, t["file"])["prompt"] for t in last if t]
    assert prompts == ["fog over the quay, a lantern, 35mm film", "gulls over the sea at dawn"]
    assert sidecar(lab, project_id, last[1]["file"])["references"] == [plate]  # type: ignore[index]
    screenshots.take(page, "scene-generated")


def test_assets_managed_and_takes_looked_at_properly(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    project_id, scene, shots = make_film(
        lab, [("Wide", "fog"), ("Gulls", "gulls"), ("Pier", "pier")]
    )
    wide = upload(lab, project_id, "locations", "harbour-panorama.png", png(960, 240, "navy"))
    tall = upload(lab, project_id, "characters", "mara.png", png(200, 320, "peru"))
    tasks = [
        lab.api(
            "POST",
            "tasks/submit",
            json={
                "projectId": project_id,
                "nodeId": shots[0],
                "pipeline": "still",
                "parameters": {"prompt": prompt, "steps": 2, "seed": seed},
            },
        )["taskId"]
        for prompt, seed in (("a quay at dawn", 1), ("a quay at night", 2))
    ]
    for task in tasks:
        assert wait_task(lab, task)["status"] == "completed"
    open_project(page, lab, project_id, scene)
    show_panel(page, LEFT, "gms-asset-browser")

    # thumbnails keep their aspect ratio: the panorama is a wide tile, the portrait a narrow one
    item = '#gms-asset-browser [data-testid="gms-asset-item"][data-path="{}"] img'
    wide_box = page.locator(item.format(wide)).bounding_box()
    tall_box = page.locator(item.format(tall)).bounding_box()
    page.wait_for_function(
        "sel => document.querySelector(sel)?.closest('li').style.getPropertyValue('--gms-aspect')",
        arg=item.format(wide),
    )
    wide_box = page.locator(item.format(wide)).locator("xpath=..").bounding_box()
    tall_box = page.locator(item.format(tall)).locator("xpath=..").bounding_box()
    assert wide_box and tall_box
    assert wide_box["width"] > 1.8 * wide_box["height"], wide_box
    assert tall_box["width"] < tall_box["height"], tall_box

    # a new folder (category header's context menu), an asset dragged into it, renamed (F2),
    # moved to the trash (Delete) with Undo
    page.locator('#gms-asset-browser [data-category="locations"] .gms-AssetCategory-header').click(
        button="right"
    )
    page.locator(".lm-Menu-item", has_text="New Folder…").click()
    page.locator(".jp-Dialog input").fill("Plates")
    accept_dialog(page, "Make Folder")
    folder = page.locator(
        '#gms-asset-browser [data-testid="gms-asset-folder"][data-folder="Plates"]'
    )
    expect(folder).to_contain_text("An empty folder.")
    panorama = page.locator(
        f'#gms-asset-browser [data-testid="gms-asset-item"][data-path="{wide}"]'
    )
    drag(page, panorama, folder.locator(".gms-AssetFolder-header"))
    moved = "01_Assets/Locations/Plates/harbour-panorama.png"
    expect(folder.locator(f'[data-testid="gms-asset-item"][data-path="{moved}"]')).to_be_visible()
    folder.locator('[data-testid="gms-asset-item"]').click()
    page.keyboard.press("F2")
    rename = page.locator(".jp-Dialog input")
    rename.fill("north-quay.png")
    accept_dialog(page, "Rename")
    renamed = '#gms-asset-browser [data-path="01_Assets/Locations/Plates/north-quay.png"]'
    expect(page.locator(renamed)).to_be_visible()
    screenshots.take(page, "assets-folder-moved-renamed")
    # moved to another category with the context menu's Move Asset…
    details = page.locator('#gms-inspector [data-testid="gms-asset-details"]')
    expect(details.locator("button", has_text="Move Asset…")).to_be_visible()
    expect(details.locator("img")).to_be_visible()
    page.locator(renamed).click(button="right")
    page.locator(".lm-Menu-item", has_text="Move Asset…").click()
    move = page.locator('[data-testid="gms-move-asset-dialog"]')
    move.locator('[data-testid="gms-move-category"]').select_option("styles")
    move.locator('[data-testid="gms-move-folder"]').fill("")
    screenshots.take(page, "move-asset-dialog")
    accept_dialog(page, "Move")
    restyled = "01_Assets/Styles/north-quay.png"
    expect(
        page.locator(f'#gms-asset-browser [data-category="styles"] [data-path="{restyled}"]')
    ).to_be_visible()
    assert (lab.workspace / "Projects" / project_id / restyled).is_file()
    mara = page.locator(f'#gms-asset-browser [data-testid="gms-asset-item"][data-path="{tall}"]')
    mara.click()
    page.keyboard.press("Delete")
    expect(mara).to_have_count(0)
    undo = page.locator(".jp-Notification-Toast-info", has_text="mara.png is in the trash")
    expect(undo).to_be_visible()
    trash = lab.api("GET", "trash", params={"projectId": project_id})["items"]
    assert [i["name"] for i in trash if i["kind"] == "asset"] == ["mara.png"]
    undo.locator("button", has_text="Undo").click()
    expect(mara).to_be_visible(timeout=20_000)
    dismiss_toasts(page)
    both_themes(page, screenshots, "asset-library-managed")

    # double-click a take: full size in the main area, zoom, pan, arrows through the takes
    page.evaluate("() => window.jupyterapp.commands.execute('gms:open-studio')")
    studio = page.locator("#gms-studio")
    studio.locator(f'[data-testid="gms-shot-card"][data-node-id="{shots[0]}"]').click()
    strip = studio.locator('[data-testid="gms-take"]')
    expect(strip).to_have_count(2)
    strip.first.dblclick()
    viewer = page.locator('[data-testid="gms-viewer"]')
    expect(viewer).to_be_visible()
    expect(viewer.locator('[data-testid="gms-viewer-position"]')).to_have_text("Take 1 of 2")
    expect(viewer.locator('[data-testid="gms-viewer-prompt"]')).to_have_text("a quay at dawn")
    image = viewer.locator('[data-testid="gms-viewer-image"]')
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    zoom = viewer.locator('[data-testid="gms-viewer-zoom"]')
    fitted = zoom.inner_text()
    viewer.locator('[data-testid="gms-viewer-zoom-in"]').click()
    expect(zoom).not_to_have_text(fitted)
    start = image.bounding_box()
    stage = viewer.locator('[data-testid="gms-viewer-stage"]').bounding_box()
    assert start and stage
    page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] / 2 + 80, stage["y"] + stage["height"] / 2 + 30)
    page.mouse.up()
    panned = image.bounding_box()
    assert panned and panned["x"] > start["x"] + 40, (start, panned)
    screenshots.take(page, "viewer-zoomed-and-panned")
    viewer.focus()
    page.keyboard.press("ArrowRight")
    expect(viewer.locator('[data-testid="gms-viewer-position"]')).to_have_text("Take 2 of 2")
    expect(viewer.locator('[data-testid="gms-viewer-prompt"]')).to_have_text("a quay at night")
    both_themes(page, screenshots, "take-viewer")

    # compare with a swipe, then an overlay
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Studio").click()
    for take in strip.all():
        if "gms-mod-compared" not in (take.get_attribute("class") or ""):
            take.click()
    compare = studio.locator('[data-testid="gms-compare"]')
    expect(compare).to_have_class(re.compile(r"gms-mod-two"))
    compare.locator('[data-testid="gms-compare-swipe"]').click()
    expect(compare).to_have_attribute("data-mode", "swipe")
    slider = compare.locator('[data-testid="gms-compare-slider"]')
    set_range(slider, 25)
    over = compare.locator('[data-testid="gms-compare-over"]')
    expect(over).to_have_attribute("style", re.compile(r"inset\(0(px)? 0(px)? 0(px)? 25%\)"))
    screenshots.take(page, "compare-swipe")
    compare.locator('[data-testid="gms-compare-overlay"]').click()
    set_range(slider, 40)
    expect(over).to_have_attribute("style", re.compile(r"opacity: 0\.4"))
    screenshots.take(page, "compare-overlay")

    # the storyboard's shots reorder by drag, as the tree's do
    cards = studio.locator('[data-testid="gms-shot-card"]')
    drag(page, cards.nth(2), cards.nth(0), at=(0.2, 0.5))
    deadline = time.monotonic() + 10
    while [s["id"] for s in shots_of(lab, project_id)] != [shots[2], shots[0], shots[1]]:
        assert time.monotonic() < deadline, [s["id"] for s in shots_of(lab, project_id)]
        time.sleep(0.1)
    expect(cards.first).to_have_attribute("data-node-id", shots[2])


def test_one_status_per_task_everywhere_and_words_that_read(
    page: Page, lab: Lab, screenshots: Screenshots
) -> None:
    project_id, scene, [shot] = make_film(lab, [("Wide", "fog")])
    done = lab.api(
        "POST",
        "tasks/submit",
        json={
            "projectId": project_id,
            "nodeId": shot,
            "pipeline": "paced",
            "parameters": {"steps": 3, "pause": 0.01},
        },
    )["taskId"]
    assert wait_task(lab, done)["status"] == "completed"
    open_project(page, lab, project_id, scene)
    show_panel(page, RIGHT, "gms-progress")
    select_node(page, shot)
    page.evaluate("() => window.jupyterapp.commands.execute('gms:open-studio')")

    # a take cancelled from the Progress panel reads "Cancelled" in the tree, strip and panel
    page.locator('#gms-studio [data-testid="gms-generate-take"]').click()
    generate = page.locator('[data-testid="gms-generate-dialog"]')
    generate.locator('[data-testid="gms-generate-pipeline"]').select_option("paced")
    generate.locator('[data-parameter="steps"]').fill("400")
    generate.locator('[data-parameter="pause"]').fill("0.05")
    accept_dialog(page, "Generate")
    running = page.locator(
        '#gms-progress [data-testid="gms-tasks-running"] [data-testid="gms-task"]'
    )
    expect(running).to_have_count(1, timeout=20_000)
    expect(running.locator('[data-testid="gms-task-step"]')).to_contain_text("step", timeout=20_000)
    running.locator('[data-testid="gms-task-cancel"]').click()
    recent = page.locator('#gms-progress [data-testid="gms-tasks-recent"]')
    cancelled = recent.locator('[data-testid="gms-task"][data-status="cancelled"]')
    expect(cancelled.locator('[data-testid="gms-task-step"]')).to_have_text(
        "Cancelled", timeout=30_000
    )
    takes = shots_of(lab, project_id)[0]["takes"]
    assert [t["status"] for t in takes] == ["completed", "cancelled"]
    cancelled_take = takes[1]["id"]
    expect(tree_item(page, cancelled_take)).to_contain_text("Cancelled")
    tile = page.locator(f'#gms-studio [data-testid="gms-take"][data-take-id="{cancelled_take}"]')
    expect(tile.locator('[data-testid="gms-take-state"]')).to_have_text("Cancelled")
    finished = recent.locator('[data-testid="gms-task"][data-status="completed"]')
    expect(finished.locator('[data-testid="gms-task-step"]')).to_have_text("Done")
    dismiss_toasts(page)
    both_themes(page, screenshots, "cancelled-everywhere")

    # after a reload, the same final states (not the last step each reached)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    show_panel(page, RIGHT, "gms-progress")
    expect(cancelled.locator('[data-testid="gms-task-step"]')).to_have_text(
        "Cancelled", timeout=30_000
    )
    expect(finished.locator('[data-testid="gms-task-step"]')).to_have_text("Done")
    show_panel(page, LEFT, "gms-project-browser")
    expand(page, scene)
    expand(page, shot)
    expect(tree_item(page, cancelled_take)).to_contain_text("Cancelled", timeout=20_000)
    screenshots.take(page, "final-states-after-reload")

    # the cancelled take is dismissed (to the trash); Recent is cleared, and stays so
    cancelled.locator('[data-testid="gms-task-dismiss"]').click()
    expect(tree_item(page, cancelled_take)).to_have_count(0)
    assert [t["status"] for t in shots_of(lab, project_id)[0]["takes"]] == ["completed"]
    recent.locator('[data-testid="gms-tasks-clear"]').click()
    expect(recent.locator('[data-testid="gms-task"]')).to_have_count(0)
    kept(lab, "gms-lab:memory", lambda v: v and project_id in v.get("cleared", {}))
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    show_panel(page, RIGHT, "gms-progress")
    expect(page.locator('[data-testid="gms-connection"]')).to_have_attribute(
        "data-state", "open", timeout=20_000
    )
    expect(recent.locator('[data-testid="gms-task"]')).to_have_count(0)
    dismiss_toasts(page)

    # words: the row "+" says what it does; quality tiers are described
    select_node(page, shot)
    add = tree_item(page, shot).locator('[data-testid="gms-tree-add"]')
    expect(add).to_have_attribute("title", "Generate Take…")
    expect(add).to_have_attribute("aria-label", "Generate Take…")
    tree_item(page, scene).click()
    expect(tree_item(page, scene).locator('[data-testid="gms-tree-add"]')).to_have_attribute(
        "title", "Add Shot…"
    )
    tree_item(page, project_id).click()
    quality_hint = page.locator('#gms-inspector [data-testid="gms-field-quality-hint"]')
    expect(quality_hint).to_contain_text("Full-size frames")

    # the light theme's orange marks read (WCAG AA); nothing clips at 1280x720
    page.set_viewport_size(SMALL)
    select_node(page, shot)
    ratio = page.locator("#gms-studio .gms-TakeThumb.gms-mod-chosen .gms-TakeThumb-label").evaluate(
        CONTRAST
    )
    assert ratio >= 4.5, ratio
    clipped = page.evaluate(CLIPPED)
    assert clipped == [], clipped
    screenshots.take(page, "words-at-1280")


#: The contrast ratio (WCAG) of an element's text colour against the background behind it.
CONTRAST = """el => {
    const rgb = c => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    let node = el, background = null;
    while (node && !background) {
        const c = getComputedStyle(node).backgroundColor;
        const parts = rgb(c);
        if (parts.length < 4 || parts[3] > 0) background = parts;
        node = node.parentElement;
    }
    background = background || [255, 255, 255];
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

#: Buttons and property values of the studio whose text is cut without an ellipsis and a
#: tooltip saying it whole.
CLIPPED = """() => {
    const out = [];
    const scope = '#gms-browsers, #gms-sidebar, #gms-studio';
    const items = document.querySelectorAll(
        `:is(${scope}) :is(button, .gms-Info dd, .gms-Task-step, .gms-TreeItem-label)`);
    for (const el of items) {
        if (!el.offsetParent || el.scrollWidth <= el.clientWidth + 1) continue;
        const style = getComputedStyle(el);
        const told = el.title || el.getAttribute('aria-label') || el.closest('[title]');
        if (style.textOverflow !== 'ellipsis' || !told) {
            out.push((el.className || el.tagName) + ': ' + el.textContent.trim().slice(0, 40));
        }
    }
    return out;
}"""
