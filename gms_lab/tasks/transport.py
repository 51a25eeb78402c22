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

No message is lost between its pop and its booking. kombu pops a message (`BRPOP`) and books
it as unacknowledged in a second call: Redis dying (or the connection breaking) between the two
lost the message for good, its task left pending (a clean-clone CI run caught it once). A worker
consuming one queue here takes a message with `BLMOVE` instead, atomically into a list of its
own (`claim_key`), and the booking script takes it out of that list as it books it. A message
left in a claim list was never booked; `recovery.Recovery` hands it back to the queue. Each
booking also names the worker that holds it (`HOLDERS`), so the sweep can tell a message a live
worker runs from one it lost with a broken connection.
"""

from __future__ import annotations

import os
import socket
import time
from queue import Empty
from typing import Any

import orjson
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

#: The names of the workers' claim lists (a set).
CLAIMS = "gms:claims"
#: A booked message's delivery tag -> the worker holding it (a hash).
HOLDERS = "gms:unacked:holders"
_CLAIMED = "gms:claimed:"
_SEP = "|"

#: A delivered message is unacknowledged: KEYS index, hash, holders, claim list; ARGV tag,
#: delivered at, message, holder, the message as claimed ('' when it was not).
_DELIVERED = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('LREM', KEYS[4], -1, ARGV[5])
end
"""
#: A message is acknowledged (or rejected for good): KEYS index, hash, holders; ARGV tag.
_ACKED = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
"""


class Holding:
    """Who this process consumes as: its worker's name (as its liveness key names it; the
    worker sets it before it starts consuming)."""

    worker: str = f"{socket.gethostname()}-{os.getpid()}"


def claim_key(queue: str, worker: str) -> str:
    """The list a worker's messages from `queue` pass through between pop and booking."""
    return f"{_CLAIMED}{queue}{_SEP}{worker}"


def claim_of(key: str | bytes) -> tuple[str, str] | None:
    """The queue and worker a claim list is for (None for a name not made by `claim_key`)."""
    text = key.decode() if isinstance(key, bytes) else key
    if not text.startswith(_CLAIMED) or _SEP not in text:
        return None
    queue, _, worker = text[len(_CLAIMED) :].rpartition(_SEP)
    return queue, worker


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
        transport: Any = self.channel.connection
        key, claimed = transport.claimed or (CLAIMS, b"")
        transport.claimed = None
        keys = [self.unacked_index_key, self.unacked_key, HOLDERS, key]
        args = [delivery_tag, time.time(), payload, Holding.worker, claimed]
        delivered(keys=keys, args=args)
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        _, acked = self._scripts()
        acked(keys=[self.unacked_index_key, self.unacked_key, HOLDERS], args=[delivery_tag])
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            super().reject(delivery_tag, requeue=True)
        else:
            self.ack(delivery_tag)


class Channel(kombu_redis.Channel):
    """A kombu Redis channel whose synchronous client is made once per connection pool, and
    which takes the messages of a single queue through its worker's claim list."""

    QoS = QoS
    _reused: Any = None
    #: The queue and claim list of the `BLMOVE` under way.
    _claiming: tuple[str, str] | None = None
    _registered_claims: frozenset[str] = frozenset()
    #: Whether the server has `BLMOVE` (Redis 6.2), asked once a channel.
    _can_claim: bool | None = None

    def _brpop_start(self, timeout: float | None = None) -> None:
        kombu: Any = super()  # kombu's channel (its stubs know little of it)
        me: Any = self
        queues = list(self.active_queues)
        if self._can_claim is None:
            server = self._create_client().info("server")
            self._can_claim = has_blmove(str(server.get("redis_version", "0")))
        if (
            len(queues) != 1
            or len(self.priority_steps) != 1
            or self.global_keyprefix
            or not self._can_claim
        ):
            self._claiming = None
            kombu._brpop_start(timeout)
            return
        queue = queues[0]
        key = claim_key(queue, Holding.worker)
        if key not in self._registered_claims:  # once a channel: the sweep finds it there
            self._create_client().sadd(CLAIMS, key)
            self._registered_claims = self._registered_claims | {key}
        wait = me.brpop_timeout if timeout is None else timeout
        me._in_poll = me.client.connection
        me._brpop_sent_at = time.monotonic()
        self._claiming = (queue, key)
        me.client.connection.send_command("BLMOVE", queue, key, "RIGHT", "LEFT", wait or 0)

    def _brpop_read(self, **options: Any) -> bool:
        kombu: Any = super()
        me: Any = self
        claiming = self._claiming
        if claiming is None:
            return bool(kombu._brpop_read(**options))
        queue, key = claiming
        try:
            try:
                item = me.client.parse_response(me.client.connection, "BLMOVE", **options)
            except me.connection_errors:
                me.client.connection.disconnect()  # the next poll reconnects
                raise
            if item is None:
                raise Empty()
            transport = me.connection
            transport.claimed = (key, item)  # the booking takes it out of the claim list
            try:
                transport._deliver(loads(bytes_to_str(item)), queue)
            finally:
                transport.claimed = None
            return True
        finally:
            me._in_poll = None
            self._claiming = None
            me._flush_brpop_reauth()

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool
        reused = self._reused
        if reused is None or reused.connection_pool is not pool:  # a new pool after a reconnect
            reused = self._reused = super()._create_client()  # type: ignore[misc]
        return reused


def has_blmove(version: str) -> bool:
    """Whether a Redis server of `version` has `BLMOVE` (6.2 and later); without it a worker
    takes its messages with kombu's `BRPOP` (and its window between the pop and the booking)."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts))) >= (6, 2)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with `Channel`."""

    Channel = Channel
    #: The claim list and the message just taken from it, while it is delivered.
    claimed: tuple[str, bytes] | None = None
