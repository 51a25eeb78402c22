"""Takes that clients queue at the same moment share one manifest write. Real Redis."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gms_lab.core import manifest
from gms_lab.models import TaskRecord, TaskSubmit
from tests.services import project_with_shot, redis_server, studio_config, task_service


def test_a_take_being_queued_is_waited_for_by_the_write_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submit of takes announces them to the project's writer as it starts: a write that
    begins meanwhile (another client's take) waits for them, and both are written at once.
    Here the second client is held before it queues until the first one's write waits."""
    with redis_server(tmp_path / "redis") as url:
        service = task_service(studio_config(tmp_path / "ws"), url)
        ctx = service.ctx
        project_id, shot = project_with_shot(ctx.core, "Together")
        monkeypatch.setattr(manifest, "LINGER", 10.0)  # a slow machine changes nothing here
        held, lingering = threading.Event(), threading.Event()
        store, records = ctx.core.manifests, ctx.records
        linger, create_all = store._linger, records.create_all

        def waiting(project: str) -> None:
            lingering.set()
            linger(project)

        def creating(*args: Any, **kwargs: Any) -> None:
            if threading.current_thread().name == "second":
                held.set()
                assert lingering.wait(10)
            create_all(*args, **kwargs)

        monkeypatch.setattr(store, "_linger", waiting)
        monkeypatch.setattr(records, "create_all", creating)
        request = TaskSubmit(project_id=project_id, node_id=shot, pipeline="still", parameters={})
        before = store.read(project_id).version
        answers: list[TaskRecord] = []
        second = threading.Thread(
            target=lambda: answers.append(service.submit(request)), name="second"
        )
        second.start()
        assert held.wait(10)
        first = service.submit(request)
        second.join(10)
        assert not second.is_alive() and len(answers) == 1
        project = store.read(project_id)
        assert project.version == before + 1  # one write for both
        shot_takes = project.chapters[0].scenes[0].shots[0].takes
        assert {t.task_id for t in shot_takes} == {first.task_id, answers[0].task_id}
