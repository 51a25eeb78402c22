"""kombu's Redis broker transport, with one Redis client reused instead of one per command.

kombu builds a new `redis.Redis` for every acknowledgement, every unacknowledged-message
record and every publish; with redis-py 8 building one (it copies its tables of reply
callbacks) costs more than the round trip it is for, and it was the largest part of a worker's
own time per task. The connection pool is the same each time, so one client per pool serves
them all (redis-py clients are safe to share between threads). Celery uses it through the
setting `broker_transport` (see `celery_app.celery_settings`).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """A kombu Redis channel whose synchronous client is made once per connection pool."""

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
