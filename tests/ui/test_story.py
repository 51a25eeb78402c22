"""The issue's story, end to end in Chromium: from an empty studio to a chosen take.

Open JupyterLab → the studio's panels are there → create "Harbour" → add a chapter, a scene and a
shot → drop two character images from the desktop and watch them upload → edit the shot in the
Inspector → generate takes (toolbar, context menu, command palette) and watch the live bar → see
the takes in the tree and the main view → compare two and select one → a file copied in from a
terminal shows up by itself → reload: the same project, selection and layout come back. Then the
same studio in the dark theme. Every step keeps a screenshot under test-results/ui/<test>/.
"""

from __future__ import annotations

import base64
import contextlib
import io
import random
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw, ImageFilter
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import TOKEN, Lab, Screenshots, open_lab, set_theme
from tests.ui.uplink import SlowUplink

PROJECT = "harbour"  # the slug of "Harbour"
SHOT = "Wide on the harbour"
LEFT = ".jp-SideBar.jp-mod-left"
RIGHT = ".jp-SideBar.jp-mod-right"
PERCENT = re.compile(r"^\d{1,3}%$")
PAINTING = re.compile(r"^painting \d+/\d+")  # the still pipeline's step text
LOADED = "img => img.complete && img.naturalWidth > 0"


@pytest.fixture
def uplink(lab: Lab) -> Iterator[SlowUplink]:
    """A relay in front of JupyterLab whose uplink the test can slow down."""
    relay = SlowUplink(int(lab.url.rsplit(":", 1)[1]))
    yield relay
    relay.close()


# --- what the user sees and does -------------------------------------------------------------


def tree_item(page: Page, node_id: str) -> Locator:
    """A row of the Project Browser's tree."""
    return page.locator(f'#gms-project-browser .gms-TreeItem[data-node-id="{node_id}"]')


def tree_items(page: Page, kind: str) -> Locator:
    """The tree's rows of one kind."""
    return page.locator(f'#gms-project-browser .gms-TreeItem[data-kind="{kind}"]')


#: The studio's side bars and their stacked sections.
SIDEBAR_OF = {
    "gms-project-browser": "gms-browsers",
    "gms-asset-browser": "gms-browsers",
    "gms-inspector": "gms-sidebar",
    "gms-progress": "gms-sidebar",
}


def sidebar_tab(page: Page, side: str, widget_id: str) -> Locator:
    """The tab of a side bar (of the side bar holding the section `widget_id`)."""
    container = SIDEBAR_OF.get(widget_id, widget_id)
    return page.locator(f'{side} .lm-TabBar-tab[data-id="{container}"]')


def section_title(page: Page, widget_id: str) -> Locator:
    """The title bar of a side bar's section (click it to collapse or expand the section)."""
    container = SIDEBAR_OF[widget_id]
    return page.locator(f'#{container} .lm-AccordionPanel-title[aria-controls="{widget_id}"]')


def show_panel(page: Page, side: str, widget_id: str) -> None:
    """Show a side bar section: its side bar's tab, and the section expanded if collapsed."""
    tab = sidebar_tab(page, side, widget_id)
    current = re.compile(r"\blm-mod-current\b")
    for _ in range(3):  # a click that met a side bar opening by itself closed it: click again
        if "lm-mod-current" in (tab.get_attribute("class") or ""):
            break
        tab.click()
        with contextlib.suppress(AssertionError):
            expect(tab).to_have_class(current, timeout=2_000)
    expect(tab).to_have_class(current)
    if widget_id in SIDEBAR_OF and not page.locator(f"#{widget_id}").is_visible():
        section_title(page, widget_id).click()
    expect(page.locator(f"#{widget_id}")).to_be_visible()


def shown_panels(page: Page) -> dict[str, str | None]:
    """Which panel each sidebar shows (None when collapsed)."""
    shown: dict[str, str | None] = page.evaluate(
        """() => Object.fromEntries(['left', 'right'].map(side => {
            const tab = document.querySelector(
                `.jp-SideBar.jp-mod-${side} .lm-TabBar-tab.lm-mod-current`);
            return [side, tab ? tab.dataset.id : null];
        }))"""
    )
    return shown


