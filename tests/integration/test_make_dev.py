"""`make dev` opens JupyterLab in the workspace: its file browser shows the films, not the
source code of the checkout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from gms_lab.embedded import free_port
from tests.services import REPO, wait_until

TOKEN = "make-dev-token"  # a throwaway server on loopback


def lab_env(folder: Path) -> dict[str, str]:
    """The environment of a throwaway server: its workspace and Jupyter's dirs in `folder`,
    no worker."""
    return {
        **os.environ,
        "GMS_WORKSPACE": str(folder / "films"),
        "JUPYTER_TOKEN": TOKEN,
        "GMS_START_WORKER": "0",
        "JUPYTER_CONFIG_DIR": str(folder / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
    }


def test_make_dev_serves_the_workspace_not_the_checkout(tmp_path: Path) -> None:
    workspace = tmp_path / "films"
    port = free_port()
    env = {**lab_env(tmp_path), "PORT": str(port)}
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


def test_a_server_told_to_stop_as_it_starts_ends(tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM to the process group: Redis gets it too) in the first second after
    the server said it runs: the server ends. Its event bus's reconnect loop lost the cancel
    (Python 3.11's `wait_for`) and kept the process alive for good, 7 times in 8."""
    for n, delay in enumerate((0.0, 0.02, 0.05, 0.1, 0.3)):
        run = tmp_path / f"run{n}"
        (run / "films").mkdir(parents=True)
        env = lab_env(run)
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1"]
        command += [f"--port={free_port()}", f"--ServerApp.root_dir={run / 'films'}"]
        command += ["--allow-root"] if os.getuid() == 0 else []
        with open(run / "lab.log", "wb") as log:
            proc = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                wait_until(lambda f=log.name: b"is running at" in Path(f).read_bytes(), 60)
                time.sleep(delay)
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
