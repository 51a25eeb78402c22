"""Redelivery of the tasks of a worker that died, within seconds instead of a visibility timeout.

Kombu's Redis transport puts an unacknowledged message back only once it is older than the
visibility timeout, which must be longer than the longest pipeline. Each running task keeps a
heartbeat, and each worker a liveness key; a message whose task has no heartbeat (its worker
died) is marked as expired, and kombu's next sweep (every second) puts it back in the queue.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import cast

from ..models import TaskStatus
from .records import TaskRecords
from .service import EXECUTE_TAKES

log = logging.getLogger(__name__)
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


class Recovery:
    """Finds unacknowledged messages of dead workers and hands them back to kombu."""

    def __init__(self, records: TaskRecords, hostname: str, started: float | None = None) -> None:
        self.records = records
        self.client = records.client
        self.hostname = hostname
        self.started = started if started is not None else time.time()

    def sweep(self) -> list[str]:
        """Expire the messages of tasks no live worker holds; the task ids."""
        expired: list[str] = []
        unacked = cast(dict[bytes, bytes], self.client.hgetall(UNACKED))
        if not unacked:
            return expired
        others = [w for w in self.records.live_workers() if w != self.hostname]
        for tag, payload in unacked.items():
            task_ids = _task_ids(payload)
            if not task_ids or any(self.records.heartbeat_of(t) for t in task_ids):
                continue
            delivered = self.client.zscore(UNACKED_INDEX, tag)
            if delivered is None or delivered == 0:
                continue
            found = [self.records.find(t) for t in task_ids]
            # not a generation (a scheduled commit), or done and about to be acked
            left = [r for r in found if r is not None and not r.status.finished]
            if not left:
                continue
            task_id = left[0].task_id
            running = any(r.status == TaskStatus.running for r in left)
            # a running task without heartbeat lost its worker; a queued one is orphaned only
            # if it was taken before this worker started and no other worker is alive to run it
            orphaned = delivered < self.started - 1 and not others
            if running or orphaned:
                if time.time() - delivered < 2:
                    continue  # just delivered: its worker may not have started it yet
                self.client.zadd(UNACKED_INDEX, {tag.decode(): 0})
                expired.append(task_id)
                log.warning("task %s lost its worker; it will be redelivered", task_id)
        return expired


def _task_ids(payload: bytes | str) -> list[str]:
    """The studio tasks a message runs: its own id, or for a message of several takes
    (`EXECUTE_TAKES`) the ids its arguments name."""
    try:
        message = json.loads(payload)[0]
        headers = message.get("headers") or {}
        if headers.get("task") == EXECUTE_TAKES:
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            ids = json.loads(body)[1]["task_ids"]
            return [t for t in ids if isinstance(t, str)] if isinstance(ids, list) else []
        task_id = headers.get("id") or message.get("properties", {}).get("correlation_id")
    except (ValueError, IndexError, AttributeError, TypeError, KeyError):
        return []
    return [task_id] if isinstance(task_id, str) else []