def accept_dialog(page: Page, label: str) -> None:
    """Press the dialog's accept button ("Create", "Add", "Generate") and see it close."""
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text=label).click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def name_new_node(page: Page, name: str) -> None:
    """Type the name in the open "Add …" dialog and confirm."""
    page.locator(".jp-Dialog input").fill(name)
    accept_dialog(page, "Add")


def generate_in_dialog(
    page: Page, parameters: dict[str, Any], screenshots: Screenshots | None = None
) -> None:
    """In the Generate dialog: the `still` pipeline, these parameters, Generate."""
    dialog = page.locator('[data-testid="gms-generate-dialog"]')
    expect(dialog).to_be_visible()
    dialog.locator('[data-testid="gms-generate-pipeline"]').select_option("still")
    for name, value in parameters.items():
        dialog.locator(f'[data-parameter="{name}"]').fill(str(value))
    if screenshots:
        screenshots.take(page, "generate-dialog")
    accept_dialog(page, "Generate")


def toast(page: Page, kind: str, text: str, timeout: float = 10_000) -> Locator:
    """Wait for a JupyterLab notification of `kind` with `text` to have slid in.

    (A notification updated in place, as an export's "Exporting…" becoming "… is ready", keeps
    the class it was made with; its toast type class is the new one.)
    """
    found = page.locator(f".jp-Notification-Toast-{kind}, .Toastify__toast--{kind}", has_text=text)
    expect(found).to_be_visible(timeout=timeout)
    page.wait_for_function(
        """el => { const box = el.getBoundingClientRect();
                  return box.left >= 0 && box.right <= window.innerWidth; }""",
        arg=found.element_handle(),
    )
    return found


def dismiss_toasts(page: Page) -> None:
    """Close the notifications, as a user does once they are read.

    (Headless Chromium has no window focus, so JupyterLab's toasts never time out by themselves.)
    """
    page.locator(".jp-Notification-Toast-Close").evaluate_all(
        "buttons => buttons.forEach(button => button.click())"
    )
    expect(page.locator(".Toastify__toast")).to_have_count(0)


def wait_loaded(page: Page, images: Locator) -> None:
    """Wait until each <img> shows real pixels."""
    for image in images.all():
        page.wait_for_function(LOADED, arg=image.element_handle())


def record_changes(page: Page, panel: str, rows: str, fields: dict[str, str]) -> None:
    """Record each distinct state of the rows in a panel, at every DOM change (no sampling gaps).

    `fields` maps a name to a JS expression of `row` (e.g. the bar's value, the step's text).
    """
    getters = ", ".join(f"{name}: (row => {expr})(row)" for name, expr in fields.items())
    page.evaluate(
        f"""() => {{
            window.__gmsSeen = [];
            const panel = document.getElementById({panel!r});
            const record = () => {{
                for (const row of panel.querySelectorAll({rows!r})) {{
                    const state = {{ id: row.dataset.taskId || row.dataset.uploadId,
                                     status: row.dataset.status, {getters} }};
                    const key = JSON.stringify(state);
                    if (!window.__gmsSeen.some(seen => JSON.stringify(seen) === key)) {{
                        window.__gmsSeen.push(state);
                    }}
                }}
            }};
            window.__gmsObserver?.disconnect();
            window.__gmsObserver = new MutationObserver(record);
            window.__gmsObserver.observe(panel, {{
                subtree: true, childList: true, characterData: true, attributes: true }});
        }}"""
    )


def recorded(page: Page) -> list[dict[str, Any]]:
    """What `record_changes` saw, in order."""
    seen: list[dict[str, Any]] = page.evaluate(
        "() => { window.__gmsObserver?.disconnect(); return window.__gmsSeen; }"
    )
    return seen


