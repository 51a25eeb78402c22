"""The event publisher of a process (the worker's, a notebook's) on a real Redis: order, waiting
for one's own events, and the bound when Redis does not answer."""

from __future__ import annotations

import threading
import time

import redis

from gms_lab.events import EventPublisher, Pong, channel
from tests.services import free_port


def test_each_thread_waits_for_its_own_events_which_arrive_in_order(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.subscribe(channel("harbour"))
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    publisher = EventPublisher(client)
    waited: dict[str, bool] = {}

    def thread(name: str, count: int) -> None:
        for i in range(count):  # which thread, and its count: in the pong's time
            publisher.publish("harbour", Pong(time="abc".index(name) * 1000 + i))
        waited[name] = publisher.flush_mine(5.0)
        # everything this thread queued is done with when it returns
        assert publisher._done >= publisher._mine.ticket

    threads = [threading.Thread(target=thread, args=(n, 300)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert waited == {"a": True, "b": True, "c": True}
    heard: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    deadline = time.monotonic() + 10
    while sum(map(len, heard.values())) < 900 and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        if message and message["type"] == "message":
            sent = int(Pong.model_validate_json(message["data"]).time or 0)
            heard["abc"[sent // 1000]].append(sent % 1000)
    assert heard == {n: list(range(300)) for n in heard}  # none lost, each thread's in order
    assert publisher.sent == 900 and publisher.dropped == 0
    assert publisher.flush(1.0)
    listener.close()


def test_a_thread_waits_for_its_events_up_to_a_ticket_not_for_those_after(
    redis_url: str,
) -> None:
    """A task's success waits for its progress events, not for the project's change events
    its own filing queued after them."""
    publisher = EventPublisher(redis.Redis.from_url(redis_url))
    publisher.publish("harbour", Pong(time=1))
    progressed = publisher.mine()
    assert publisher.flush_mine(5.0, upto=progressed)
    held, holding = threading.Event(), threading.Event()

    def hold(_pipeline: object) -> None:  # the sender is busy with what came after
        holding.set()
        held.wait(10)

    publisher.later(hold)
    publisher.publish("harbour", Pong(time=2))
    assert holding.wait(5)
    start = time.monotonic()
    assert publisher.flush_mine(5.0, upto=progressed)  # at once
    assert time.monotonic() - start < 0.5
    assert not publisher.flush_mine(0.2)  # the later ones are not sent yet
    held.set()
    assert publisher.flush_mine(5.0) and publisher.sent == 3  # two events, the commands


def test_a_thread_that_published_nothing_does_not_wait(redis_url: str) -> None:
    publisher = EventPublisher(redis.Redis.from_url(redis_url))
    start = time.monotonic()
    assert publisher.flush_mine(5.0) and publisher.flush(5.0)
    assert time.monotonic() - start < 0.5


def test_without_redis_events_are_dropped_counted_and_bounded() -> None:
    gone = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    publisher = EventPublisher(gone, limit=5)
    for i in range(50):
        publisher.publish("harbour", Pong(time=i))
    # the sender gives each batch up (nothing answers); the queue never held more than 5
    assert publisher.flush(10.0)
    assert publisher.sent == 0
    assert publisher.dropped == 50
    assert publisher._queued <= 50 and publisher._queued - publisher._done == 0


def test_a_forked_child_never_waits_on_what_its_parent_was_sending(redis_url: str) -> None:
    """A Celery pool process is forked from a worker whose sender may hold its locks and have
    events in flight: the child's flushes return at once, and its own events still go out."""
    import os

    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.subscribe(channel("child"))
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    publisher = EventPublisher(client)
    publisher.publish("harbour", Pong(time=1))
    assert publisher.flush(5.0)
    publisher._queued += 1  # an event in flight at the fork, as the parent sees it
    with publisher._sent_cond:  # the parent's sender holds its lock as the child is made
        pid = os.fork()
        if pid == 0:  # the child: never returns to pytest
            code = 1
            try:
                start = time.monotonic()
                flushed = publisher.flush(5.0) and publisher.flush_mine(5.0)
                publisher.publish("child", Pong(time=2))  # a sender of its own
                mine = publisher.flush_mine(5.0)
                code = 0 if flushed and mine and time.monotonic() - start < 2 else 2
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    publisher._queued -= 1
    assert os.waitstatus_to_exitcode(status) == 0
    message = listener.get_message(timeout=5)
    assert message is not None and Pong.model_validate_json(message["data"]).time == 2
    listener.close()
