"""Fuzzing: every route of the OpenAPI document, by schemathesis, against a real server.

A real `jupyter server` with the studio (token auth, its own workspace, the session's Redis)
is fuzzed for about a minute with every schemathesis check on (server errors, status codes,
content types, headers and bodies against the document, schema-valid data accepted and
invalid data refused, missing headers, unsupported methods, stateful sequences) plus our own:
no answer shows a path of the server's disk. The bar: zero 5xx, zero failures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gms_lab.embedded import free_port
from tests import figures
from tests.services import REPO, TEST_PIPELINES, wait_until

TOKEN = "fuzz-test-token"  # a throwaway server on loopback
#: How long the fuzzing runs (schemathesis `--max-time`); GMS_FUZZ_SECONDS changes it.
SECONDS = int(os.environ.get("GMS_FUZZ_SECONDS", "60"))
FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


class Studio:
    """A `jupyter server` subprocess with the studio; can be killed and started again."""

    def __init__(self, workspace: Path, redis_url: str, log: Path) -> None:
        self.workspace = workspace
        self.redis_url = redis_url
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/gms/api/"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {TOKEN}"}

    def start(self) -> Studio:
        self.workspace.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "GMS_WORKSPACE": str(self.workspace),
            "GMS_BROKER_URL": self.redis_url,
            "GMS_WATCH": "0",
            "GMS_RUNNER": "local",
            "GMS_PIPELINES_PATH": os.pathsep.join([str(REPO / "pipelines"), str(TEST_PIPELINES)]),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    "--no-browser",
                    "--allow-root",
                    "--ip=127.0.0.1",
                    f"--port={self.port}",
                    "--port-retries=0",
                    f"--IdentityProvider.token={TOKEN}",
                    "--ServerApp.jpserver_extensions={'gms_lab': True}",
                    f"--ServerApp.root_dir={self.workspace}",
                ],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, 60, 0.2)
        return self

    def _answers(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            return requests.get(self.api + "projects", headers=self.headers, timeout=5).ok
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, nothing is flushed or cleaned."""
        assert self.proc is not None
        os.killpg(self.proc.pid, 9)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=5)

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.api + path, headers=self.headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def studio(tmp_path: Path, redis_url: str) -> Iterator[Studio]:
    running = Studio(tmp_path / "workspace", redis_url, tmp_path / "server.log").start()
    yield running
    running.stop()


def seed(studio: Studio) -> None:
    """The project most requests go to: Harbour, with a chapter, a scene and a shot."""
    assert studio.call("POST", "projects", json={"name": "Harbour"}).status_code == 201
    chapter = studio.call("POST", "projects/harbour/nodes", json={"kind": "chapter", "name": "I"})
    scene = studio.call(
        "POST",
        "projects/harbour/nodes",
        json={"kind": "scene", "name": "Dawn", "parentId": chapter.json()["id"]},
    )
    shot = studio.call(
        "POST",
        "projects/harbour/nodes",
        json={"kind": "shot", "name": "Wide", "parentId": scene.json()["id"]},
    )
    assert shot.status_code == 201, shot.text


def test_every_route_holds_up_under_fuzzing(studio: Studio, tmp_path: Path) -> None:
    seed(studio)
    tally = tmp_path / "tally.jsonl"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "GMS_FUZZ_TALLY": str(tally),
        "GMS_FUZZ_FORBIDDEN": os.pathsep.join([str(tmp_path), str(REPO)]),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(FUZZ / "schemathesis.toml"),
            "run",
            studio.api + "openapi.json",
            "--checks",
            "all",
            "--max-time",
            str(SECONDS),
            "--workers",
            "1",
            "--header",
            f"Authorization: token {TOKEN}",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "30",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SECONDS * 4 + 120,
        check=False,
    )
    output = run.stdout + run.stderr
    answers = (
        [json.loads(line) for line in tally.read_text().splitlines()] if tally.exists() else []
    )
    statuses = Counter(a["status"] for a in answers)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    found = re.search(r"(\d+) unique failures", output)
    failures = int(found.group(1)) if found else (0 if run.returncode == 0 else -1)
    figures.count("requests fuzzed", len(answers))
    figures.count("5xx seen", server_errors)
    figures.count("schema violations", max(failures, 0))
    (REPO / "test-results").mkdir(exist_ok=True)
    (REPO / "test-results" / "schemathesis.txt").write_text(output)
    assert len(answers) > 500, output[-5000:]
    assert server_errors == 0, (statuses, output[-8000:])
    assert run.returncode == 0, output[-8000:]
    # every operation of the document was reached
    document = studio.call("GET", "openapi.json").json()
    operations = {
        f"{verb.upper()} {path}" for path, item in document["paths"].items() for verb in item
    }
    assert operations <= {a["op"] for a in answers}, operations - {a["op"] for a in answers}
