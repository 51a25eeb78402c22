"""Redis goes away under a running server: task routes answer a clear 503, nothing is half-made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import figures
from tests.conftest import Api
from tests.services import RedisProcess, redis_process


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """This test's own Redis, so it can be killed."""
    with redis_process(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_url(own_redis: RedisProcess) -> str:
    """The server under test uses this test's own Redis."""
    return own_redis.url


async def test_task_routes_answer_503_while_redis_is_down_and_submit_leaves_no_take(
    api: Api, own_redis: RedisProcess
) -> None:
    _, project = await api.call("POST", "projects", {"name": "Harbour"})
    pid = project["id"]
    _, ch = await api.call("POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "A"})
    _, sc = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "scene", "parentId": ch["id"], "name": "B"}
    )
    _, shot = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "shot", "parentId": sc["id"], "name": "C"}
    )
    _, before = await api.call("GET", f"projects/{pid}")
    submit = {"projectId": pid, "nodeId": shot["id"], "pipeline": "slow"}
    status, accepted = await api.call("POST", "tasks/submit", submit)
    assert status == 202, accepted

    own_redis.kill()
    figures.count("faults injected")
    answers = {
        "submit": await api.call("POST", "tasks/submit", submit),
        "status": await api.call("GET", f"tasks/{accepted['taskId']}/status"),
        "list": await api.call("GET", "tasks", params={"projectId": pid}),
        "cancel": await api.call("POST", f"tasks/{accepted['taskId']}/cancel"),
    }
    codes = [code for code, _ in answers.values()]
    figures.count("503 answers while a service was down", codes.count(503))
    figures.count("5xx seen", sum(1 for code in codes if code >= 500 and code != 503))
    for route, (status, body) in answers.items():
        assert status == 503, (route, status, body)
        assert body["error"]["code"] == "service_unavailable", (route, body)
        assert "Redis" in body["error"]["message"], (route, body)
    # no phantom take: the manifest is as it was before the failed submit (plus the first take)
    _, after = await api.call("GET", f"projects/{pid}")
    takes = after["chapters"][0]["scenes"][0]["shots"][0]["takes"]
    assert [t["taskId"] for t in takes] == [accepted["taskId"]]
    assert after["version"] == before["version"] + 1
    figures.count("changes lost", 0)

    # Redis comes back (same port, its AOF): the routes work again and the first task is there
    own_redis.start()
    status, record = await api.call("GET", f"tasks/{accepted['taskId']}/status")
    assert status == 200 and record["taskId"] == accepted["taskId"]
    status, again = await api.call("POST", "tasks/submit", submit)
    assert status == 202, again
