"""Messages a broken connection leaves behind are found and run, once.

Between a worker taking a message and booking it as unacknowledged, Redis can die (a CI run
of the Redis fault test lost a take so: its record stayed pending for good). And a message can
be booked, then dropped by its worker: the connection breaks, Celery forgets the requests it
had not started, and the task's rejection cannot reach Redis. Each test leaves a message in the
state that break leaves it in, on a real Redis, and a real worker must find it and run it once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gms_lab.config import StudioConfig
from gms_lab.models import TaskRecord, TaskStatus, TaskSubmit
from gms_lab.tasks.celery_app import QUEUE
from gms_lab.tasks.records import WORKER_KEY, TaskRecords
from gms_lab.tasks.recovery import UNACKED, UNACKED_INDEX
from gms_lab.tasks.service import TaskService
from gms_lab.tasks.transport import CLAIMS, HOLDERS, claim_key, has_blmove
from tests.services import (
    Worker,
    project_with_shot,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)

GHOST = "ghost-worker@nowhere"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of the test's own: no other worker takes its messages."""
    with redis_server(tmp_path / "redis") as url:
        yield url


#: The studio's settings, its task service and a client of its Redis.
Studio = tuple[StudioConfig, TaskService, redis.Redis]


@pytest.fixture
def studio(own_redis: str, tmp_path: Path) -> Studio:
    """The studio's settings (no auto-commit), its task service and a client of its Redis."""
    config = studio_config(tmp_path / "ws", broker_url=own_redis, auto_commit=False)
    return config, task_service(config, own_redis), redis.Redis.from_url(own_redis)


def queued_take(service: TaskService, client: redis.Redis, name: str) -> tuple[TaskRecord, bytes]:
    """A take submitted while no worker runs: its record, and its message in the queue."""
    project, shot = project_with_shot(service.ctx.core, name)
    record = service.submit(
        TaskSubmit(project_id=project, node_id=shot, pipeline="slow", parameters={"seconds": 0.2})
    )
    [message] = client.lrange(QUEUE, 0, -1)
    return record, message


def ran_once(service: TaskService, record: TaskRecord, within: float) -> float:
    """Wait for the take to complete; how long it took. It ran once and was filed once."""
    started = time.monotonic()
    wait_until(lambda: service.ctx.records.get(record.task_id).status.finished, within, 0.1)
    final = service.ctx.records.get(record.task_id)
    assert final.status == TaskStatus.completed, final
    assert final.attempts == 1
    project = service.ctx.core.projects.get(record.project_id)
    takes = project.chapters[0].scenes[0].shots[0].takes
    assert [(t.id, t.status) for t in takes] == [(record.take_id, "completed")]
    return time.monotonic() - started


@pytest.mark.parametrize("whose", ["a worker that died", "the worker itself, before a restart"])
def test_a_message_taken_and_never_booked_goes_back_to_the_queue_and_runs_once(
    studio: Studio, own_redis: str, tmp_path: Path, whose: str
) -> None:
    config, service, client = studio
    record, message = queued_take(service, client, "Pier")
    name = f"restarted-{time.monotonic_ns()}@localhost"
    # what a worker's atomic take leaves when Redis dies before its booking: the message in its
    # claim list (named in the set of them: the worker's own is swept even if it is not)
    claims = claim_key(QUEUE, GHOST if whose == "a worker that died" else name)
    assert client.lmove(QUEUE, claims, "RIGHT", "LEFT") == message
    if whose == "a worker that died":
        client.sadd(CLAIMS, claims)

    worker = Worker(config, own_redis, tmp_path / "worker.log").start(name)
    try:
        took = ran_once(service, record, 30)
    finally:
        worker.stop()
    assert client.llen(claims) == 0 and client.llen(QUEUE) == 0
    assert client.hlen(UNACKED) == 0 and client.hlen(HOLDERS) == 0
    # the worker took its messages atomically into its claim list, never with a bare pop
    commands = client.info("commandstats")
    assert commands["cmdstat_blmove"]["calls"] >= 1 and "cmdstat_brpop" not in commands
    # the dead worker's empty list is no longer named; the live worker's own is
    assert client.smembers(CLAIMS) == {claim_key(QUEUE, name).encode()}
    print(f"\ntaken by {whose}, never booked: ran {took:.1f} s after its worker started")


