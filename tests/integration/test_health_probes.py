"""The images' health probes (`python -m gms_lab.health lab|worker`) against real services."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gms_lab import health
from tests.services import Worker


async def test_the_lab_is_healthy_when_it_answers_and_reaches_redis(
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> None:
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"
    token = jp_auth_header["Authorization"].split()[-1]

    # the probe blocks; the server it asks runs on this test's event loop
    assert await asyncio.to_thread(health.lab, url, token, 5.0) is None
    wrong = await asyncio.to_thread(health.lab, url, "not-the-token", 5.0)
    assert wrong is not None and "403" in wrong
    closed = await asyncio.to_thread(health.lab, "http://127.0.0.1:9", token, 2.0)
    assert closed is not None and "does not answer" in closed


@pytest.mark.usefixtures("worker")
def test_a_worker_is_healthy_once_it_has_announced_itself(redis_url: str, worker: Worker) -> None:
    hostname = worker.name.rpartition("@")[2]

    assert health.worker(redis_url, hostname, 5.0) is None
    assert "no worker on elsewhere" in (health.worker(redis_url, "elsewhere", 5.0) or "")
    assert "does not answer" in (health.worker("redis://127.0.0.1:9/0", hostname, 2.0) or "")
    assert health.main(["worker"]) == 1  # no GMS_BROKER_URL: unhealthy, with the reason
