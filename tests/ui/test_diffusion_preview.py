"""Real generation from the UI: the diffusion pipeline on the library's model, previewed live.

A filmmaker opens the Generate dialog: the diffusion pipeline is offered with the models of the
workspace's `Library/AI_Models/`, and a pipeline whose packages are missing is listed but
disabled, with what to install. They generate a take: while the denoiser runs, the take's tile
shows the pipeline's latest latent preview (downloaded through the files API), and the final
image replaces it when the take is made. In the light theme, then the dark one; every step keeps
a screenshot under test-results/ui/<test>/.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gms_lab.tasks.execute import PREVIEWS_LINGER
from tests.model_library import build_tiny_sd
from tests.services import wait_until
from tests.ui.conftest import Lab, Screenshots, open_lab, set_theme
from tests.ui.test_story import accept_dialog, dismiss_toasts, show_panel, toast, tree_item

pytest.importorskip("diffusers", reason="the diffusion extra is not installed")

LEFT = ".jp-SideBar.jp-mod-left"
LOADED = "img => img.complete && img.naturalWidth > 0"
#: Enough work that the denoiser runs a few seconds on a CPU: 24 steps at 160x160, a preview
#: every 3 steps (the pipeline sends one every ceil(steps / 8) steps).
SIZE, STEPS = 160, 24


@pytest.fixture(scope="module")
def tiny_sd(lab: Lab) -> Path:
    """The tiny random-weight model in the lab workspace's model library."""
    folder = lab.workspace / "Library" / "AI_Models" / "tiny-sd"
    if not (folder / "model_index.json").is_file():
        build_tiny_sd(folder)
    return folder


def film(lab: Lab) -> tuple[str, str]:
    """A new project with one shot, made through the API: (project id, shot id)."""
    project = lab.api("POST", "projects", json={"name": f"Lighthouse {secrets.token_hex(3)}"})
    pid = project["id"]
    chapter = lab.api("POST", f"projects/{pid}/nodes", json={"kind": "chapter", "name": "Act 1"})
    scene = lab.api(
        "POST",
        f"projects/{pid}/nodes",
        json={"kind": "scene", "parentId": chapter["id"], "name": "Night"},
    )
    shot = lab.api(
        "POST",
        f"projects/{pid}/nodes",
        json={"kind": "shot", "parentId": scene["id"], "name": "The beam sweeps"},
    )
    return pid, shot["id"]


def takes_of(lab: Lab, pid: str) -> list[dict[str, Any]]:
    takes: list[dict[str, Any]] = lab.api("GET", f"projects/{pid}")["chapters"][0]["scenes"][0][
        "shots"
    ][0]["takes"]
    return takes


def watch_previews(page: Page) -> None:
    """Record every preview picture the take strip shows, as the page shows it."""
    page.evaluate(
        """() => {
            window.__gmsPreviews = [];
            const tiles = '#gms-studio [data-testid="gms-take"]';
            const note = () => document
                .querySelectorAll(`${tiles} [data-testid="gms-take-preview"]`)
                .forEach(img => {
                    const src = img.getAttribute('src');
                    const tile = img.closest('[data-testid="gms-take"]');
                    const seen = window.__gmsPreviews;
                    if (!seen.length || seen[seen.length - 1].src !== src) {
                        const { takeId, status } = tile.dataset;
                        seen.push({ src, take: takeId, status });
                    }
                });
            new MutationObserver(note).observe(document.body, {
                subtree: true, childList: true, attributes: true, attributeFilter: ['src']
            });
        }"""
    )


