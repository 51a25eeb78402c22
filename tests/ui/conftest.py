"""Browser tests: a real `jupyter lab` with the studio, Redis and a worker, driven in Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from gms_lab.embedded import free_port
from tests.services import REPO, TEST_PIPELINES, Worker, wait_until

TOKEN = "ui-test-token"  # a throwaway server on loopback
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "test-results" / "ui"
# What a user waits for gets 10 s, not Playwright's 5: a CI machine that stalls for a few seconds
# (a disk flush, another suite's containers) is no failure of the studio. A check of how quickly
# something happens says its own timeout and measures the time itself.
expect.set_options(timeout=10_000)


class Lab:
    """A running JupyterLab: its URL, folders, and a REST helper."""

    def __init__(self, url: str, root: Path, workspace: Path) -> None:
        self.url = url
        self.root = root
        self.workspace = workspace

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(
            method,
            f"{self.url}/gms/api/{path}",
            headers={"Authorization": f"token {TOKEN}"},
            timeout=30,
            **kwargs,
        )
        assert answer.ok, (answer.status_code, answer.text)
        return answer.json()


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Browser tests drive Playwright's own loop; pytest-jupyter's loop is not wanted here."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process Jupyter server to clean up in browser tests."""
    return None


@contextlib.contextmanager
def running_lab(
    redis_url: str, workspace: Path, tmp_path_factory: Any, *settings: str
) -> Iterator[Lab]:
    """`jupyter lab` with the studio on `workspace` and the broker at `redis_url`; `settings`
    are more `--GMSLab.…` options (the worker must be told the same)."""
    root = tmp_path_factory.mktemp("lab-root")
    port = free_port()
    user_settings = tmp_path_factory.mktemp("lab-settings")
    # no "news" prompt, and a notebook's kernel starts without asking
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
        "@jupyterlab/apputils-extension/sessionDialogs.jupyterlab-settings": {},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }.items():
        target = user_settings / plugin
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GMS_PIPELINES_PATH": os.pathsep.join([str(REPO / "pipelines"), str(TEST_PIPELINES)]),
        "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter-config")),
        "JUPYTERLAB_SETTINGS_DIR": str(user_settings),
    }
    log = open(root.parent / "lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.jpserver_extensions={'gms_lab': True}",
            f"--GMSLab.workspace={workspace}",
            f"--GMSLab.broker_url={redis_url}",
            "--GMSLab.runner=local",
            *settings,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(
                f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=1
            ).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 60)
        yield Lab(url, root, workspace)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def lab(
    worker: Worker, redis_url: str, task_workspace: Path, tmp_path_factory: Any
) -> Iterator[Lab]:
    """`jupyter lab` with the studio on the worker's workspace."""
    with running_lab(redis_url, task_workspace, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with the flags this machine needs.

    One per module: while Playwright is open its loop stays the thread's running loop, and the
    tests collected after the browser tests (compose) need pytest-jupyter's loop of their own.
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "chromium is not installed (make test installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page (1440x900); a screenshot is kept if the test fails."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    yield opened
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        Screenshots(request).take(opened, "failure")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class Screenshots:
    """Numbered screenshots of a test's steps under test-results/ui/<test>/."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
        self.folder = SHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """Keep a screenshot per step."""
    return Screenshots(request)


def open_lab(page: Page, lab: Lab, path: str = "lab") -> None:
    """Open JupyterLab and wait until it is ready."""
    page.goto(f"{lab.url}/{path}?token={TOKEN}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.started !== undefined", timeout=60_000
    )
    # and its layout restored: a side bar's tab clicked before that may be made current by the
    # restore first, and the click then closes it
    page.evaluate("async () => { await window.jupyterapp.restored; }")


def accept_kernel(page: Page) -> None:
    """Accept the kernel JupyterLab proposes for a notebook, if it asks."""
    dialog = page.locator(".jp-Dialog-button.jp-mod-accept", has_text="Select")
    try:
        dialog.wait_for(timeout=10_000)
    except PlaywrightTimeout:
        return
    dialog.click()


def run_notebook(page: Page, lab: Lab, filename: str, cells: list[str]) -> None:
    """Write a notebook of `cells` into the lab's root, open it, and run all its cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, lab.root / filename)
    open_lab(page, lab, f"lab/tree/{filename}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    accept_kernel(page)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def set_theme(page: Page, theme: str) -> None:
    """Switch JupyterLab's theme ("JupyterLab Light" / "JupyterLab Dark")."""
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    page.wait_for_function(
        "theme => document.body.dataset.jpThemeName === theme", arg=theme, timeout=20_000
    )
    # the splash JupyterLab shows while a theme loads is gone (it covered screenshots)
    page.wait_for_function("() => !document.querySelector('#jupyterlab-splash')", timeout=20_000)
