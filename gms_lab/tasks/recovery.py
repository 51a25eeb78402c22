"""Redelivery of the tasks of a worker that died, within seconds instead of a visibility timeout,
and of the messages a broken connection left behind.

Kombu's Redis transport puts an unacknowledged message back only once it is older than the
visibility timeout, which must be longer than the longest pipeline. Each running task keeps a
heartbeat, and each worker a liveness key; a message whose task has no heartbeat (its worker
died) is marked as expired, and kombu's next sweep (every second) puts it back in the queue.

A connection that breaks can leave two more kinds of message behind (see `transport`): one taken
into a worker's claim list but never booked, and one booked by a worker that no longer runs it
(its task could not start, and its rejection could not reach Redis). The first goes back to its
queue once a sweep finds it still there at the next sweep; the second is expired like a dead
worker's, by its own worker (which knows what it runs) or by any worker once its holder is gone.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any, cast

from ..models import TaskStatus
from .records import TaskRecords
from .service import EXECUTE_TAKES
from .transport import CLAIMS, HOLDERS, claim_key, claim_of

log = logging.getLogger(__name__)
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
#: A message is delivered this long (seconds) before a sweep may hand it back: its worker may
#: not have started its task yet.
SETTLING = 2.0

#: A claimed message goes back to its queue (where a worker takes it next), unless it was
#: booked meanwhile: KEYS claim list, queue; ARGV the message.
_GIVE_BACK = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""
#: The holders of messages no longer unacknowledged are forgotten: KEYS holders, unacked hash;
#: ARGV tags.
_FORGET = """
for _, tag in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[2], tag) == 0 then
    redis.call('HDEL', KEYS[1], tag)
  end
end
"""


class Recovery:
    """Finds unacknowledged messages of dead workers and hands them back to kombu."""

    def __init__(
        self,
        records: TaskRecords,
        hostname: str,
        started: float | None = None,
        queue: str = "gms",
        running: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.records = records
        self.client = records.client
        self.hostname = hostname
        self.started = started if started is not None else time.time()
        #: This worker's own claim list (swept even if the set of them lost its name).
        self.own_claims = claim_key(queue, hostname)
        #: The ids of the messages this worker's threads run now.
        self.running = running
        #: What the last sweep saw in each claim list.
        self._claimed: dict[bytes, set[bytes]] = {}
        self._give_back = self.client.register_script(_GIVE_BACK)
        self._forget = self.client.register_script(_FORGET)

    def sweep(self) -> list[str]:
        """Hand back what was lost; the ids of the tasks whose messages were expired."""
        live = set(self.records.live_workers())
        self.return_claims(live)
        return self.expire_unacked(live)

    def return_claims(self, live: set[str]) -> int:
        """Put each message found in a claim list at the last sweep, and still there, back in
        its queue; the number put back. A claim lasts a round trip: one there since the last
        sweep was never booked (its worker's connection broke, or its worker died)."""
        keys = {cast(bytes, k) for k in cast(set[Any], self.client.smembers(CLAIMS))}
        keys.add(self.own_claims.encode())
        keys_in_order = sorted(keys)
        pipe = self.client.pipeline(transaction=False)
        for key in keys_in_order:
            pipe.lrange(key, 0, -1)
        contents = pipe.execute()
        seen: dict[bytes, set[bytes]] = {}
        returned = 0
        for key, items in zip(keys_in_order, contents, strict=True):
            claim = claim_of(key)
            if claim is None:
                continue
            queue, worker = claim
            before = self._claimed.get(key, set())
            now = set(cast(list[bytes], items))
            for item in now & before:
                returned += int(cast(int, self._give_back(keys=[key, queue], args=[item])))
            seen[key] = now - before
            if not seen[key] and worker != self.hostname and worker not in live:
                self.client.srem(CLAIMS, key)  # a dead worker's, emptied: named again if it
                # comes back
        self._claimed = seen
        if returned:
            log.warning("%d message(s) taken but never booked went back to their queue", returned)
        return returned

    def expire_unacked(self, live: set[str]) -> list[str]:
        """Expire the messages of tasks no live worker runs; the task ids."""
        expired: list[str] = []
        holders = cast(dict[bytes, bytes], self.client.hgetall(HOLDERS))
        unacked = cast(dict[bytes, bytes], self.client.hgetall(UNACKED))
        gone = [tag for tag in holders if tag not in unacked]
        if gone:
            self._forget(keys=[HOLDERS, UNACKED], args=gone)
        if not unacked:
            return expired
        running_here = set(self.running())
        for tag, payload in unacked.items():
            message_id, task_ids = _task_ids(payload)
            if not task_ids or any(self.records.heartbeat_of(t) for t in task_ids):
                continue
            delivered = self.client.zscore(UNACKED_INDEX, tag)
            if delivered is None or delivered == 0 or time.time() - delivered < SETTLING:
                continue  # gone, expired already, or just delivered
            found = [self.records.find(t) for t in task_ids]
            # not a generation (a scheduled commit), or done and about to be acked
            left = [r for r in found if r is not None and not r.status.finished]
            if not left:
                continue
            holder = holders.get(tag)
            # a running task without heartbeat lost its worker; a pending one is lost when its
            # holder is gone, or is this worker and none of its threads runs it
            if any(r.status == TaskStatus.running for r in left):
                lost = True
            elif holder is None:  # booked before holders were named: the old rule
                lost = delivered < self.started - 1 and not live - {self.hostname}
            elif holder.decode() == self.hostname:
                lost = message_id not in running_here
            else:
                lost = holder.decode() not in live
            if not lost:
                continue
            self.client.zadd(UNACKED_INDEX, {tag.decode(): 0})
            expired.append(left[0].task_id)
            log.warning("task %s lost its worker; it will be redelivered", left[0].task_id)
        return expired


def _task_ids(payload: bytes | str) -> tuple[str | None, list[str]]:
    """A message's id and the studio tasks it runs: its own id, or for a message of several
    takes (`EXECUTE_TAKES`) the ids its arguments name."""
    try:
        message = json.loads(payload)[0]
        headers = message.get("headers") or {}
        task_id = headers.get("id") or message.get("properties", {}).get("correlation_id")
        message_id = task_id if isinstance(task_id, str) else None
        if headers.get("task") == EXECUTE_TAKES:
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            ids = json.loads(body)[1]["task_ids"]
            tasks = [t for t in ids if isinstance(t, str)] if isinstance(ids, list) else []
            return message_id, tasks
    except (ValueError, IndexError, AttributeError, TypeError, KeyError):
        return None, []
    return message_id, [message_id] if message_id else []
