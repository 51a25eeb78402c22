"""kombu's Redis broker transport, with one Redis client reused instead of one per command and
one script call where kombu makes a transaction of each message's bookkeeping.

kombu builds a new `redis.Redis` for every acknowledgement, every unacknowledged-message
record and every publish; with redis-py 8 building one (it copies its tables of reply
callbacks) costs more than the round trip it is for, and it was the largest part of a worker's
own time per task. The connection pool is the same each time, so one client per pool serves
them all (redis-py clients are safe to share between threads). Celery uses it through the
setting `broker_transport` (see `celery_app.celery_settings`).

With late acknowledgement (no task is lost with its worker), kombu records each message it
delivers as unacknowledged (its delivery time in a sorted set, the message in a hash) and
removes both at the acknowledgement, each time in a MULTI/EXEC pipeline. `QoS` does each as
one Lua script call instead: as atomic (a script runs alone, and it touches the keys kombu's
restore watches like the transaction did), the same keys and values, one reply to parse. A
message delivered and acknowledged cost 139 µs of CPU through kombu's pipelines, 88-99 µs
through the scripts (timed alone on a real Redis; `py-spy` had put the pipelines at a quarter
of a worker's Python time, which overstated them).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps

#: A delivered message is unacknowledged: KEYS index, hash; ARGV tag, delivered at, message.
_DELIVERED = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
"""
#: A message is acknowledged (or rejected for good): KEYS index, hash; ARGV tag.
_ACKED = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
"""


class QoS(kombu_redis.QoS):
    """kombu's emulation of acknowledgements on Redis, its two pipelines made scripts."""

    _client: Any = None
    _registered: tuple[Any, Any] = (None, None)

    def _scripts(self) -> tuple[Any, Any]:
        """`_DELIVERED` and `_ACKED`, registered on the channel's client (again for a new
        client, after a reconnect)."""
        client = self.channel._create_client()  # type: ignore[attr-defined]
        if client is not self._client:
            self._client = client
            self._registered = (client.register_script(_DELIVERED), client.register_script(_ACKED))
        return self._registered

    def append(self, message: Any, delivery_tag: str) -> None:
        delivery = message.delivery_info
        record = [message._raw, delivery["exchange"], delivery["routing_key"]]
        try:
            payload: bytes | str = orjson.dumps(record)
        except TypeError:  # a value plain JSON does not carry: kombu's encoder knows it
            payload = dumps(record)
        delivered, _ = self._scripts()
        keys = [self.unacked_index_key, self.unacked_key]
        delivered(keys=keys, args=[delivery_tag, time.time(), payload])
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        _, acked = self._scripts()
        acked(keys=[self.unacked_index_key, self.unacked_key], args=[delivery_tag])
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            super().reject(delivery_tag, requeue=True)
        else:
            self.ack(delivery_tag)


class Channel(kombu_redis.Channel):
    """A kombu Redis channel whose synchronous client is made once per connection pool."""

    QoS = QoS
    _reused: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool
        reused = self._reused
        if reused is None or reused.connection_pool is not pool:  # a new pool after a reconnect
            reused = self._reused = super()._create_client()  # type: ignore[misc]
        return reused


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with `Channel`."""

    Channel = Channel
