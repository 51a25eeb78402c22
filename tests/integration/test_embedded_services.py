"""With no broker configured, the server runs its own Redis and worker, and stops them."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from gms_lab.embedded import EmbeddedServices
from gms_lab.models import TaskRecord
from gms_lab.tasks.records import TaskRecords
from tests.conftest import Api
from tests.services import wait_until_async


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    return {"broker_url": "", "worker_concurrency": 1}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_embedded_redis_and_worker_life_cycle(
    api: Api, jp_serverapp: Any, workspace: Path
) -> None:
    runtime_file = workspace / ".gms" / "runtime.json"
    runtime = json.loads(runtime_file.read_text())
    assert runtime["brokerUrl"].startswith("redis://127.0.0.1:")
    assert runtime["serverPid"] == os.getpid()
    redis_pid, worker_pid = runtime["redisPid"], runtime["workerPid"]
    assert alive(redis_pid) and alive(worker_pid)
    assert (workspace / ".gms" / "redis" / "appendonlydir").is_dir()  # AOF on

    deadline = time.monotonic() + 60
    while True:
        _, config = await api.call("GET", "workspace/config")
        if config["health"]["worker"]["ok"]:
            break
        assert time.monotonic() < deadline, config["health"]
        await asyncio.sleep(0.2)
    assert config["health"]["redis"]["ok"]

    # a crashed worker is restarted
    os.kill(worker_pid, 9)
    await wait_until_async(
        lambda: json.loads(runtime_file.read_text())["workerPid"] != worker_pid, 30
    )
    new_pid = json.loads(runtime_file.read_text())["workerPid"]
    assert alive(new_pid)
    assert json.loads(runtime_file.read_text())["workerRestarts"] == 1

    # a task record written now outlives a restart of the services (AOF under .gms/redis)
    client = redis.Redis.from_url(runtime["brokerUrl"])
    TaskRecords(client).create(
        TaskRecord(task_id="kept", project_id="p", node_id="n", pipeline="still")
    )
    client.close()

    # stopping the extension stops both and removes runtime.json
    app = jp_serverapp.extension_manager.extension_apps["gms_lab"]
    (ext,) = app
    await ext.stop_extension()
    assert not alive(new_pid) and not alive(redis_pid)
    assert not runtime_file.exists()

    again = EmbeddedServices(ext.studio_config().model_copy(update={"start_worker": False}))
    url = await again.start()
    try:
        record = TaskRecords(redis.Redis.from_url(url)).get("kept")
        assert record.pipeline == "still"
    finally:
        await again.stop()


async def test_a_killed_embedded_redis_is_restarted_on_its_port_with_its_data(
    tmp_path: Path,
) -> None:
    from tests import figures
    from tests.services import studio_config

    config = studio_config(tmp_path / "ws", broker_url="", start_worker=False)
    services = EmbeddedServices(config)
    url = await services.start()
    runtime_file = tmp_path / "ws" / ".gms" / "runtime.json"
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.set("kept", "1")
        client.execute_command("CONFIG", "SET", "appendfsync", "always")
        client.set("kept", "2")
        first = json.loads(runtime_file.read_text())["redisPid"]

        os.kill(first, 9)
        figures.count("faults injected")
        await wait_until_async(
            lambda: json.loads(runtime_file.read_text())["redisPid"] != first, 30
        )
        # the dead one is reaped (no zombie), the new one answers on the same URL, data kept
        assert not Path(f"/proc/{first}").exists()
        second = json.loads(runtime_file.read_text())
        assert second["brokerUrl"] == url and second["redisRestarts"] == 1
        assert alive(second["redisPid"])

        def answers() -> bool:
            try:
                return client.get("kept") == b"2"
            except redis.RedisError:
                return False

        await wait_until_async(answers, 15)
    finally:
        await services.stop()
