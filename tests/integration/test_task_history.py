"""A project's task history is longer than one answer: the task list comes in pages."""

from __future__ import annotations

import secrets

import redis

from gms_lab.models import TaskRecord
from gms_lab.tasks.records import TaskRecords
from tests.conftest import Api


def _record(project_id: str, n: int) -> TaskRecord:
    return TaskRecord(
        task_id=f"{n:04d}-{secrets.token_hex(6)}",
        project_id=project_id,
        node_id="sh_x",
        pipeline="still",
        parameters={"n": n},
    )


async def test_the_task_list_pages_newest_first_and_says_more_exist(
    api: Api, redis_url: str
) -> None:
    status, project = await api.call("POST", "projects", {"name": f"Long {secrets.token_hex(3)}"})
    assert status == 201
    records = TaskRecords(redis.Redis.from_url(redis_url))
    made = [records.create(_record(project["id"], n)) for n in range(450)]
    newest_first = [r.task_id for r in reversed(made)]

    # the first answer holds the newest tasks and says more exist (no silent cut-off)
    status, page = await api.call("GET", "tasks", params={"projectId": project["id"]})
    assert status == 200
    assert [t["taskId"] for t in page["tasks"]] == newest_first[:100]
    assert page["more"] is True and page["nextCursor"] and page["total"] == 450

    # a task submitted while the user pages on shifts nothing and shows up on a fresh read
    late = records.create(_record(project["id"], 999))
    seen = [t["taskId"] for t in page["tasks"]]
    cursor = page["nextCursor"]
    while cursor:
        status, page = await api.call(
            "GET", "tasks", params={"projectId": project["id"], "limit": "170", "cursor": cursor}
        )
        assert status == 200 and len(page["tasks"]) <= 170
        seen += [t["taskId"] for t in page["tasks"]]
        cursor = page["nextCursor"]
        assert page["more"] is bool(cursor)
    assert seen == newest_first  # every task once, in order
    status, page = await api.call("GET", "tasks", params={"projectId": project["id"], "limit": "1"})
    assert [t["taskId"] for t in page["tasks"]] == [late.task_id] and page["more"] is True

    # the whole history, as a notebook reads it, is the same list
    status, page = await api.call(
        "GET", "tasks", params={"projectId": project["id"], "limit": "1000"}
    )
    assert page["more"] is False and page["nextCursor"] is None and len(page["tasks"]) == 451


async def test_bad_paging_gets_a_clear_answer(api: Api) -> None:
    status, project = await api.call("POST", "projects", {"name": f"Paged {secrets.token_hex(3)}"})
    for params in ({"limit": "0"}, {"limit": "5000"}, {"limit": "ten"}, {"cursor": "garbage"}):
        status, body = await api.call("GET", "tasks", params={"projectId": project["id"], **params})
        assert status == 400, params
        assert body["error"]["code"] == "invalid_input"
    status, body = await api.call("GET", "tasks", params={"projectId": "nope"})
    assert status == 404


def test_record_changes_from_many_writers_are_never_lost(redis_url: str) -> None:
    """Worker, server and notebook change one record at once: each change lands (seq counts)."""
    import threading

    records = TaskRecords(redis.Redis.from_url(redis_url))
    record = records.create(_record("concurrent", 0))

    def bump() -> None:
        mine = TaskRecords(redis.Redis.from_url(redis_url))
        for _ in range(40):
            mine.update(
                record.task_id,
                lambda r: r.parameters.__setitem__("n", r.parameters["n"] + 1),
            )

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = records.get(record.task_id)
    assert final.seq == 240 and final.parameters["n"] == 240


def test_a_change_is_announced_once_and_only_when_it_is_stored(redis_url: str) -> None:
    """Several writers at once, each announcing its change (as a worker announces a task's
    success): Redis publishes an announcement only for the record it stores, so every seq is
    told exactly once, with the record as stored, whatever compare-and-set had to start again."""
    import threading

    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.subscribe("announced")
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    record = TaskRecords(client).create(_record("announced", 0))

    def told(r: TaskRecord) -> list[tuple[str, str]]:
        return [("announced", f"{r.seq}:{r.parameters['n']}"), ("announced", f"again {r.seq}")]

    def bump(also: bool) -> None:
        mine = TaskRecords(redis.Redis.from_url(redis_url))
        for _ in range(30):
            mine.update(
                record.task_id,
                lambda r: r.parameters.__setitem__("n", r.parameters["n"] + 1),
                announce=told,
                also=(lambda pipe: pipe.ping()) if also else None,
            )

    threads = [threading.Thread(target=bump, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    heard: list[str] = []
    while len(heard) < 240:
        message = listener.get_message(timeout=5)
        assert message is not None, len(heard)
        if message["type"] == "message":
            heard.append(message["data"].decode())
    assert listener.get_message(timeout=0.5) is None  # nothing told twice or for a lost swap
    stored = [h for h in heard if not h.startswith("again")]
    # every change told once, in the order stored, each with the value that was stored with it
    assert stored == [f"{seq}:{seq}" for seq in range(1, 121)]
    assert [h for h in heard if h.startswith("again")] == [f"again {s}" for s in range(1, 121)]
    listener.close()
