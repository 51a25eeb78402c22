"""The Docker runner for real: pipelines in containers on a real engine, driven as the worker does.

A `Runner` over a `ProcessPool` whose launcher is a `DockerLauncher`, the real `still` image built
from its Dockerfile on an offline base, and the test `probe` image that reports what it sees
from inside, sleeps, crashes or tries to write where it must not. No registry is needed: see
`tests/docker_support.py`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from docker.models.containers import Container
from docker.utils import parse_bytes
from PIL import Image

from gms_lab.core.projects import EXPORTS, RENDERS
from gms_lab.models import Quality
from gms_lab.tasks.registry import PipelineRegistry, PipelineSpec
from gms_lab.tasks.runners import containers
from gms_lab.tasks.runners.base import Job, JobCancelled, JobOutcome, PipelineFailure
from gms_lab.tasks.runners.choose import launcher_chooser
from gms_lab.tasks.runners.containers import PROJECT_MOUNT, DockerLauncher
from gms_lab.tasks.runners.local import LocalLauncher
from gms_lab.tasks.runners.pool import ProcessPool
from gms_lab.tasks.runners.runner import Runner
from gms_lab.tasks.service import job_dir
from tests.services import REPO, TEST_PIPELINES

if TYPE_CHECKING:  # imported by pytest as a plugin, so that its asserts are rewritten
    from tests.docker_support import DockerEngine, PipelineImages

# Building the images happens in session fixtures, outside each test's own time limit.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(120, func_only=True)]

HERO = "01_Assets/Characters/hero.txt"


@pytest.fixture(scope="module")
def registry() -> PipelineRegistry:
    """The real pipelines and the test ones, as the worker loads them."""
    found = PipelineRegistry([REPO / "pipelines", TEST_PIPELINES])
    assert not found.errors
    return found


@pytest.fixture(scope="module")
def images(pipeline_images: PipelineImages) -> PipelineImages:
    """The still and probe images, built once from their Dockerfiles."""
    pipeline_images.pipeline("still")
    pipeline_images.pipeline("probe", TEST_PIPELINES)
    return pipeline_images


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: assets to read, renders and exports to write."""
    root = tmp_path / "Harbour"
    (root / HERO).parent.mkdir(parents=True)
    (root / HERO).write_text("the lighthouse keeper\n", encoding="utf-8")
    (root / RENDERS).mkdir()
    (root / EXPORTS).mkdir()
    return root


