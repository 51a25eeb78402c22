"""Takes that clients queue at the same moment share one manifest write. Real Redis."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import redis

from gms_lab.core import manifest
from gms_lab.models import TaskRecord, TaskStatus, TaskSubmit
from gms_lab.tasks.celery_app import QUEUE, TRANSPORT, make_celery, sender
from gms_lab.tasks.service import EXECUTE, EXECUTE_TAKES
from tests.services import (
    TINY_STILL,
    Worker,
    project_with_shot,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)


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


def test_quick_takes_queued_during_a_send_share_the_next_message(tmp_path: Path) -> None:
    """One-take submits of `still` (a pipeline of quick takes) that come while another
    submit's message is being sent go together in the next message; a real worker runs every
    one of them, each a task of its own, and each submit answers once its message is sent."""
    with redis_server(tmp_path / "redis") as url:
        config = studio_config(tmp_path / "ws", auto_commit=False)
        service = task_service(config, url)
        ctx = service.ctx
        project_id, shot = project_with_shot(ctx.core, "Shared")
        send, messages, go = service.send, [], threading.Event()

        def held(name: str, task_id: str, kwargs: dict[str, Any]) -> None:
            messages.append((name, kwargs))
            if len(messages) == 1:
                assert go.wait(10)  # the first send takes long: the next three queue meanwhile
            send(name, task_id, kwargs)

        service.send = held
        request = TaskSubmit(
            project_id=project_id, node_id=shot, pipeline="still", parameters=TINY_STILL
        )
        answers: list[TaskRecord] = []
        clients = [
            threading.Thread(target=lambda: answers.append(service.submit(request)))
            for _ in range(4)
        ]
        clients[0].start()
        wait_until(lambda: messages, 10, 0.001)
        for client in clients[1:]:
            client.start()
        key = ("still", project_id, shot)
        wait_until(lambda: len(service.shared._waiting.get(key, [])) == 3, 10, 0.001)
        assert answers == []  # none answers before its message is sent
        go.set()
        for client in clients:
            client.join(10)
        assert len(answers) == 4
        assert [name for name, _ in messages] == [EXECUTE, EXECUTE_TAKES]
        together = messages[1][1]["task_ids"]
        assert len(together) == 3 and set(together) | {messages[0][1]["task_id"]} == {
            a.task_id for a in answers
        }
        worker = Worker(config, url, tmp_path / "worker.log", concurrency=2).start()
        try:
            wait_until(lambda: all(ctx.records.get(a.task_id).status.finished for a in answers), 60)
        finally:
            worker.stop()
        assert {ctx.records.get(a.task_id).status for a in answers} == {TaskStatus.completed}
        takes = ctx.core.manifests.read(project_id).chapters[0].scenes[0].shots[0].takes
        assert sorted(t.task_id or "" for t in takes) == sorted(a.task_id for a in answers)
        assert all(t.status.value == "completed" and t.file for t in takes)


def test_a_queued_message_shows_monitors_no_parameters(tmp_path: Path) -> None:
    """The message a worker runs carries the parameters; its headers (what Flower or
    `celery events` show) name the task, not the user's prompt."""
    with redis_server(tmp_path / "redis") as url:
        service = task_service(studio_config(tmp_path / "ws"), url)
        project_id, shot = project_with_shot(service.ctx.core, "Private")
        prompt = "a secret harbour at dawn"
        request = TaskSubmit(
            project_id=project_id,
            node_id=shot,
            pipeline="still",
            parameters={**TINY_STILL, "prompt": prompt},
        )
        record = service.submit(request)
        client = redis.Redis.from_url(url)
        raw = client.lrange(QUEUE, 0, -1)  # no worker: it waits there
        assert len(raw) == 1
        # the send declared nothing (no kombu binding): the queue's list needs no declaration
        assert client.keys("_kombu.binding.*") == []
        message = json.loads(raw[0])
        headers = message["headers"]
        assert headers["task"] == EXECUTE and headers["id"] == record.task_id
        assert prompt not in json.dumps(headers) and headers["argsrepr"] == "()"
        assert record.task_id in headers["kwargsrepr"] and "parameters" not in headers["kwargsrepr"]
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert args == [] and kwargs["parameters"]["prompt"] == prompt


def test_the_studio_publishes_the_message_celery_makes(tmp_path: Path) -> None:
    """On the studio's transport a task's message goes straight through a kombu channel
    (`celery_app._Direct`), not through `send_task`: the same message, byte for byte but its
    delivery tag, in the same queue; and a worker runs it."""
    with redis_server(tmp_path / "redis") as url:
        config = studio_config(tmp_path / "ws")
        app = make_celery(config, url)
        assert app.conf.broker_transport == TRANSPORT
        kwargs = {"task_id": "t1", "pipeline": "still", "parameters": {"prompt": "fog é"}}
        sender(app)(EXECUTE, "t1", kwargs)
        assert app._pool is None  # not through Celery's producer pool
        shown = repr({k: v for k, v in kwargs.items() if k != "parameters"})
        app.send_task(
            EXECUTE,
            kwargs=kwargs,
            task_id="t1",
            ignore_result=True,
            argsrepr="()",
            kwargsrepr=shown,
            declare=[],
        )
        client = redis.Redis.from_url(url)
        theirs, ours = (json.loads(raw) for raw in client.lrange(QUEUE, 0, -1))  # LPUSH: last first
        tags = {m["properties"].pop("delivery_tag") for m in (ours, theirs)}
        assert len(tags) == 2 and ours == theirs
        assert list(ours["properties"]) == list(theirs["properties"])  # the same order too
        assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": QUEUE}
        client.delete(QUEUE)
        service = task_service(config, url)
        project_id, shot = project_with_shot(service.ctx.core, "Direct")
        request = TaskSubmit(
            project_id=project_id, node_id=shot, pipeline="still", parameters=TINY_STILL
        )
        worker = Worker(config, url, tmp_path / "worker.log").start()
        try:
            record = service.submit(request)
            wait_until(lambda: service.ctx.records.get(record.task_id).status.finished, 60)
        finally:
            worker.stop()
        assert service.ctx.records.get(record.task_id).status == TaskStatus.completed
