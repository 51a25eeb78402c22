"""What a refused submit may have left in Redis is undone once Redis answers again.

A submit that Redis did not answer is refused (503). That does not mean Redis did nothing: a
command sent to a Redis that hangs runs when it wakes up, and one that Redis ran (and wrote to
its append-only file) just before it died is there again when it restarts. So a refused submit
may leave records of tasks that have no message, or a message of a task its client was told
was not queued, which a worker would run and whose take it would file.

Each such leftover is undone here, off the request, in the order it was handed over, and tried
again every `every` seconds while Redis does not answer: records that have no message are
forgotten, and tasks whose message may have gone are given up (a worker that takes one up
drops it, or cancels it if it started, and its take is never filed). The server's `TaskService`
keeps one; what is still to undo when the server stops is left (its log said so when the
first try failed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)


class Undo:
    """A queue of idempotent Redis actions, each run until Redis answers it."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self._items: deque[tuple[str, Callable[[], object]]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        #: How many actions were done (or failed for a reason other than Redis).
        self.done = 0

    def later(self, what: str, action: Callable[[], object]) -> None:
        """Run `action` (it undoes `what`) in the background, again while Redis fails it."""
        with self._cond:
            self._items.append((what, action))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="gms-undo")
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        """How many actions are still to be done."""
        with self._cond:
            return len(self._items)

    def wait(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until nothing is left to undo; whether nothing is."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _run(self) -> None:
        failing = False
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                what, action = self._items[0]
            try:
                action()
            except redis.RedisError as exc:
                if not failing:
                    log.warning(
                        "cannot undo %s yet (Redis: %s); trying again every %.1f s",
                        what,
                        exc,
                        self.every,
                    )
                    failing = True
                time.sleep(self.every)
                continue
            except Exception:
                log.exception("could not undo %s", what)
            else:
                if failing:
                    log.info("Redis answers again: undid %s", what)
                failing = False
            with self._cond:
                self._items.popleft()
                self.done += 1
                self._cond.notify_all()
