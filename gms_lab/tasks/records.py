"""Task records in Redis: status, progress, step, seq, result or error; they outlive restarts."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis
from redis.client import Pipeline

from ..core.errors import InvalidInput, NotFound
from ..models import TaskPage, TaskRecord, utcnow

log = logging.getLogger(__name__)
TASK_KEY = "gms:task:"
PROJECT_TASKS = "gms:tasks:"
CANCEL_KEY = "gms:cancel:"
HEARTBEAT_KEY = "gms:heartbeat:"
WORKER_KEY = "gms:worker:"
#: The running workers, each scored with the time its liveness lapses (a sorted set).
WORKERS = "gms:workers"
TRASHED_TASKS = "gms:trash:tasks:"
#: Who filed a task's take: the submit ("written"), or, when the task ended before the submit
#: wrote it, the one who ended it ("finisher"); "abandoned" when the submit could not write it
#: and gave the task up. Set once by whoever comes first (`TaskRecords.settle_filing`).
FILING_KEY = "gms:filing:"
WRITTEN, FINISHER, ABANDONED = "written", "finisher", "abandoned"
#: Records this process wrote last, kept to compare-and-set the next change in one round trip.
_KNOWN_RECORDS = 256
#: How many tasks a project's history keeps by default (setting `task_history`).
KEEP_PER_PROJECT = 10_000
_RECORD_TTL = 60 * 60 * 24 * 30
#: Set KEYS[1] to ARGV[2] only if it still holds ARGV[1] (the record as it was read).
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  for i = 4, #ARGV - 1, 2 do
    redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
  end
  return 1
end
return 0
"""


class RecordUnchanged(Exception):
    """Raised by a change given to `TaskRecords.update` to leave the record as it is."""