def drop_files(
    page: Page,
    target: Locator,
    files: list[tuple[str, bytes]],
    screenshots: Screenshots | None = None,
) -> None:
    """Drag files from the desktop onto `target`: File objects in a DataTransfer, as the OS does."""
    payload = [{"name": name, "data": base64.b64encode(data).decode()} for name, data in files]
    transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, {type: 'image/png'}));
            }
            return transfer;
        }""",
        payload,
    )
    target.dispatch_event("dragenter", {"dataTransfer": transfer})
    target.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(target).to_have_class(re.compile(r"\bgms-mod-dropTarget\b"))  # the drop zone lights up
    if screenshots:
        screenshots.take(page, "characters-drop-target")
    target.dispatch_event("drop", {"dataTransfer": transfer})


def saved_layout(lab: Lab) -> dict[str, Any]:
    """JupyterLab's saved workspace (layout and the studio's state), as a reload reads it."""
    answer = requests.get(
        f"{lab.url}/lab/api/workspaces/default",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    data: dict[str, Any] = answer.json().get("data", {})
    return data


def forget_layout(lab: Lab) -> None:
    """Start from a first visit: no saved JupyterLab workspace (other tests share the server)."""
    requests.delete(
        f"{lab.url}/lab/api/workspaces/default",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=10,
    )


def shot_of(lab: Lab) -> dict[str, Any]:
    """The story's shot as the server has it."""
    shot: dict[str, Any] = lab.api("GET", f"projects/{PROJECT}")["chapters"][0]["scenes"][0][
        "shots"
    ][0]
    return shot


# --- the pictures a user brings ----------------------------------------------------------------


