"""Quick takes queued at the same moment share a Celery message.

Each message costs a worker as much as a quick take's own work: its consumer receives it,
books it as unacknowledged, hands it to a thread, acknowledges it, logs it. A submit of one
take of a pipeline of quick takes (its `takes_per_message` above 1) sends its message at once
when no send for the same shot is under way, as it always did. While one is, the takes queued
meanwhile wait for it (a Redis round trip, a fraction of a millisecond) and go together in the
next message, up to `takes_per_message` of them: four clients each queueing one take at a time
send about half as many messages, and no take waits for a timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from ..models import TaskRecord

#: Sends one message for the tasks given (one task: its own message).
SendBatch = Callable[[list[TaskRecord]], None]


@dataclass(eq=False)
class _Queued:
    record: TaskRecord
    #: Set once its message is sent (or could not be), or once it is to send the next one.
    done: threading.Event = field(default_factory=threading.Event)
    #: The takes this one sends, itself first, when it leads a message.
    batch: list[_Queued] | None = None
    error: BaseException | None = None


class SharedSends:
    """One send under way per key (a shot's quick takes); takes queued meanwhile go next,
    together. The thread of the first of them sends that message, so no thread of its own
    waits around and nothing is left queued when the last send ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: A key with a send under way, and the takes waiting for the next one.
        self._waiting: dict[Hashable, list[_Queued]] = {}

    def send(self, key: Hashable, record: TaskRecord, most: int, send: SendBatch) -> None:
        """Queue `record`'s task: sent before this returns, alone or with others (at most
        `most` a message); raises what its message's send raised."""
        me = _Queued(record)
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is None:
                self._waiting[key] = []  # this thread sends now
                me.batch = [me]
            else:
                waiting.append(me)
        if me.batch is None:
            me.done.wait()
            if me.batch is None:  # sent by the thread that led its message
                if me.error is not None:
                    raise me.error
                return
        batch = me.batch
        try:
            send([queued.record for queued in batch])
        except BaseException as exc:
            for queued in batch:
                queued.error = exc
        with self._lock:
            waiting = self._waiting[key]
            if waiting:
                following, waiting[:] = waiting[:most], waiting[most:]
                following[0].batch = following
                following[0].done.set()  # it sends the next message
            else:
                del self._waiting[key]
        for queued in batch[1:]:
            queued.done.set()
        if me.error is not None:
            raise me.error