class TaskRecords:
    """Reads and changes task records; every change bumps `seq` atomically."""

    def __init__(self, client: redis.Redis, keep: int = KEEP_PER_PROJECT) -> None:
        self.client = client
        self._swap = client.register_script(_SWAP)
        #: How many tasks a project's list keeps (the oldest go first).
        self.keep = keep
        # the record as this process last wrote it, per task: the next change of a running
        # task (which only its worker changes) is then one round trip, not a read and a write
        self._known: OrderedDict[str, str | bytes] = OrderedDict()
        self._known_lock = threading.Lock()

    def create(self, record: TaskRecord, announce: tuple[str, str] | None = None) -> TaskRecord:
        """Store a new record and list it under its project; `announce` (channel, message) is
        published in the same round trip (before anyone else can change the record)."""
        if announce is None:
            self.create_all([record])
        else:
            self.create_all([record], announce[0], [announce[1]])
        return record

    def create_all(
        self, made: list[TaskRecord], channel: str = "", announce: Sequence[str] = ()
    ) -> None:
        """`create` for several records of one project, in one round trip; `announce` holds
        a message for each, published on `channel` in the same round trip."""
        pipe = self.client.pipeline(transaction=False)
        now = time.time()
        for i, record in enumerate(made):
            key = TASK_KEY + record.task_id
            pipe.set(key, record.model_dump_json(by_alias=True), ex=_RECORD_TTL)
            # one after the other, newest last (the list's order is the submits')
            pipe.zadd(PROJECT_TASKS + record.project_id, {record.task_id: now + i * 1e-6})
        if made:
            pipe.zremrangebyrank(PROJECT_TASKS + made[0].project_id, 0, -self.keep - 1)
        for message in announce:
            pipe.publish(channel, message)
        pipe.execute()

    def discard_all(self, made: Sequence[TaskRecord]) -> None:
        """Forget records of tasks that were never queued (a submit undone; those not stored
        are no matter), in one round trip."""
        pipe = self.client.pipeline()
        for record in made:
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

    def find_many(self, task_ids: list[str]) -> list[TaskRecord | None]:
        """The records of tasks, in one round trip; None for each task Redis has no record of."""
        if not task_ids:
            return []
        raws = cast(list[bytes | None], self.client.mget([TASK_KEY + i for i in task_ids]))
        return [None if raw is None else TaskRecord.model_validate_json(raw) for raw in raws]

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
        also: Callable[[Pipeline], None] | None = None,
        announce: Callable[[TaskRecord], Sequence[tuple[str, str]]] | None = None,
    ) -> TaskRecord:
        """Apply `change` to the record and bump its `seq`: read, change, then compare-and-set
        (another writer in between makes it start again).

        One round trip when the record as stored is known — given as `read`, or the one this
        process wrote last — else two. `also` adds commands to the same round trip (sent once).
        `announce(record)` gives the (channel, message) pairs that tell of the changed record:
        Redis publishes them when, and only when, it stores that record (in the same script).
        A change that raises `RecordUnchanged` leaves the record as it is (and returns it).
        """
        key = TASK_KEY + task_id
        raw: str | bytes | None = read if read is not None else self._recall(task_id)
        while True:
            if raw is None:
                raw = cast(bytes | None, self.client.get(key))
            if raw is None:
                raise NotFound(f"No task {task_id!r}.", {"taskId": task_id})
            record = TaskRecord.model_validate_json(raw)
            try:
                change(record)
            except RecordUnchanged:
                if also is not None:
                    pipe = self.client.pipeline(transaction=False)
                    also(pipe)
                    pipe.execute()
                return record
            if bump:
                record.seq += 1
            new = record.model_dump_json(by_alias=True)
            told = [part for pair in announce(record) for part in pair] if announce else []
            if also is None:
                swapped = self._swap(keys=[key], args=[raw, new, _RECORD_TTL, *told])
            else:
                # the script by its digest, in the same round trip as `also` (a pipeline
                # that runs a Script object first asks Redis whether it has it: one more trip)
                pipe = self.client.pipeline(transaction=False)
                also(pipe)
                also = None  # sent once, even when the swap has to start again
                pipe.evalsha(self._swap.sha, 1, key, raw, new, _RECORD_TTL, *told)
                try:
                    swapped = pipe.execute()[-1]
                except redis.exceptions.NoScriptError:  # a Redis that restarted empty
                    self.client.script_load(_SWAP)
                    continue
            if swapped:
                self._remember(task_id, None if record.status.finished else new)
                return record
            raw = None  # someone else changed it: read it again

    def _recall(self, task_id: str) -> str | bytes | None:
        with self._known_lock:
            return self._known.get(task_id)

    def _remember(self, task_id: str, raw: str | None) -> None:
        with self._known_lock:
            if raw is None:
                self._known.pop(task_id, None)
                return
            self._known[task_id] = raw
            self._known.move_to_end(task_id)
            while len(self._known) > _KNOWN_RECORDS:
                self._known.popitem(last=False)

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
        found = self.find_many([task_id for task_id, _ in chosen])
        tasks = [record for record in found if record is not None]
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

    def heartbeat(
        self, task_id: str, worker: str, ttl: float, pipe: Pipeline | None = None
    ) -> None:
        """The task is alive on `worker` (sent now, or with `pipe`)."""
        (pipe or self.client).set(HEARTBEAT_KEY + task_id, worker, px=int(ttl * 1000))

    # who files a task's take (see `TaskService.submit`)
    def settle_filing(self, task_id: str, who: str) -> str:
        """Settle who filed or files the task's take, first come first served: `WRITTEN` (the
        submit wrote it), `FINISHER` (the task ended before that and files it itself) or
        `ABANDONED` (the submit could not write it and gave the task up). The answer is the
        one that came first."""
        pipe = self.client.pipeline(transaction=False)
        self.settle_filing_with(pipe, task_id, who)
        pipe.get(FILING_KEY + task_id)
        value = pipe.execute()[-1]
        return value.decode() if isinstance(value, bytes) else str(value)

    @staticmethod
    def settle_filing_with(pipe: Pipeline, task_id: str, who: str) -> None:
        """`settle_filing` as a command of `pipe`, for a settler who needs no answer."""
        pipe.set(FILING_KEY + task_id, who, nx=True, ex=_RECORD_TTL)

    def clear_heartbeat(self, task_id: str) -> None:
        """The task no longer runs here."""
        self.client.delete(HEARTBEAT_KEY + task_id)

    def heartbeat_of(self, task_id: str) -> str | None:
        """The worker holding the task's heartbeat, if it is fresh."""
        raw = self.client.get(HEARTBEAT_KEY + task_id)
        return raw.decode() if isinstance(raw, bytes) else raw

    def worker_alive(self, hostname: str, ttl: float) -> None:
        """The worker `hostname` is running: its liveness key (which a container's health
        check reads) and its entry in the set of workers, both for `ttl` seconds."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(WORKER_KEY + hostname, str(now), px=int(ttl * 1000))
        pipe.zadd(WORKERS, {hostname: now + ttl})
        pipe.execute()

    def worker_gone(self, hostname: str) -> None:
        """The worker `hostname` stopped: no one counts it as running any longer."""
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(WORKER_KEY + hostname)
        pipe.zrem(WORKERS, hostname)
        pipe.execute()

    def live_workers(self) -> list[str]:
        """The hostnames of the workers whose liveness is fresh. A sorted set by deadline, not a
        scan for their keys: a scan reads the whole keyspace (every task's record) in pages, a
        round trip each, and every worker's sweep asks every two seconds."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.zremrangebyscore(WORKERS, "-inf", now)
        pipe.zrangebyscore(WORKERS, now, "+inf")
        _, names = pipe.execute()
        return sorted(n.decode() if isinstance(n, bytes) else n for n in names)


class Heartbeats:
    """The heartbeats of the tasks running in this process, kept fresh by one thread.

    A task's first beat goes with its "running" record (one round trip); then every `every`
    seconds one round trip refreshes all of them. A task that ends is dropped; its key expires
    after `ttl` (a finished task needs no heartbeat: recovery looks only at unfinished ones).
    """

    def __init__(self, records: TaskRecords, every: float = 2.0, ttl: float = 6.0) -> None:
        self.records, self.every, self.ttl = records, every, ttl
        self._running: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0

    def begin(self, task_id: str, worker: str, pipe: Pipeline) -> None:
        """Beat for the task from now on; the first beat goes with `pipe`."""
        self.records.heartbeat(task_id, worker, self.ttl, pipe)
        with self._lock:
            self._running[task_id] = worker
            if self._pid != os.getpid():  # a forked pool process beats with a thread of its own
                self._pid = os.getpid()
                thread = threading.Thread(target=self._beat, daemon=True, name="gms-heartbeats")
                thread.start()

    def end(self, task_id: str) -> None:
        """The task no longer runs here."""
        with self._lock:
            self._running.pop(task_id, None)

    def _beat(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                running = list(self._running.items())
            if not running:
                continue
            try:
                pipe = self.records.client.pipeline(transaction=False)
                for task_id, worker in running:
                    self.records.heartbeat(task_id, worker, self.ttl, pipe)
                pipe.execute()
            except Exception as exc:  # a Redis blip must not end the beating
                log.warning("heartbeats of %d task(s) failed: %s", len(running), exc)


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