def socket_send_buffer_max() -> int:
    """The most a TCP socket's send buffer grows to here (Linux's `tcp_wmem` maximum)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as fh:
            return int(fh.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


def character_png(seed: int, backdrop: tuple[int, int, int]) -> bytes:
    """A character sheet: a figure on a graded backdrop, with film grain, stored uncompressed.

    The browser's socket accepts as much as its send buffer holds at once and counts it as
    sent, so a file that fits in it shows no progress on the way however slow the uplink: the
    sheet is made tall enough to be 2 MiB larger than the largest send buffer of this machine.
    """
    width = 900
    height = max(1200, (socket_send_buffer_max() + 2 * 1024 * 1024) // (width * 3) + 1)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(c * (1 - 0.6 * shade) + 20 * shade) for c in backdrop),
        )
    draw.ellipse([340, 230, 560, 470], fill=(30, 28, 36))
    draw.rounded_rectangle([250, 500, 650, 1260], radius=120, fill=(30, 28, 36))
    image = image.filter(ImageFilter.GaussianBlur(2))
    grain = Image.frombytes("L", (width, height), random.Random(seed).randbytes(width * height))
    image = Image.blend(image, grain.convert("RGB"), 0.08)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def location_png() -> bytes:
    """A location plate, as someone would copy into the project from a terminal."""
    image = Image.new("RGB", (640, 360), (40, 70, 110))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 240, 640, 360], fill=(20, 40, 60))
    draw.polygon([(80, 240), (200, 120), (320, 240)], fill=(60, 60, 70))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- the story -------------------------------------------------------------------------------


def test_story_from_empty_studio_to_chosen_take(
    page: Page, lab: Lab, uplink: SlowUplink, screenshots: Screenshots
) -> None:
    started = time.monotonic()
    # The session's workspace is shared with other tests: start from no "Harbour".
    if any(p["id"] == PROJECT for p in lab.api("GET", "projects")["projects"]):
        lab.api("DELETE", f"projects/{PROJECT}")
    forget_layout(lab)
    characters = [
        ("mara.png", character_png(1, (200, 120, 90))),
        ("old-tom.png", character_png(2, (80, 130, 170))),
    ]
    # The browser reaches JupyterLab through a relay that can play a slow home uplink.
    browser_lab = Lab(f"http://127.0.0.1:{uplink.port}", lab.root, lab.workspace)
    # Whatever the user does, no studio request fails and the studio logs no error.
    failures: list[str] = []
    page.on(
        "response",
        lambda r: (
            failures.append(f"{r.request.method} {r.url} → {r.status}")
            if "/gms/" in r.url and r.status >= 400
            else None
        ),
    )
    page.on(
        "console",
        lambda m: (
            failures.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") and "gms" in m.text
            else None
        ),
    )

    # 1. Open JupyterLab: the studio's left panels and right panels are there.
    open_lab(page, browser_lab)
    for side, widget_id in [(LEFT, "gms-browsers"), (RIGHT, "gms-sidebar")]:
        expect(sidebar_tab(page, side, widget_id)).to_be_visible()
    # one side bar each side, both of its sections visible at once
    expect(page.locator("#gms-project-browser")).to_be_visible()  # shown on a first visit
    expect(page.locator("#gms-asset-browser")).to_be_visible()
    show_panel(page, RIGHT, "gms-inspector")
    expect(page.locator("#gms-progress")).to_be_visible()
    expect(page.locator(".jp-Launcher")).to_be_visible()
    screenshots.take(page, "lab-with-studio-panels")

    # 2. Create the project "Harbour": name and quality tier.
    page.locator('[data-testid="gms-new-project-button"]').click()
    page.locator('[data-testid="gms-new-project-name"]').fill("Harbour")
    page.locator('[data-testid="gms-new-project-quality"]').select_option("low")
    screenshots.take(page, "new-project-dialog")
    accept_dialog(page, "Create")
    toast(page, "success", 'Project "Harbour" created')
    expect(tree_item(page, PROJECT)).to_have_attribute("data-kind", "project")
    expect(tree_item(page, PROJECT)).to_contain_text("Harbour")
    expect(page.locator('[data-testid="gms-project-picker"]')).to_have_value(PROJECT)
    expect(page.locator("#gms-studio")).to_be_visible()  # the studio opens on the new project
    manifest = lab.api("GET", f"projects/{PROJECT}")
    assert (manifest["name"], manifest["quality"]) == ("Harbour", "low")
    screenshots.take(page, "project-created")
    dismiss_toasts(page)

    # 3. Add a chapter, a scene and a shot in the Project Browser (button, "+", context menu).
    page.locator('[data-testid="gms-add-first-chapter"]').click()
    name_new_node(page, "Arrival")
    chapter = tree_items(page, "chapter")
    expect(chapter).to_contain_text("Arrival")
    expect(chapter).to_have_attribute("aria-selected", "true")
    chapter.locator('[data-testid="gms-tree-add"]').click()
    name_new_node(page, "Dawn at the quay")
    scene = tree_items(page, "scene")
    expect(scene).to_contain_text("Dawn at the quay")
    scene.click(button="right")
    page.locator(".lm-Menu-item", has_text="Add Shot…").click()
    name_new_node(page, SHOT)
    shot = tree_items(page, "shot")
    expect(shot).to_contain_text(SHOT)
    expect(shot).to_have_attribute("aria-selected", "true")
    shot_id = shot.get_attribute("data-node-id")
    assert shot_id
    manifest = lab.api("GET", f"projects/{PROJECT}")
    assert [c["name"] for c in manifest["chapters"]] == ["Arrival"]
    assert [s["name"] for s in manifest["chapters"][0]["scenes"]] == ["Dawn at the quay"]
    assert [s["id"] for s in manifest["chapters"][0]["scenes"][0]["shots"]] == [shot_id]
    studio = page.locator("#gms-studio")
    expect(
        studio.locator(f'[data-testid="gms-shot-card"][data-node-id="{shot_id}"]')
    ).to_be_visible()
    screenshots.take(page, "chapter-scene-shot")

    # 4. Drag two images from the desktop onto Characters; watch the upload progress.
    show_panel(page, LEFT, "gms-asset-browser")
    show_panel(page, RIGHT, "gms-progress")
    category = page.locator('#gms-asset-browser [data-category="characters"]')
    record_changes(
        page,
        "gms-progress",
        '[data-testid="gms-upload"]',
        {"text": "row.querySelector('.gms-Upload-status').textContent"},
    )
    uplink.rate = 1.5 * 1024 * 1024  # bytes per second: a slow home uplink
    drop_files(page, category, characters, screenshots)
    uploading = category.locator('[data-testid="gms-upload"][data-status="uploading"]')
    expect(uploading).to_have_count(2)
    expect(page.locator('#gms-progress [data-testid="gms-upload"]')).to_have_count(2)
    expect(uploading.first.locator(".gms-Upload-status")).to_have_text(PERCENT)
    page.wait_for_function(  # part of the way there
        """() => [...document.querySelectorAll('#gms-progress .gms-Upload-status')]
                 .some(el => /^([1-9]\\d?)%$/.test(el.textContent))"""
    )
    screenshots.take(page, "characters-uploading")
    assets = category.locator('[data-testid="gms-asset-item"]')
    expect(assets).to_have_count(2, timeout=30_000)
    uplink.rate = None
    expect(
        page.locator('#gms-progress [data-testid="gms-upload"][data-status="done"]')
    ).to_have_count(2)
    percents = {
        int(state["text"][:-1]) for state in recorded(page) if PERCENT.match(state["text"] or "")
    }
    assert len([p for p in percents if 0 < p < 100]) >= 3, percents  # the bars moved
    wait_loaded(page, assets.locator("img"))
    listed = lab.api("GET", f"projects/{PROJECT}/assets")["categories"]
    assert sorted(a["name"] for a in listed["characters"]) == ["mara.png", "old-tom.png"]
    screenshots.take(page, "characters-uploaded")

    # 5. Select the shot: the Inspector shows its properties; change its duration, see it saved.
    show_panel(page, LEFT, "gms-project-browser")
    show_panel(page, RIGHT, "gms-inspector")
    tree_item(page, shot_id).click()
    form = page.locator('#gms-inspector [data-testid="gms-inspector-form"]')
    expect(form).to_have_attribute("data-kind", "shot")
    expect(page.locator('[data-testid="gms-inspector-title"]')).to_have_text("Shot")
    expect(form.locator('[data-testid="gms-field-name"]')).to_have_value(SHOT)
    duration = form.locator('[data-testid="gms-field-duration"]')
    expect(duration).to_have_value(str(shot_of(lab)["duration"]).removesuffix(".0"))
    duration.fill("4.5")
    expect(form.locator('[data-testid="gms-inspector-status"]')).to_have_attribute(
        "data-state", "edited"
    )
    save = form.locator('[data-testid="gms-inspector-save"]')
    save.click()
    expect(form.locator('[data-testid="gms-inspector-status"]')).to_have_text("✓ Saved")
    expect(save).to_be_disabled()
    expect(duration).to_have_value("4.5")
    assert shot_of(lab)["duration"] == 4.5
    expect(studio.locator('[data-testid="gms-shot-card"]')).to_contain_text("4.5s")
    screenshots.take(page, "inspector-duration-saved")

    # 6. Generate a take from the toolbar: a live bar with the pipeline's steps, a notification.
    show_panel(page, RIGHT, "gms-progress")
    record_changes(
        page,
        "gms-progress",
        '[data-testid="gms-task"]',
        {
            "value": "row.querySelector('progress').value",
            "step": "row.querySelector('[data-testid=\"gms-task-step\"]').textContent",
        },
    )
    studio.locator('.jp-Toolbar [data-command="gms:generate-take"]').click()
    # Full size, supersampled, 60 passes: a few seconds, long enough to watch the bar move.
    generate_in_dialog(
        page,
        {
            "prompt": "harbour at dawn, fog over the sea",
            "seed": 7,
            "steps": 60,
            "scale": 1,
            "supersample": 2,
        },
        screenshots,
    )
    running = page.locator(
        '#gms-progress [data-testid="gms-tasks-running"] [data-testid="gms-task"]'
    )
    expect(running).to_have_count(1)
    expect(running.locator('[data-testid="gms-task-step"]')).to_have_text(PAINTING, timeout=20_000)
    expect(tree_items(page, "take")).to_have_count(1)  # the shot opened on its coming take
    screenshots.take(page, "take-1-generating")
    toast(page, "success", f"Take 1 of {SHOT} is ready", timeout=60_000)
    seen = [s for s in recorded(page) if s["value"] is not None]
    # the take's own task: the row whose step text is the still pipeline's (other rows, such as a
    # finished upload's housekeeping, are not this bar)
    take_task = next(s["id"] for s in seen if PAINTING.match(s["step"] or ""))
    states = [s for s in seen if s["id"] == take_task]
    values = [s["value"] for s in states]
    painted = {s["step"] for s in states if PAINTING.match(s["step"] or "")}
    assert len(painted) >= 3, states  # the step text changed live
    assert len({v for v in values if 0 < v < 1}) >= 3, states  # the bar moved live
    assert values == sorted(values), states
    recent = page.locator('#gms-progress [data-testid="gms-tasks-recent"] [data-testid="gms-task"]')
    expect(recent.first).to_have_attribute("data-status", "completed")
    screenshots.take(page, "take-1-ready-notification")
    dismiss_toasts(page)

    # 7. The take is under the shot in the tree, and in the main view with its thumbnail.
    takes = shot_of(lab)["takes"]
    assert [t["status"] for t in takes] == ["completed"]
    take1 = takes[0]["id"]
    expect(tree_item(page, take1)).to_have_attribute("data-kind", "take")
    expect(tree_item(page, take1)).to_contain_text("Take 1")
    strip = studio.locator('[data-testid="gms-take"]')
    expect(strip).to_have_count(1)
    thumb = studio.locator(f'[data-testid="gms-take"][data-take-id="{take1}"] img')
    wait_loaded(page, thumb)
    picture = takes[0].get("thumbnail") or takes[0]["file"]  # its thumbnail once there is one
    assert picture.rsplit("/", 1)[-1] in (thumb.get_attribute("src") or ""), picture
    wait_loaded(page, studio.locator('[data-testid="gms-shot-card"] img'))
    screenshots.take(page, "take-1-in-tree-and-studio")

    # 8. A second take from the context menu, a third from the command palette.
    tree_item(page, shot_id).click(button="right")
    page.locator(".lm-Menu-item", has_text="Generate Take…").click()
    generate_in_dialog(page, {"prompt": "harbour at sunset, boats", "seed": 11})
    toast(page, "success", f"Take 2 of {SHOT} is ready", timeout=60_000)
    dismiss_toasts(page)
    tree_item(page, shot_id).click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("Generate Take")
    expect(palette.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text(
        "Generate Take"
    )
    screenshots.take(page, "command-palette")
    page.keyboard.press("Enter")
    generate_in_dialog(page, {"prompt": "harbour at night, lights on the water", "seed": 3})
    toast(page, "success", f"Take 3 of {SHOT} is ready", timeout=60_000)
    dismiss_toasts(page)
    takes = shot_of(lab)["takes"]
    assert [t["status"] for t in takes] == ["completed"] * 3
    assert [t["parameters"].get("seed") for t in takes] == [7, 11, 3]
    take2 = takes[1]["id"]
    expect(strip).to_have_count(3)
    expect(tree_items(page, "take")).to_have_count(3)
    wait_loaded(page, strip.locator("img"))

    # 9. Compare two takes side by side and make one the selected take.
    compare = studio.locator('[data-testid="gms-compare"]')
    for take_id in (take1, take2):
        thumb = studio.locator(f'[data-testid="gms-take"][data-take-id="{take_id}"]')
        if "gms-mod-compared" not in (thumb.get_attribute("class") or ""):
            thumb.click()
    expect(compare).to_have_class(re.compile(r"\bgms-mod-two\b"))
    side_by_side = compare.locator(".gms-Compare-item")
    expect(side_by_side).to_have_count(2)
    assert {c.get_attribute("data-take-id") for c in side_by_side.all()} == {take1, take2}
    wait_loaded(page, side_by_side.locator("img"))
    boxes = [c.bounding_box() for c in side_by_side.all()]
    assert boxes[0] and boxes[1] and abs(boxes[0]["y"] - boxes[1]["y"]) < 1  # side by side
    screenshots.take(page, "compare-two-takes")
    compare.locator(f'[data-take-id="{take2}"] [data-testid="gms-select-take"]').click()
    expect(compare.locator(f'[data-take-id="{take2}"]')).to_contain_text("Selected")
    expect(tree_item(page, take2).locator(".gms-mod-chosen")).to_be_visible()
    expect(tree_item(page, take1).locator(".gms-mod-chosen")).to_have_count(0)
    assert shot_of(lab)["selectedTake"] == take2
    screenshots.take(page, "take-2-selected")

    # 10. A file copied into 01_Assets/Locations from a terminal appears within a second.
    show_panel(page, LEFT, "gms-asset-browser")
    locations = page.locator('#gms-asset-browser [data-category="locations"]')
    expect(locations.locator('[data-testid="gms-asset-item"]')).to_have_count(0)
    plate = lab.root.parent / "quay-plate.png"
    plate.write_bytes(location_png())
    copied = time.monotonic()
    shutil.copy(
        plate, lab.workspace / "Projects" / PROJECT / "01_Assets" / "Locations" / "quay.png"
    )
    arrived = locations.locator('[data-testid="gms-asset-item"][data-path$="quay.png"]')
    expect(arrived).to_be_visible(timeout=1_500)
    assert time.monotonic() - copied < 1.5
    wait_loaded(page, arrived.locator("img"))
    screenshots.take(page, "terminal-copy-appears")

    # 11. Reload: the same project, selection and panel layout come back.
    show_panel(page, LEFT, "gms-project-browser")
    tree_item(page, take2).click()
    show_panel(page, RIGHT, "gms-inspector")
    expect(page.locator('[data-testid="gms-take-details"]')).to_be_visible()
    layout = shown_panels(page)
    assert layout == {"left": "gms-browsers", "right": "gms-sidebar"}, layout

    def layout_saved() -> bool:
        saved = saved_layout(lab)
        selection = (saved.get("gms-lab:studio") or {}).get("selection") or {}
        right = (saved.get("layout-restorer:data") or {}).get("right") or {}
        return selection.get("id") == take2 and right.get("current") == "gms-sidebar"

    deadline = time.monotonic() + 10  # JupyterLab saves the workspace a moment after a change
    while not layout_saved():
        assert time.monotonic() < deadline, saved_layout(lab)
        time.sleep(0.1)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    expect(page.locator('[data-testid="gms-project-picker"]')).to_have_value(PROJECT)
    expect(tree_item(page, take2)).to_have_attribute("aria-selected", "true", timeout=30_000)
    expect(page.locator('[data-testid="gms-inspector-title"]')).to_have_text("Take")
    expect(page.locator('[data-testid="gms-inspector-chosen"]')).to_be_visible()
    expect(page.locator("#gms-studio")).to_be_visible()
    assert shown_panels(page) == layout
    wait_loaded(page, page.locator('#gms-studio [data-testid="gms-take"] img'))
    screenshots.take(page, "after-reload")

    # 12. The same studio in the dark theme.
    set_theme(page, "JupyterLab Dark")
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    panel_background = page.evaluate(
        "() => getComputedStyle(document.getElementById('gms-inspector')).backgroundColor"
    )
    assert panel_background != "rgb(255, 255, 255)", panel_background
    tree_item(page, shot_id).click()
    expect(page.locator('#gms-inspector [data-testid="gms-inspector-form"]')).to_be_visible()
    for take_id in (take1, take2):
        thumb = studio.locator(f'[data-testid="gms-take"][data-take-id="{take_id}"]')
        if "gms-mod-compared" not in (thumb.get_attribute("class") or ""):
            thumb.click()
    tree_item(page, shot_id).click()
    expect(compare.locator(".gms-Compare-item")).to_have_count(2)
    screenshots.take(page, "dark-shot-inspector-compare")
    show_panel(page, LEFT, "gms-asset-browser")
    screenshots.take(page, "dark-assets")
    show_panel(page, LEFT, "gms-project-browser")
    tree_item(page, take1).click()
    details = page.locator('[data-testid="gms-take-details"]')
    expect(details).to_be_visible()
    wait_loaded(page, details.locator("img"))
    screenshots.take(page, "dark-take-details")
    # "Generate again" from the Inspector: the dialog starts from take 1's parameters.
    details.locator("button", has_text="Generate Again").click()
    expect(
        page.locator('[data-testid="gms-generate-dialog"] [data-parameter="steps"]')
    ).to_have_value("60")
    accept_dialog(page, "Generate")
    show_panel(page, RIGHT, "gms-progress")
    expect(running.locator('[data-testid="gms-task-step"]')).to_have_text(PAINTING, timeout=20_000)
    screenshots.take(page, "dark-progress-generating")
    toast(page, "success", f"Take 4 of {SHOT} is ready", timeout=60_000)
    dismiss_toasts(page)
    assert [t["status"] for t in shot_of(lab)["takes"]] == ["completed"] * 4
    screenshots.take(page, "dark-progress-done")
    set_theme(page, "JupyterLab Light")
    assert failures == []
    assert time.monotonic() - started < 120