@dataclass
class Studio:
    """One project's jobs run through the Docker runner, as the worker runs them."""

    engine: DockerEngine
    registry: PipelineRegistry
    project: Path
    launcher: DockerLauncher
    pool: ProcessPool = field(default_factory=lambda: ProcessPool(size=1))
    progress: list[float] = field(default_factory=list)
    specs: dict[str, PipelineSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.runner = Runner(self.pool, lambda spec, job: self.launcher)

    def job(self, pipeline: str, quality: Quality = Quality.low, **given: Any) -> Job:
        """A job as the worker makes one: merged parameters, an output dir inside the project."""
        spec = self.registry.get(pipeline)
        task_id = uuid.uuid4().hex
        out = job_dir(self.project, task_id)
        out.mkdir(parents=True)
        self.specs[task_id] = spec
        return Job(
            job_id=task_id,
            parameters=spec.resolve(quality, given),
            quality=quality,
            tier=spec.tier(quality),
            output_dir=out,
            project_dir=self.project,
        )

    def run(self, job: Job, cancelled: Callable[[], bool] = lambda: False) -> JobOutcome:
        """Run the job to its end, recording the progress a user would see."""
        self.progress = []

        def note(value: float, step: str, preview: Path | None = None) -> None:
            self.progress.append(value)

        return self.runner.run(self.specs[job.job_id], job, note, cancelled)

    def containers(self) -> list[Container]:
        """This project's pipeline containers, running or not."""
        scope = str(self.project.resolve())
        return self.engine.containers("gms.pipeline", f"gms.scope={scope}")


@pytest.fixture
def studio(
    docker_engine: DockerEngine, images: PipelineImages, registry: PipelineRegistry, project: Path
) -> Iterator[Studio]:
    """A runner with a pool of one container per pipeline and tier; closed after the test."""
    studio = Studio(docker_engine, registry, project, DockerLauncher(docker_engine.host))
    yield studio
    studio.pool.close()
    for leftover in studio.containers():
        leftover.remove(force=True)


def test_a_still_is_painted_in_a_container(studio: Studio) -> None:
    job = studio.job("still", Quality.low, prompt="harbour at dusk", seed=3)

    outcome = studio.run(job)

    take = job.output_dir / "take.png"
    assert outcome.outputs == [take]
    assert take.parent == studio.project / RENDERS / ".jobs" / job.job_id
    with Image.open(take) as picture:
        assert picture.size == (640, 360)  # the low tier paints at half size
    assert (outcome.metadata["width"], outcome.metadata["height"]) == (640, 360)
    assert outcome.metadata["tier"] == "low" and outcome.metadata["steps"] == 8
    owner = take.stat()
    assert (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid())
    # one progress event per painting step and more, never going back
    assert len(studio.progress) >= 8
    assert studio.progress == sorted(studio.progress) and studio.progress[-1] <= 1.0


def test_a_storyboard_is_painted_thumbnailed_and_cut_in_containers(
    studio: Studio, images: PipelineImages
) -> None:
    images.pipeline("thumbnail")
    images.pipeline("animatic")
    still = studio.run(studio.job("still", prompt="lighthouse at night", width=320, height=180))
    take = still.outputs[0].relative_to(studio.project).as_posix()

    thumbnail = studio.run(studio.job("thumbnail", source=take, size=64))
    animatic = studio.run(
        studio.job(
            "animatic", clips=[{"path": take, "duration": 1.0}], fps=12, width=160, height=90
        )
    )

    with Image.open(thumbnail.outputs[0]) as picture:
        assert max(picture.size) == 64
    video = animatic.outputs[0]
    assert video.suffix == ".mp4" and video.stat().st_size > 1000
    assert (animatic.metadata["width"], animatic.metadata["height"]) == (160, 90)


def test_the_next_take_reuses_the_warm_container(studio: Studio) -> None:
    first = studio.run(studio.job("still", prompt="fog over the sea", seed=1))
    [container] = studio.containers()

    second = studio.run(studio.job("still", prompt="fog over the sea", seed=2))

    assert [c.id for c in studio.containers()] == [container.id]
    assert studio.pool.started_count == 1
    assert first.outputs[0].read_bytes() != second.outputs[0].read_bytes()


def test_the_container_is_sealed_as_the_tier_says(studio: Studio) -> None:
    job = studio.job("probe", Quality.low, action="facts")

    facts = studio.run(job).metadata

    [container] = studio.containers()
    host = container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and container.attrs["Config"]["NetworkDisabled"]
    assert facts["interfaces"] in ([], ["lo"])
    assert host["Memory"] == parse_bytes(job.tier.memory) == 256 * 1024**2
    assert host["MemorySwap"] == host["Memory"] and host["PidsLimit"] > 0
    assert host["ReadonlyRootfs"] and facts["writable"]["root"].startswith("OSError")
    assert facts["writable"]["tmp"] == "ok" and facts["writable"]["output"] == "ok"
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert not host.get("DeviceRequests")  # no GPU asked for
    writable = {m["Destination"]: m["RW"] for m in container.attrs["Mounts"]}
    assert writable == {
        PROJECT_MOUNT: False,
        f"{PROJECT_MOUNT}/{RENDERS}": True,
        f"{PROJECT_MOUNT}/{EXPORTS}": True,
    }
    assert (facts["uid"], facts["gid"]) == (os.getuid(), os.getgid())
    assert container.labels["gms.pipeline"] == "probe" and container.labels["gms.tier"] == "low"


def test_a_higher_tier_gets_its_own_container_and_memory(studio: Studio) -> None:
    studio.run(studio.job("probe", Quality.low))
    high = studio.job("probe", Quality.high)
    studio.run(high)

    memory = sorted(c.attrs["HostConfig"]["Memory"] for c in studio.containers())
    assert memory == [parse_bytes("256m"), parse_bytes(high.tier.memory)]


def test_a_pipeline_over_its_memory_is_stopped_and_only_its_job_fails(studio: Studio) -> None:
    with pytest.raises(PipelineFailure) as failure:
        studio.run(studio.job("probe", Quality.low, action="hog", megabytes=600))

    assert failure.value.kind == "crash" and "code 137" in failure.value.message  # OOM-killed
    assert studio.run(studio.job("probe", Quality.low)).metadata["action"] == "facts"


def test_a_pipeline_cannot_touch_the_project_inputs(studio: Studio) -> None:
    intruder = studio.run(studio.job("probe", action="write", target=HERO)).metadata
    export = studio.run(studio.job("probe", action="write", target=f"{EXPORTS}/cut.txt"))

    assert "Read-only file system" in intruder["written"]
    assert (studio.project / HERO).read_text(encoding="utf-8") == "the lighthouse keeper\n"
    assert export.metadata["written"] == "ok"
    written = studio.project / EXPORTS / "cut.txt"
    assert written.stat().st_uid == os.getuid()


def test_a_cancelled_job_leaves_its_container_warm(studio: Studio) -> None:
    before = studio.run(studio.job("probe")).metadata
    job = studio.job("probe", action="sleep", steps=300, pause=0.1)  # 30 s unless stopped
    asked: list[float] = []

    def cancelled() -> bool:
        if studio.progress and not asked:
            asked.append(time.monotonic())
        return bool(asked)

    with pytest.raises(JobCancelled) as failure:
        studio.run(job, cancelled)

    # the cancel line reached the program over the attached stdin; it answered and lives on
    assert failure.value.warm and time.monotonic() - asked[0] < 5
    after = studio.run(studio.job("probe")).metadata
    assert (after["hostname"], after["pid"]) == (before["hostname"], before["pid"])
    assert studio.pool.started_count == 1


def test_a_crash_fails_only_its_job_and_the_next_gets_a_fresh_container(studio: Studio) -> None:
    before = studio.run(studio.job("probe")).metadata

    with pytest.raises(PipelineFailure) as failure:
        studio.run(studio.job("probe", action="crash"))

    assert failure.value.kind == "crash"
    assert "code 3" in failure.value.message
    assert "crashing on purpose" in failure.value.message  # its stderr, for the user
    assert studio.containers() == []
    after = studio.run(studio.job("probe")).metadata
    assert after["hostname"] != before["hostname"]  # a new container
    assert studio.pool.started_count == 2


def test_closing_the_pool_removes_the_containers(studio: Studio) -> None:
    studio.run(studio.job("probe"))
    studio.run(studio.job("still", steps=1))
    assert len(studio.containers()) == 2

    studio.pool.close()

    assert studio.containers() == []


def test_a_gpu_tier_without_a_gpu_fails_clearly_and_leaves_nothing(studio: Studio) -> None:
    job = studio.job("probe")
    job.tier = job.tier.model_copy(update={"gpu": True})

    try:
        studio.run(job)
    except PipelineFailure as failure:  # an engine without a GPU runtime, as here
        assert failure.kind == "start" and "could not be started" in failure.message
        assert studio.containers() == []
    else:  # an engine with GPUs: the request is on the container
        [container] = studio.containers()
        assert container.attrs["HostConfig"]["DeviceRequests"][0]["Capabilities"] == [["gpu"]]


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand the project to another uid")
def test_a_worker_that_is_not_root_owns_what_its_containers_write(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = gid = 4321  # a user with no account in the image, like most workers' users
    monkeypatch.setattr(containers, "_host_user", lambda: f"{uid}:{gid}")
    job = studio.job("still", steps=2)
    for folder in (job.output_dir, job.output_dir.parent, studio.project / RENDERS):
        os.chown(folder, uid, gid)

    outcome = studio.run(job)

    owner = outcome.outputs[0].stat()
    assert (owner.st_uid, owner.st_gid) == (uid, gid)
    [container] = studio.containers()
    assert container.attrs["Config"]["User"] == f"{uid}:{gid}"


def test_auto_picks_docker_only_when_the_image_is_there(
    studio: Studio, docker_engine: DockerEngine
) -> None:
    choose = launcher_chooser("auto", docker_engine.host)
    built = studio.job("still")
    missing = studio.job("still")
    missing.tier = missing.tier.model_copy(update={"image": "gms-never-built:0"})
    spec = studio.registry.get("still")

    assert isinstance(choose(spec, built), DockerLauncher)
    assert isinstance(choose(spec, missing), LocalLauncher)
