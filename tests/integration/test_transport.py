"""The broker transport's acknowledgement bookkeeping (`gms_lab.tasks.transport.QoS`) keeps
kombu's layout on a real Redis: what it records for a delivered message, kombu's own restore
puts back in the queue, and an acknowledgement leaves nothing behind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection, Exchange, Producer, Queue

from gms_lab.tasks.transport import QoS, Transport
from tests.services import redis_server

QUEUE = Queue("transport-test", Exchange("transport-test"), routing_key="transport-test")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of its own: no worker of the session's Redis has messages in its keys."""
    with redis_server(tmp_path / "redis") as url:
        yield url


def _publish(connection: Connection, body: dict[str, object]) -> None:
    Producer(connection.default_channel).publish(
        body, exchange=QUEUE.exchange, routing_key=QUEUE.routing_key, declare=[QUEUE]
    )


def test_a_delivered_message_is_recorded_as_kombu_does_and_kombu_restores_it(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(url=redis_url)
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        assert isinstance(channel.qos, QoS)
        _publish(connection, {"take": 1})
        before = time.time()
        message = channel.basic_get(QUEUE.name)
        assert message is not None and message.payload == {"take": 1}
        tag = message.delivery_tag
        # recorded as kombu's transaction recorded it: the message, its exchange and key, and
        # when it was delivered
        raw, exchange, routing_key = json.loads(client.hget("unacked", tag) or b"null")
        assert raw == message._raw
        assert (exchange, routing_key) == (QUEUE.exchange.name, QUEUE.routing_key)
        delivered = client.zscore("unacked_index", tag)
        assert delivered is not None and before - 1 <= delivered <= time.time() + 1
        assert client.llen(QUEUE.name) == 0
        # kombu's own restore (its sweep after a worker died) finds it and queues it again
        channel.qos.restore_by_tag(tag)
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0
        again = channel.basic_get(QUEUE.name)
        assert again is not None and again.payload == {"take": 1}
        again.ack()
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0


def test_an_acknowledged_or_rejected_message_leaves_nothing_behind(redis_url: str) -> None:
    client = redis.Redis.from_url(url=redis_url)
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        for take in (1, 2, 3):
            _publish(connection, {"take": take})
        first, second, third = (channel.basic_get(QUEUE.name) for _ in range(3))
        assert first is not None and second is not None and third is not None
        assert client.hlen("unacked") == 3 and client.zcard("unacked_index") == 3
        first.ack()
        second.reject()  # for good
        assert client.hkeys("unacked") == [third.delivery_tag.encode()]
        third.requeue()  # back to the queue, at its head
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0
        assert client.llen(QUEUE.name) == 1
        back = channel.basic_get(QUEUE.name)
        assert back is not None and back.payload == {"take": 3}
        back.ack()
        assert client.hlen("unacked") == 0 and client.llen(QUEUE.name) == 0
