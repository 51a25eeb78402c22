"""Task records in Redis: status, progress, step, seq, result or error; they outlive restarts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from ..core.errors import InvalidInput, NotFound
from ..models import TaskPage, TaskRecord, utcnow

TASK_KEY = "gms:task:"
PROJECT_TASKS = "gms:tasks:"
CANCEL_KEY = "gms:cancel:"
HEARTBEAT_KEY = "gms:heartbeat:"
WORKER_KEY = "gms:worker:"
TRASHED_TASKS = "gms:trash:tasks:"
#: How many tasks a project's history keeps by default (setting `task_history`).
KEEP_PER_PROJECT = 10_000
_RECORD_TTL = 60 * 60 * 24 * 30
#: Set KEYS[1] to ARGV[2] only if it still holds ARGV[1] (the record as it was read).
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


class TaskRecords:
    """Reads and changes task records; every change bumps `seq` atomically."""

    def __init__(self, client: redis.Redis, keep: int = KEEP_PER_PROJECT) -> None:
        self.client = client
        self._swap = client.register_script(_SWAP)
        #: How many tasks a project's list keeps (the oldest go first).
        self.keep = keep

    def create(self, record: TaskRecord) -> TaskRecord:
        """Store a new record and list it under its project."""
        pipe = self.client.pipeline()
        pipe.set(TASK_KEY + record.task_id, record.model_dump_json(by_alias=True), ex=_RECORD_TTL)
        pipe.zadd(PROJECT_TASKS + record.project_id, {record.task_id: time.time()})
        pipe.zremrangebyrank(PROJECT_TASKS + record.project_id, 0, -self.keep - 1)
        pipe.execute()
        return record

    def discard(self, record: TaskRecord) -> None:
        """Forget a record that was never queued (a submit undone)."""
        pipe = self.client.pipeline()
        pipe.delete(TASK_KEY + record.task_id)
        pipe.zrem(PROJECT_TASKS + record.project_id, record.task_id)
        pipe.execute()

    def get(self, task_id: str) -> TaskRecord:
        """The record of a task, or `NotFound`."""
        raw = self.client.get(TASK_KEY + task_id)
        if raw is None:
            raise NotFound(f"No task {task_id!r}.", {"taskId": task_id})
        return TaskRecord.model_validate_json(raw)

    def find(self, task_id: str) -> TaskRecord | None:
        """The record of a task, or None."""
        raw = self.client.get(TASK_KEY + task_id)
        return None if raw is None else TaskRecord.model_validate_json(raw)

    def begin(self, task_id: str) -> tuple[TaskRecord | None, bytes | None, bool]:
        """What a worker reads first, in one round trip: the record (None if unknown), the
        record as stored (for `update(read=...)`), and whether a cancel was asked for."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(TASK_KEY + task_id)
        pipe.exists(CANCEL_KEY + task_id)
        raw, cancel = pipe.execute()
        record = None if raw is None else TaskRecord.model_validate_json(raw)
        return record, raw, bool(cancel)

    def update(
        self,
        task_id: str,
        change: Callable[[TaskRecord], Any],
        bump: bool = True,
        read: bytes | None = None,
    ) -> TaskRecord:
        """Apply `change` to the record and bump its `seq`: read, change, then compare-and-set
        (two round trips, one when the record as read is given; another writer in between
        makes it start again)."""
        key = TASK_KEY + task_id
        while True:
            raw, read = (read, None) if read is not None else (self.client.get(key), None)
            if raw is None:
                raise NotFound(f"No task {task_id!r}.", {"taskId": task_id})
            record = TaskRecord.model_validate_json(raw)
            change(record)
            if bump:
                record.seq += 1
            new = record.model_dump_json(by_alias=True)
            if self._swap(keys=[key], args=[raw, new, _RECORD_TTL]):
                return record

    def for_project(self, project_id: str, limit: int = 200) -> list[TaskRecord]:
        """The project's newest tasks first (the first page of `page`)."""
        return self.page(project_id, limit).tasks

    def page(self, project_id: str, limit: int = 100, cursor: str | None = None) -> TaskPage:
        """One page of the project's tasks, newest first, after `cursor` (from the last page).

        The cursor names the last task handed out (its time and id), so tasks submitted
        meanwhile never shift a page nor show twice. Records that expired are skipped.
        """
        key = PROJECT_TASKS + project_id
        after = _parse_cursor(cursor)
        limit = max(1, limit)
        top: float | str = "+inf" if after is None else after[0]
        chosen: list[tuple[str, float]] = []
        offset = 0
        more = False
        while True:
            # one extra to know whether more exist; ties in time come in reverse id order
            batch = cast(
                list[tuple[bytes, float]],
                self.client.zrevrangebyscore(
                    key, top, "-inf", start=offset, num=limit + 1, withscores=True
                ),
            )
            for raw_id, score in batch:
                task_id = raw_id.decode()
                if after is not None and score == after[0] and task_id >= after[1]:
                    continue
                if len(chosen) == limit:
                    more = True
                    break
                chosen.append((task_id, score))
            if more or len(batch) < limit + 1:
                break
            offset += len(batch)
        total = int(self.client.zcard(key))
        tasks: list[TaskRecord] = []
        if chosen:
            raws = cast(list[bytes | None], self.client.mget([TASK_KEY + i for i, _ in chosen]))
            tasks = [TaskRecord.model_validate_json(r) for r in raws if r is not None]
        last = chosen[-1] if chosen else None
        next_cursor = f"{last[1]!r}:{last[0]}" if more and last is not None else None
        return TaskPage(tasks=tasks, next_cursor=next_cursor, more=more, total=total)

    # a trashed project's records wait beside its trash item
    def stash_project(self, project_id: str, item_id: str) -> None:
        """Move the project's task list aside (its project went to the trash as `item_id`)."""
        self._merge(PROJECT_TASKS + project_id, TRASHED_TASKS + item_id)

    def unstash_project(self, item_id: str, project_id: str) -> None:
        """Bring a restored project's task list back."""
        self._merge(TRASHED_TASKS + item_id, PROJECT_TASKS + project_id)

    def drop_stash(self, item_id: str) -> None:
        """Erase the records of a project erased from the trash."""
        key = TRASHED_TASKS + item_id
        ids = cast(list[bytes], self.client.zrange(key, 0, -1))
        pipe = self.client.pipeline()
        for task_id in ids:
            pipe.delete(TASK_KEY + task_id.decode())
        pipe.delete(key)
        pipe.execute()

    def _merge(self, source: str, target: str) -> None:
        pipe = self.client.pipeline()
        pipe.zunionstore(target, [target, source], aggregate="MAX")
        pipe.delete(source)
        pipe.execute()

    # cancel flags, heartbeats, live workers
    def request_cancel(self, task_id: str) -> None:
        """Ask the worker running the task to stop it."""
        self.client.set(CANCEL_KEY + task_id, "1", ex=_RECORD_TTL)

    def cancel_requested(self, task_id: str) -> bool:
        """Whether someone asked to cancel the task."""
        return bool(self.client.exists(CANCEL_KEY + task_id))

    def heartbeat(self, task_id: str, worker: str, ttl: float) -> None:
        """The task is alive on `worker`."""
        self.client.set(HEARTBEAT_KEY + task_id, worker, px=int(ttl * 1000))

    def clear_heartbeat(self, task_id: str) -> None:
        """The task no longer runs here."""
        self.client.delete(HEARTBEAT_KEY + task_id)

    def heartbeat_of(self, task_id: str) -> str | None:
        """The worker holding the task's heartbeat, if it is fresh."""
        raw = self.client.get(HEARTBEAT_KEY + task_id)
        return raw.decode() if isinstance(raw, bytes) else raw

    def worker_alive(self, hostname: str, ttl: float) -> None:
        """The worker `hostname` is running."""
        self.client.set(WORKER_KEY + hostname, str(time.time()), px=int(ttl * 1000))

    def live_workers(self) -> list[str]:
        """The hostnames of the workers whose liveness key is fresh."""
        names = []
        for key in self.client.scan_iter(match=WORKER_KEY + "*", count=100):
            text = key.decode() if isinstance(key, bytes) else key
            names.append(text.removeprefix(WORKER_KEY))
        return sorted(names)


#: A cursor as `page` hands it out: the last task's score (a time) and its id; empty is the
#: first page.
CURSOR_PATTERN = r"^(-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?:[0-9A-Za-z_-]+)?$"


def _parse_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    score, _, task_id = cursor.partition(":")
    try:
        if not re.match(CURSOR_PATTERN, cursor):
            raise ValueError(cursor)
        return float(score), task_id
    except ValueError:
        raise InvalidInput(
            "The cursor is not one this server handed out; start from the first page.",
            {"cursor": cursor},
        ) from None


def finish(record: TaskRecord, status: Any, **fields: Any) -> None:
    """Set a final status and the finish time (helper for `TaskRecords.update`)."""
    record.status = status
    record.finished = utcnow()
    for name, value in fields.items():
        setattr(record, name, value)