def book(client: redis.Redis, message: bytes, holder: str, age: float) -> str:
    """Book `message` as unacknowledged by `holder`, `age` seconds ago, as the worker's booking
    does (see `transport.QoS.append`); its delivery tag."""
    payload = json.loads(message)
    info = payload["properties"]["delivery_info"]
    tag: str = payload["properties"]["delivery_tag"]
    pipe = client.pipeline()
    pipe.zadd(UNACKED_INDEX, {tag: time.time() - age})
    pipe.hset(UNACKED, tag, json.dumps([payload, info["exchange"], info["routing_key"]]))
    pipe.hset(HOLDERS, tag, holder)
    pipe.execute()
    return tag


@pytest.mark.parametrize("holder", ["the worker itself", "a worker that died", "a live worker"])
def test_a_message_booked_and_dropped_runs_once_and_only_once_its_holder_is_gone(
    studio: Studio, own_redis: str, tmp_path: Path, holder: str
) -> None:
    config, service, client = studio
    record, message = queued_take(service, client, "Reef")
    client.rpop(QUEUE)
    name = f"booker-{time.monotonic_ns()}@localhost"
    other = f"other-{time.monotonic_ns()}@localhost"
    records = TaskRecords(client)
    if holder == "a live worker":
        records.worker_alive(other, 60)  # alive, as far as anyone can tell
    holders = {"the worker itself": name, "a worker that died": GHOST, "a live worker": other}
    # booked by its holder, which then lost it (its connection broke, its rejection never
    # reached Redis): unacknowledged, its task pending
    book(client, message, holders[holder], age=5)

    worker = Worker(config, own_redis, tmp_path / "worker.log").start(name)
    try:
        if holder == "a live worker":
            # its holder may still run it: three sweeps leave it alone
            time.sleep(3 * 2.0 + 1)
            assert service.ctx.records.get(record.task_id).status == TaskStatus.pending
            assert client.hlen(UNACKED) == 1
            records.worker_gone(other)  # its holder is gone
        took = ran_once(service, record, 30)
    finally:
        worker.stop()
    assert client.hlen(UNACKED) == 0 and client.hlen(HOLDERS) == 0
    print(f"\nbooked by {holder} and dropped: ran {took:.1f} s after it could")


def test_the_live_workers_are_read_from_their_set_not_a_scan_of_the_keyspace(
    own_redis: str,
) -> None:
    """Every worker's sweep asks who is alive every two seconds: the answer comes from a sorted
    set of deadlines, in one round trip however many task records the keyspace holds."""
    client = redis.Redis.from_url(own_redis)
    records = TaskRecords(client)
    pipe = client.pipeline(transaction=False)
    for i in range(20_000):  # the records of a few films' takes
        pipe.set(f"gms:task:{i:032x}", "{}")
    pipe.execute()
    records.worker_alive("a@host", 60)
    records.worker_alive("b@host", 0.3)
    records.worker_alive("c@host", 60)
    before = client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
    assert records.live_workers() == ["a@host", "b@host", "c@host"]
    records.worker_gone("c@host")
    time.sleep(0.4)  # b's liveness lapses
    assert records.live_workers() == ["a@host"]
    assert client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0) == before
    # the lapsed and the gone are out of the set; the liveness key a health check reads stays
    assert client.zrange("gms:workers", 0, -1) == [b"a@host"]
    assert client.exists("gms:worker:a@host") and not client.exists("gms:worker:c@host")


def test_a_worker_shut_down_warm_is_struck_off_at_once(tmp_path: Path, own_redis: str) -> None:
    """A warm shutdown ran or gave back its tasks: the worker leaves the live workers as it
    stops (the health answer, the other workers' sweeps), not seconds later when its
    liveness would lapse; one killed stays until then."""
    records = TaskRecords(redis.Redis.from_url(own_redis))
    config = studio_config(tmp_path / "ws")
    warm = Worker(config, own_redis, tmp_path / "warm.log").start()
    killed = Worker(config, own_redis, tmp_path / "killed.log").start()
    assert {warm.name, killed.name} <= set(records.live_workers())
    warm.stop()
    killed.kill()
    live = records.live_workers()
    assert warm.name not in live and killed.name in live
    assert not records.client.exists(WORKER_KEY + warm.name)


def test_a_redis_without_blmove_is_told_apart(own_redis: str) -> None:
    """Redis before 6.2 has no `BLMOVE`: a worker there takes its messages with kombu's
    `BRPOP`, as before. The Redis here has it (the tests above saw the worker use it)."""
    version = str(redis.Redis.from_url(own_redis).info("server")["redis_version"])
    assert has_blmove(version)
    assert [has_blmove(v) for v in ("7.2.4", "6.2.0", "6.2", "7")] == [True] * 4
    assert [has_blmove(v) for v in ("6.0.16", "5.0.7", "", "unknown")] == [False] * 4
