"""A user makes takes with ComfyUI templates from the studio and watches ComfyUI work in the tile.

JupyterLab, Redis and a worker are real; ComfyUI is the replay of the recorded transcripts
(`tests/comfyui_replay.py`), with the recorded workflows as the library's templates.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.comfyui_replay import ComfyReplay, check, replay_server
from tests.services import Worker, redis_server, studio_config
from tests.ui.conftest import Lab, Screenshots, open_lab, running_lab
from tests.ui.test_story import accept_dialog, dismiss_toasts, show_panel, toast, tree_item

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "comfyui" / "templates"
LEFT = ".jp-SideBar.jp-mod-left"
RIGHT = ".jp-SideBar.jp-mod-right"
COUNTED = re.compile(r"^GMS Slow Noise \(probe\) \d+/20$")


@pytest.fixture(scope="module")
def replay() -> Iterator[ComfyReplay]:
    with replay_server() as server:
        yield server


@pytest.fixture(scope="module")
def comfy_lab(tmp_path_factory: Any, replay: ComfyReplay) -> Iterator[Lab]:
    """A studio pointed at the replayed ComfyUI: its own Redis, worker and JupyterLab."""
    workspace = tmp_path_factory.mktemp("comfy-ui-workspace")
    library = workspace / "Library" / "Pipeline_Templates"
    library.mkdir(parents=True)
    for path in TEMPLATES.iterdir():
        if path.suffix in (".json", ".toml"):
            shutil.copy(path, library / path.name)
    with redis_server(tmp_path_factory.mktemp("comfy-ui-redis")) as url:
        config = studio_config(workspace, comfyui_url=replay.url)
        worker = Worker(config, url, workspace.parent / "comfy-ui-worker.log").start()
        try:
            setting = f"--GMSLab.comfyui_url={replay.url}"
            with running_lab(url, workspace, tmp_path_factory, setting) as lab:
                yield lab
        finally:
            worker.stop()


def test_a_take_from_a_comfyui_template_shows_comfyuis_progress_and_previews(
    page: Page, comfy_lab: Lab, replay: ComfyReplay, screenshots: Screenshots
) -> None:
    lab = comfy_lab
    project = lab.api("POST", "projects", json={"name": "Pier", "quality": "standard"})
    pid = project["id"]
    chapter = lab.api("POST", f"projects/{pid}/nodes", json={"kind": "chapter", "name": "One"})
    scene = lab.api(
        "POST",
        f"projects/{pid}/nodes",
        json={"kind": "scene", "parentId": chapter["id"], "name": "Night"},
    )
    shot = lab.api(
        "POST",
        f"projects/{pid}/nodes",
        json={"kind": "shot", "parentId": scene["id"], "name": "Static on the pier"},
    )
    config = lab.api("GET", "workspace/config")
    assert config["health"]["comfyui"]["ok"] and config["health"]["comfyui"]["version"] == "0.3.64"

    open_lab(page, lab)
    show_panel(page, LEFT, "gms-project-browser")
    page.locator('[data-testid="gms-project-picker"]').select_option(pid)
    tree_item(page, scene["id"]).click()
    page.keyboard.press("ArrowRight")  # open the scene
    tree_item(page, shot["id"]).dblclick()  # select the shot, open the studio on it
    studio = page.locator("#gms-studio")
    expect(studio).to_be_visible()
    show_panel(page, RIGHT, "gms-progress")

    # 1. Generate: the ComfyUI pipeline, a template from the library, the recorded seed.
    scenario = replay.play("c2")
    studio.locator('.jp-Toolbar [data-command="gms:generate-take"]').click()
    dialog = page.locator('[data-testid="gms-generate-dialog"]')
    dialog.locator('[data-testid="gms-generate-pipeline"]').select_option("comfyui")
    picker = dialog.locator('[data-testid="gms-generate-template"]')
    expect(picker.locator("option")).to_contain_text(
        [
            "Slow noise — noise (library) — the standard tier's",
            "Slow noise with previews — noise-previews (library)",
        ]
    )
    picker.select_option("noise-previews")
    # the fields are the template's: its seed (node 1's), nothing it does not bind
    expect(dialog.locator("[data-parameter]")).to_have_count(2)
    seed = dialog.locator('[data-parameter="seed"]')
    # blank, the server draws a seed at random (the template's own 2 is not used): say so
    expect(seed).to_have_attribute("placeholder", "random")
    seed.fill("2")
    screenshots.take(page, "generate-dialog-with-template")
    accept_dialog(page, "Generate")

    # 2. The take's tile: ComfyUI's words and its preview picture, live.
    tile = studio.locator('[data-testid="gms-generating"]').first
    step = tile.locator('[data-testid="gms-take-step"]')
    expect(step).to_have_text(COUNTED, timeout=30_000)
    preview = tile.locator('[data-testid="gms-take-preview"]')
    expect(preview).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512",
        arg=preview.element_handle(),
        timeout=30_000,
    )
    screenshots.take(page, "tile-with-comfyui-progress-and-preview")
    running = page.locator('#gms-progress [data-testid="gms-task-step"]').first
    expect(running).to_contain_text("GMS Slow Noise (probe)")

    # 3. The recording holds no download of this run: the take fails, and says why.
    toast(page, "error", "did not deliver gms_noise_00002_.png", timeout=60_000)
    check(scenario, allowed=("GET /view?filename=gms_noise_00002_.png",))
    screenshots.take(page, "take-without-recorded-download")
    dismiss_toasts(page)

    # 4. A run the recording holds to its end: the take arrives, as ComfyUI saved it.
    scenario = replay.play("c1")
    studio.locator('.jp-Toolbar [data-command="gms:generate-take"]').click()
    dialog.locator('[data-testid="gms-generate-pipeline"]').select_option("comfyui")
    picker.select_option("noise")
    dialog.locator('[data-parameter="seed"]').fill("1")
    accept_dialog(page, "Generate")
    expect(studio.locator('[data-testid="gms-take-step"]').first).to_have_text(
        COUNTED, timeout=30_000
    )
    toast(page, "success", "is ready", timeout=60_000)
    check(scenario)
    takes = lab.api("GET", f"projects/{pid}")["chapters"][0]["scenes"][0]["shots"][0]["takes"]
    assert [t["status"] for t in takes] == ["error", "completed"]
    assert takes[1]["parameters"]["template"] == "noise"
    image = studio.locator(f'[data-testid="gms-take"][data-take-id="{takes[1]["id"]}"] img')
    expect(image).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    screenshots.take(page, "comfyui-take-ready")
