"""The servers a benchmark talks to: the studio in `jupyter server`, and a bare tornado app."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from gms_lab.embedded import free_port
from tests.services import REPO, TEST_PIPELINES, wait_until

TOKEN = "bench-token"


class Server:
    """A running HTTP server: its base URL, its process, a session with the token."""

    def __init__(self, base: str, proc: subprocess.Popen[bytes]) -> None:
        self.base = base
        self.proc = proc
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {TOKEN}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request (the token is sent)."""
        kwargs.setdefault("timeout", 600)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """`GET path`, which must answer 2xx."""
        answer = self.request("GET", path, **kwargs)
        answer.raise_for_status()
        return answer

    def rss(self) -> tuple[int, int]:
        """(resident, peak resident) bytes of the server process."""
        values = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
        return values["VmRSS"], values["VmHWM"]

    @property
    def ws(self) -> str:
        """The WebSocket base URL."""
        return self.base.replace("http", "ws", 1)


def _up(base: str) -> bool:
    try:
        return requests.get(
            f"{base}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=1
        ).ok
    except requests.RequestException:
        return False


@contextmanager
def studio_server(workspace: Path, url: str, root: Path) -> Iterator[Server]:
    """`jupyter server` with the studio on `workspace`, the broker `url`, watching files."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(workspace.parent / "bench-server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={'gms_lab': True}",
            f"--GMSLab.workspace={workspace}",
            f"--GMSLab.broker_url={url}",
            "--GMSLab.watch=True",
            "--GMSLab.runner=local",
            f"--GMSLab.pipelines_path={[str(REPO / 'pipelines'), str(TEST_PIPELINES)]}",
            "--GMSLab.max_upload_bytes=4294967296",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), 60)
        yield Server(base, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


_BARE = """
import os, sys, uuid
from tornado import ioloop, web

@web.stream_request_body
class Sink(web.RequestHandler):
    def prepare(self):
        self.request.connection.set_max_body_size(1 << 34)
        # a new file for each upload, as the studio's (each upload is a new asset)
        self.path = os.path.join(sys.argv[2], f"upload-{uuid.uuid4().hex}.part")
        self.fh = open(self.path, "wb")
    def data_received(self, chunk):
        self.fh.write(chunk)
    def post(self):
        self.fh.flush(); os.fsync(self.fh.fileno()); self.fh.close()
        self.set_status(201); self.finish({"path": self.path})

app = web.Application([(r"/upload", Sink)])
app.listen(int(sys.argv[1]), "127.0.0.1", max_body_size=1 << 34)
ioloop.IOLoop.current().start()
"""


@contextmanager
def bare_tornado(folder: Path) -> Iterator[Server]:
    """A bare tornado `stream_request_body` handler writing the body to a file: the floor."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _BARE, str(port), str(folder)])
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            requests.get(base + "/upload", timeout=1)
            return True
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30)
        yield Server(base, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