def generate_with_diffusion(
    page: Page, lab: Lab, pid: str, seed: int, screenshots: Screenshots, theme: str
) -> str:
    """Generate one take with the diffusion pipeline from the dialog; its take id."""
    before = {t["id"] for t in takes_of(lab, pid)}
    page.locator('#gms-studio [data-testid="gms-generate-take"]').click()
    dialog = page.locator('[data-testid="gms-generate-dialog"]')
    expect(dialog).to_be_visible()

    # the pipeline whose packages are missing is listed, disabled, with what to install
    picker = dialog.locator('[data-testid="gms-generate-pipeline"]')
    unplugged = picker.locator('option[value="unplugged"]')
    expect(unplugged).to_be_disabled()
    expect(unplugged).to_contain_text("unavailable")
    assert "gms_module_nobody_installed" in (unplugged.get_attribute("title") or "")
    note = dialog.locator('[data-testid="gms-generate-unavailable"] li[data-pipeline="unplugged"]')
    expect(note).to_be_visible()
    expect(note).to_contain_text("gms_module_nobody_installed is not installed")
    expect(note).to_contain_text("pip install gms-module-nobody-installed")
    expect(picker.locator('option[value="diffusion"]')).to_be_enabled()

    # the diffusion pipeline, with the library's models to choose from
    picker.select_option("diffusion")
    models = dialog.locator('[data-testid="gms-generate-model"]')
    expect(models.locator('option[value="tiny-sd"]')).to_have_count(1)
    expect(models.locator('option[value="tiny-sd"]')).to_contain_text("stable-diffusion-1")
    expect(models.locator('option[value=""]')).to_contain_text("tiny-sd (default")
    models.select_option("tiny-sd")
    # a frame size off the multiple of 8 is refused as it is typed
    width = dialog.locator('[data-parameter="width"]')
    width.fill("100")
    expect(width.locator("xpath=..").locator("small")).to_have_text("Width must be a multiple of 8")
    for name, value in {
        "prompt": "a lighthouse beam over a stormy sea",
        "seed": seed,
        "steps": STEPS,
        "width": SIZE,
        "height": SIZE,
    }.items():
        dialog.locator(f'[data-parameter="{name}"]').fill(str(value))
    expect(width.locator("xpath=..").locator("small")).not_to_have_class("gms-mod-error")
    screenshots.take(page, f"{theme}-generate-dialog-diffusion")
    accept_dialog(page, "Generate")

    # the coming take's tile shows the pipeline's latest preview while the denoiser runs
    new = page.locator(
        '#gms-studio [data-testid="gms-take"][data-status="generating"]'
        ' [data-testid="gms-take-preview"]'
    )
    expect(new).to_have_count(1, timeout=120_000)
    page.wait_for_function(LOADED, arg=new.element_handle(), timeout=30_000)
    src = new.get_attribute("src") or ""
    assert "/files/05_Cache/previews/" in src, src
    screenshots.take(page, f"{theme}-take-preview-while-denoising")

    [take_id] = {t["id"] for t in takes_of(lab, pid)} - before
    tile = page.locator(f'#gms-studio [data-testid="gms-take"][data-take-id="{take_id}"]')
    toast(page, "success", "is ready", timeout=180_000)
    expect(tile).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(tile.locator('[data-testid="gms-take-preview"]')).to_have_count(0)
    final = tile.locator("img")
    expect(final).to_have_count(1)
    page.wait_for_function(LOADED, arg=final.element_handle(), timeout=30_000)
    # the take's own picture: its file, or the thumbnail the worker makes of it soon after
    [made] = [t for t in takes_of(lab, pid) if t["id"] == take_id]
    final_src = final.get_attribute("src") or ""
    pictures = [p for p in (made["file"], made.get("thumbnail")) if p]
    assert "/05_Cache/previews/" not in final_src, final_src
    assert any(final_src.endswith(p.rsplit("/", 1)[-1]) for p in pictures), (final_src, made)
    screenshots.take(page, f"{theme}-final-image-replaced-the-preview")
    dismiss_toasts(page)
    return take_id


def test_diffusion_from_the_dialog_with_a_live_preview_in_the_take_tile(
    page: Page, lab: Lab, tiny_sd: Path, screenshots: Screenshots
) -> None:
    pid, _ = film(lab)
    failures: list[str] = []
    page.on(
        "response",
        lambda r: (
            failures.append(f"{r.request.method} {r.url} → {r.status}")
            if "/gms/" in r.url and r.status >= 400 and "/05_Cache/previews/" not in r.url
            else None
        ),
    )
    open_lab(page, lab)
    set_theme(page, "JupyterLab Light")
    show_panel(page, LEFT, "gms-project-browser")
    project_picker = page.locator('[data-testid="gms-project-picker"]')
    project_picker.focus()  # opening the picker shows the projects made meanwhile
    expect(project_picker.locator(f'option[value="{pid}"]')).to_have_count(1, timeout=20_000)
    project_picker.select_option(pid)
    expect(tree_item(page, pid)).to_be_visible()
    # the launcher's card opens the Studio, on the project's first scene and shot
    page.locator(".jp-LauncherCard", has_text="Generative Studio").click()
    expect(page.locator("#gms-studio")).to_be_visible()
    expect(page.locator('#gms-studio [data-testid="gms-generate-take"]')).to_be_enabled()
    watch_previews(page)

    first = generate_with_diffusion(page, lab, pid, 5, screenshots, "light")
    set_theme(page, "JupyterLab Dark")
    second = generate_with_diffusion(page, lab, pid, 6, screenshots, "dark")

    # the tiles showed a moving preview: several pictures per take, all while it was generating
    seen: list[dict[str, str]] = page.evaluate("() => window.__gmsPreviews")
    for take in (first, second):
        shown = [s for s in seen if s["take"] == take]
        assert len({s["src"] for s in shown}) >= 2, seen
        assert {s["status"] for s in shown} == {"generating"}, seen
    takes = {t["id"]: t for t in takes_of(lab, pid)}
    for take in (first, second):
        assert takes[take]["status"] == "completed" and takes[take]["pipeline"] == "diffusion"
        assert takes[take]["parameters"]["model"] == "tiny-sd"
    # the previews go with their tasks (once a client told of the last had time to fetch it):
    # nothing is left in the project's cache
    previews = lab.workspace / "Projects" / pid / "05_Cache" / "previews"
    wait_until(lambda: not list(previews.glob("*/*")), PREVIEWS_LINGER + 30)
    assert failures == []
