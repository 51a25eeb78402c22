"""The studio around the diffusion pipeline vs the same diffusers pipeline called directly.

Both run the tiny random-weight model the tests build, already loaded: the studio's take
(submit → Celery → warm pipeline process → PNG, sidecar, manifest, events) against one
`pipe(...)` call plus a PNG save in this process. The two alternate, one of each per round, so
both meet the same load on a shared machine; before each studio take the worker is idle (the
previous take's thumbnail done). Model load time is reported beside.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from gms_lab.models import TaskStatus, TaskSubmit
from tests.model_library import build_tiny_sd
from tests.services import REPO, TEST_PIPELINES, Worker, studio_config, task_service, wait_until

from .film import small_film
from .table import Row, Table, ms
from .tasks import _project_idle

PARAMS = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "steps": 4, "seed": 5}


def bench_diffusion(url: str, tmp: Path, table: Table, takes: int = 12) -> None:
    """Per-take p50 through the studio vs direct, and the model's load time both ways."""
    import torch
    from diffusers import StableDiffusionPipeline

    print(f"diffusion: {takes} takes of the tiny model, studio vs direct diffusers")
    workspace = tmp / "ws-diffusion"
    folder = build_tiny_sd(workspace / "Library" / "AI_Models" / "tiny-sd")

    started = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
    pipe.to("cpu")
    direct_load = time.perf_counter() - started
    pipe.set_progress_bar_config(disable=True)

    def direct(n: int) -> float:
        begin = time.perf_counter()
        image = pipe(
            prompt=PARAMS["prompt"],
            width=64,
            height=64,
            num_inference_steps=4,
            guidance_scale=7.5,
            generator=torch.Generator("cpu").manual_seed(5),
        ).images[0]
        image.save(tmp / f"direct-{n}.png", format="PNG")
        return time.perf_counter() - begin

    config = studio_config(
        workspace, pipelines_path=[REPO / "pipelines", TEST_PIPELINES], auto_commit=False
    )
    worker = Worker(config, url, tmp / "bench-diffusion-worker.log").start()
    try:
        service = task_service(config, url)
        ctx = service.ctx
        project, shot = small_film(ctx.core, "Diffusion")
        request = TaskSubmit(
            project_id=project,
            node_id=shot,
            pipeline="diffusion",
            parameters={**PARAMS, "model": "tiny-sd"},
        )

        def take() -> tuple[float, dict[str, object]]:
            # the worker idle first: the previous take's thumbnail task is not counted
            wait_until(lambda: _project_idle(ctx, project), 120, 0.005)
            begin = time.perf_counter()
            task_id = service.submit(request).task_id
            wait_until(lambda: ctx.records.get(task_id).status.finished, 300, 0.002)
            took = time.perf_counter() - begin
            record = ctx.records.get(task_id)
            assert record.status == TaskStatus.completed, record.error
            assert record.result is not None
            return took, record.result.metadata

        _, first = take()  # loads the model in the warm process
        take()
        for n in range(2):
            direct(n)
        studio: list[float] = []
        baseline: list[float] = []
        for n in range(takes):  # in turns: both meet the same load, on an idle worker
            wait_until(lambda: _project_idle(ctx, project), 120, 0.005)
            baseline.append(direct(n))
            studio.append(take()[0])
    finally:
        worker.stop()

    studio_ms, direct_ms = ms(studio), ms(baseline)
    ratio = statistics.median(studio) / statistics.median(baseline)
    table.add(
        Row(
            "diffusion take p50, tiny model loaded (64², 4 steps)",
            studio_ms["p50"],
            "ms",
            "the same diffusers call + PNG in one process",
            direct_ms["p50"],
            "≤ 1.2x the direct call",
            ratio=ratio,
            meets=ratio <= 1.2,
            notes=(
                f"studio p90 {studio_ms['p90']:.0f} ms, direct p90 {direct_ms['p90']:.0f} ms; "
                "submit → completed record"
            ),
            extra={"studio": studio_ms, "direct": direct_ms},
        )
    )
    model = first["model"]
    assert isinstance(model, dict)
    load = float(model["loadSeconds"])
    table.add(
        Row(
            "diffusion model load in the pipeline process",
            load * 1e3,
            "ms",
            "from_pretrained in this process",
            direct_load * 1e3,
            "reported (paid once per process)",
            ratio=load / direct_load if direct_load else None,
            notes="later takes report loadSeconds 0 (model kept warm)",
        )
    )
