"""How the takes of one submit are split into queue messages, and the seed each gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gms_lab.config import StudioConfig
from gms_lab.models import TaskRecord
from gms_lab.tasks.celery_app import visibility_timeout
from gms_lab.tasks.registry import ParameterSpec, PipelineSpec
from gms_lab.tasks.service import _chunks, _seeds


def _records(n: int) -> list[TaskRecord]:
    return [
        TaskRecord(task_id=f"t{i}", project_id="p", node_id="s", pipeline="still") for i in range(n)
    ]


def _sizes(n: int, most: int, spread: int) -> list[int]:
    made = _records(n)
    chunks = _chunks(made, most, spread)
    assert [r for chunk in chunks for r in chunk] == made  # every task once, in order
    return [len(chunk) for chunk in chunks]


def test_a_large_submit_fills_its_messages_evenly() -> None:
    assert _sizes(200, 8, 4) == [8] * 25
    assert _sizes(50, 8, 4) == [8, 7, 7, 7, 7, 7, 7]
    assert _sizes(10, 4, 1) == [4, 3, 3]


def test_a_few_takes_go_to_as_many_worker_threads() -> None:
    assert _sizes(4, 8, 4) == [1, 1, 1, 1]
    assert _sizes(6, 8, 4) == [2, 2, 1, 1]
    assert _sizes(3, 8, 4) == [1, 1, 1]
    assert _sizes(1, 8, 4) == [1]


def test_one_take_a_message_for_a_pipeline_of_slow_takes() -> None:
    assert _sizes(5, 1, 2) == [1] * 5


def _spec(**seed: Any) -> PipelineSpec:
    tier = {"pipelineId": "x", "image": "x", "targetVram": 0}
    return PipelineSpec(
        id="p",
        name="p",
        version="1",
        media="image",
        entry=["python"],
        parameters={"seed": ParameterSpec(type="integer", **seed)} if seed is not None else {},
        tiers={"low": tier, "standard": tier, "high": tier},
    )


def test_seeds_go_up_from_the_one_given_or_are_drawn_within_the_bounds() -> None:
    assert _seeds(_spec(), 7, 3) == [7, 8, 9]
    assert _seeds(_spec(), 7, 1) == [7]
    drawn = _seeds(_spec(minimum=5, maximum=9), None, 200)
    assert len(drawn) == 200 and set(drawn) == set(range(5, 10))
    assert all(0 <= s < 2**31 for s in _seeds(_spec(), None, 50))
    # a value of the wrong type is left for the parameter check to refuse
    assert _seeds(_spec(), "7", 2) == ["7", "7"]
    no_seed = _spec()
    no_seed.parameters.clear()
    assert _seeds(no_seed, None, 3) == []


def test_a_message_of_several_takes_is_not_redelivered_while_it_runs(tmp_path: Path) -> None:
    """The broker's visibility timeout outlasts the longest message: a pipeline's timeout
    times the takes it runs from one message, twice over."""
    folder = tmp_path / "pipelines" / "many"
    folder.mkdir(parents=True)
    tiers = "".join(
        f'[tiers.{q}]\npipelineId = "m"\nimage = "m"\ntargetVram = 0\n'
        for q in ("low", "standard", "high")
    )
    folder.joinpath("pipeline.toml").write_text(
        'id = "many"\nname = "m"\nversion = "1"\nmedia = "image"\nentry = ["python"]\n'
        f"timeout = 3000\ntakes_per_message = 16\n{tiers}"
    )
    config = StudioConfig.from_env(
        {"workspace": tmp_path / "ws", "pipelines_path": [tmp_path / "pipelines"]}, env={}
    )
    assert visibility_timeout(config) == 2 * 3000 * 16 + 60
