"""`make up` for real: the studio's images built from this checkout, started by compose, used
through the REST API, stopped and started again, and checked as images fit to ship.

See `tests/compose/conftest.py` for the engine, the offline base images and the stack.
"""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import pytest
import requests
from docker.errors import ContainerError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from gms_lab.embedded import free_port
from tests.compose.conftest import LAB_IMAGE, WORKER_IMAGE, Stack
from tests.docker_support import SIZES, timed
from tests.services import REPO, wait_until

# Building the images happens in the module's fixture, outside each test's own time limit.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900, func_only=True)]

#: What each image may add to its Python base, in bytes (measured: lab ≈ 355 MB, worker ≈ 525 MB,
#: of which imageio-ffmpeg's bundled ffmpeg is ≈ 170 MB). Raise these only on purpose.
SIZE_LIMITS = {LAB_IMAGE: 400 * 10**6, WORKER_IMAGE: 600 * 10**6}
#: The base image's own packages, which the lock does not pin.
BASE_PACKAGES = {"pip", "setuptools", "wheel"}
STUDIO_UID = 1000


def locked_versions(python: str) -> dict[str, str]:
    """docker/requirements.lock for a Linux Python of version `python`: package → version."""
    environment = {"python_full_version": python, "python_version": python.rpartition(".")[0]}
    pins = {}
    for line in (REPO / "docker" / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                [pin] = requirement.specifier
                pins[canonicalize_name(requirement.name)] = pin.version
    return pins


def installed(stack: Stack, image: str) -> tuple[str, dict[str, str]]:
    """The Python version of `image` and its distributions: name → version."""
    script = (
        "import importlib.metadata as m, platform\n"
        "print('python', platform.python_version())\n"
        "for d in m.distributions(): print(d.metadata['Name'], d.version)\n"
    )
    out = stack.engine.client.containers.run(
        image, [script], entrypoint=["python", "-c"], network_mode="none", remove=True
    )
    pairs = dict(line.split() for line in out.decode().splitlines())
    python = pairs.pop("python")
    return python, {canonicalize_name(name): version for name, version in pairs.items()}


def test_make_up_returns_when_the_studio_answers_and_prints_its_url(stack: Stack) -> None:
    with timed("make up (first)"):
        done = stack.make("up")

    match = re.search(r"The studio is up: (\S+)", done.stdout)
    assert match, done.stdout
    assert match[1] == f"{stack.url}/lab?token={stack.token}"
    # make returned only once every service answered
    assert [stack.health(s) for s in ("redis", "lab", "worker")] == ["healthy"] * 3
    status, config = stack.api("GET", "workspace/config")
    assert status == 200 and config["workspace"] == "/workspace"
    health = config["health"]
    assert health["redis"]["ok"] and health["worker"]["ok"], health
    assert health["git"]["ok"] and health["gitLfs"]["ok"], health
    page = requests.get(match[1], timeout=30)
    assert page.status_code == 200 and "JupyterLab" in page.text


def test_a_still_take_lands_in_the_workspace_volume_and_survives_down_and_up(
    stack: Stack,
) -> None:
    status, project = stack.api("POST", "projects", {"name": "Harbour", "quality": "low"})
    assert status == 201, project
    pid = project["id"]
    parent = None
    for kind, name in (("chapter", "Act 1"), ("scene", "Dawn"), ("shot", "Wide")):
        status, node = stack.api(
            "POST", f"projects/{pid}/nodes", {"kind": kind, "name": name, "parentId": parent}
        )
        assert status == 201, node
        parent = node["id"]
    shot = parent

    with timed("a still take"):
        events = stack.events(pid)
        status, body = stack.api(
            "POST",
            "tasks/submit",
            {
                "projectId": pid,
                "nodeId": shot,
                "pipeline": "still",
                "parameters": {"prompt": "fog over the harbour", "seed": 7},
            },
        )
        assert status == 202, body
        task_id = body["taskId"]
        finished = events.until("task_success", "task_failed", taskId=task_id)
        events.conn.close()
    assert finished["type"] == "task_success", finished

    status, record = stack.api("GET", f"tasks/{task_id}/status")
    assert status == 200 and record["status"] == "completed", record
    output = record["result"]["outputPath"]
    assert output.startswith("03_Renders/") and record["runner"] == "local"
    # the take is a file of the workspace volume, written by the worker as the studio's user
    png = stack.read_volume("workspace", f"Projects/{pid}/{output}")
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG" and picture.size == (640, 360)  # the low tier's size

    def committed() -> bool:
        _, log = stack.api("GET", f"projects/{pid}/git/log")
        return any(output in commit["files"] for commit in log["commits"])

    wait_until(committed, timeout=60, interval=0.5)  # git and git-lfs work in the image

    with timed("make down"):
        stack.make("down")
    assert stack.containers() == []
    with timed("make up (again)"):
        stack.make("up")

    # the project (workspace volume) and the task record (Redis' AOF volume) are still there
    status, again = stack.api("GET", f"projects/{pid}")
    assert status == 200 and again["name"] == "Harbour"
    status, record_again = stack.api("GET", f"tasks/{task_id}/status")
    assert status == 200 and record_again == record
    status, downloaded = stack.api("GET", f"projects/{pid}/files/{output}")
    assert status == 200 and downloaded == png
    stack.outputs.append(output)


def test_the_services_run_as_the_studio_user_not_root(stack: Stack) -> None:
    for service, image in (("lab", LAB_IMAGE), ("worker", WORKER_IMAGE)):
        container = stack.container(service)
        assert container.image.attrs["Config"]["User"] == f"{STUDIO_UID}:{STUDIO_UID}"
        code, out = container.exec_run(["id", "-u"])
        assert code == 0 and out.decode().strip() == str(STUDIO_UID), service
        # the service's own processes, not only a shell started beside them
        top = container.top(ps_args="-o pid,uid,args")
        column = top["Titles"].index("UID")
        uids = {row[column] for row in top["Processes"]}
        assert uids == {str(STUDIO_UID)}, (service, top["Processes"])
        assert container.image.attrs["Config"]["Healthcheck"]["Test"][-1] == service, image


def test_the_images_stay_small(stack: Stack) -> None:
    for image, limit in SIZE_LIMITS.items():
        assert SIZES[image] <= limit, (
            f"{image} adds {SIZES[image] / 1e6:.0f} MB to its base, more than the "
            f"{limit / 1e6:.0f} MB allowed: look at `docker history {image}`"
        )


def test_the_images_carry_a_production_build_and_the_locked_versions(stack: Stack) -> None:
    script = (
        "import pathlib, sys\n"
        "root = pathlib.Path(sys.prefix, 'share/jupyter/labextensions/gms-lab')\n"
        "for f in sorted(root.rglob('*')):\n"
        "    if f.is_file(): print(f.stat().st_size, f.relative_to(root))\n"
    )
    out = stack.engine.client.containers.run(
        LAB_IMAGE, [script], entrypoint=["python", "-c"], network_mode="none", remove=True
    )
    files = {name: int(size) for size, name in (line.split() for line in out.decode().splitlines())}
    assert "package.json" in files and any(n.startswith("static/remoteEntry.") for n in files)
    assert not [n for n in files if n.endswith(".map")], "a development build was shipped"
    assert sum(files.values()) < 600_000, files

    python, lab = installed(stack, LAB_IMAGE)
    _, worker = installed(stack, WORKER_IMAGE)
    pins = locked_versions(python)
    for packages in (lab, worker):
        unpinned = {
            name: version
            for name, version in packages.items()
            if name not in BASE_PACKAGES | {"gms-lab"} and pins.get(name) != version
        }
        assert unpinned == {}, "installed at versions docker/requirements.lock does not pin"
    # the bundled ffmpeg only where pipelines run; no build tool in either
    assert "imageio-ffmpeg" in worker and "imageio-ffmpeg" not in lab
    for tool in ("hatchling", "hatch-jupyter-builder", "uv"):
        assert tool not in lab and tool not in worker


def test_the_docker_runner_workspace_is_made_for_the_studio_user_or_refused(
    stack: Stack, tmp_path: Path
) -> None:
    socket = stack.engine.host.removeprefix("unix://") or "/var/run/docker.sock"
    runner = {
        "COMPOSE_PROJECT_NAME": f"{stack.project}-runner",
        "GMS_PORT": str(free_port()),
        "GMS_DOCKER_SOCKET": socket,
    }

    # a missing folder, straight through compose: refused, and not made for root
    missing = tmp_path / "missing"
    done = stack.compose(
        "up", "-d", "--no-build", "--no-deps", "lab",
        check=False, GMS_HOST_WORKSPACE=str(missing), **runner,
        COMPOSE_FILE=stack.env["COMPOSE_FILE"] + ":docker/compose.docker-runner.yaml",
    )  # fmt: skip
    assert done.returncode != 0 and str(missing) in done.stderr, done.stderr
    assert not missing.exists()
    stack.compose("down", check=False, **runner)

    # a folder of another user: make refuses it before anything starts, and says what to do
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 4321, 4321)
    done = stack.make("up-docker-runner", f"GMS_HOST_WORKSPACE={theirs}", check=False, **runner)
    assert done.returncode != 0
    assert "belongs to uid 4321" in done.stderr and "chown" in done.stderr, done.stderr
    assert stack.containers(runner["COMPOSE_PROJECT_NAME"]) == []

    # an unwritable workspace stops the service at once, with the reason in its log
    with pytest.raises(ContainerError) as refused:
        stack.engine.client.containers.run(
            LAB_IMAGE,
            ["true"],
            environment={"GMS_WORKSPACE": "/films"},
            volumes={str(theirs): {"bind": "/films"}},
            network_mode="none",
            remove=True,
        )
    assert b"cannot be written by uid 1000" in refused.value.stderr

    # a missing folder through make: made for the studio's user, and the studio writes it
    films = tmp_path / "films"
    try:
        with timed("make up-docker-runner"):
            stack.make("up-docker-runner", f"GMS_HOST_WORKSPACE={films}", **runner)
        made = films.stat()
        assert (made.st_uid, made.st_gid) == (STUDIO_UID, STUDIO_UID)
        assert stat.S_ISDIR(made.st_mode)
        wait_until(lambda: (films / "Projects").is_dir(), timeout=30)
        assert (films / "Projects").stat().st_uid == STUDIO_UID
    finally:
        stack.compose("down", "--volumes", check=False, **runner)
