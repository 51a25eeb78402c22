"""`make dev` opens JupyterLab in the workspace: its file browser shows the films, not the
source code of the checkout."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import requests

from gms_lab.embedded import free_port
from tests.services import REPO, wait_until

TOKEN = "make-dev-token"  # a throwaway server on loopback


def test_make_dev_serves_the_workspace_not_the_checkout(tmp_path: Path) -> None:
    workspace = tmp_path / "films"
    port = free_port()
    env = {
        **os.environ,
        "GMS_WORKSPACE": str(workspace),
        "PORT": str(port),
        "JUPYTER_TOKEN": TOKEN,
        "GMS_START_WORKER": "0",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log = open(tmp_path / "make-dev.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "dev"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/contents"
    headers = {"Authorization": f"token {TOKEN}"}

    def listing() -> list[str] | None:
        try:
            answer = requests.get(url, headers=headers, timeout=2)
        except requests.RequestException:
            return None
        return [item["name"] for item in answer.json()["content"]] if answer.ok else None

    try:
        wait_until(lambda: listing() is not None, 90)
        names = listing() or []
        assert "Projects" in names and "Library" in names, names
        assert "Makefile" not in names and "gms_lab" not in names, names
        assert workspace.is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
