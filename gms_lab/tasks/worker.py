"""The Celery worker application: `celery -A gms_lab.tasks.worker worker`.

Configuration comes from the environment (`GMS_*`, see `gms_lab.config`), which the embedded
starter, compose, or a GPU host sets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from typing import Any

from celery import signals
from celery.exceptions import Reject
from celery.worker import state as worker_state
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import StudioConfig
from ..core.vcs import STUDIO_AUTHOR, Author
from ..gcfreeze import freeze_and_say
from ..models import TaskRecord
from ..runtime import broker_url
from .celery_app import QUEUE, make_celery, sender
from .context import TaskContext
from .execute import execute_generation
from .recovery import Recovery
from .runners.choose import launcher_chooser
from .runners.pool import ProcessPool
from .runners.runner import Runner
from .service import EXECUTE, EXECUTE_TAKES, TaskService
from .transport import Holding

log = logging.getLogger(__name__)
COMMIT = "gms.commit_takes"
PING = "gms.ping"
AUTOCOMMIT_KEY = "gms:autocommit:"
LIVENESS_EVERY = 2.0
LIVENESS_TTL = 6.0
#: What a task's Redis calls raise while Redis is away.
REDIS_GONE = (RedisConnectionError, RedisTimeoutError)

config = StudioConfig.from_env()
app = make_celery(config, broker_url(config))
_state: dict[str, Any] = {}


_made = threading.Lock()


def state() -> tuple[TaskContext, Runner]:
    """This process's task context and runner (with its pool of warm pipelines), made once
    (its tasks' threads share them)."""
    with _made:
        return _make_state()


def _make_state() -> tuple[TaskContext, Runner]:
    if "ctx" not in _state:
        ctx = TaskContext(config, url=app.conf.broker_url)
        pool = ProcessPool(config.pool_size, config.pool_idle_timeout)
        _state["ctx"] = ctx
        _state["runner"] = Runner(
            pool,
            launcher_chooser(config.runner, config.docker_host),
            cancel_grace=config.cancel_grace,
        )
    return _state["ctx"], _state["runner"]


def thumbnails() -> TaskService:
    """This process's task service, for the thumbnail tasks a new take asks for."""
    ctx, _ = state()
    with _made:
        return _thumbnail_service(ctx)


def _thumbnail_service(ctx: TaskContext) -> TaskService:
    if "service" not in _state:
        _state["service"] = TaskService(ctx, sender(app))
    service: TaskService = _state["service"]
    return service


def schedule_commit(project_id: str, line: str, author: dict[str, str] | None) -> None:
    """Debounced auto-commit: each new take pushes the deadline; the last scheduled run commits."""
    if not config.auto_commit:
        return
    ctx, _ = state()
    key = AUTOCOMMIT_KEY + project_id
    pipe = ctx.redis.pipeline()
    pipe.set(key, str(time.time() + config.auto_commit_delay))
    pipe.rpush(key + ":takes", json.dumps({"line": line, "author": author}))
    pipe.execute()
    app.send_task(
        COMMIT, args=[project_id], countdown=config.auto_commit_delay + 0.05, ignore_result=True
    )


@app.task(name=EXECUTE, bind=True, acks_late=True, reject_on_worker_lost=True)
def execute_generation_task(
    self: Any,
    task_id: str,
    project_id: str,
    node_id: str,
    pipeline: str,
    parameters: dict[str, Any],
) -> str | None:
    """Run a generation task (the arguments besides `task_id` are for logs and monitoring)."""
    return _execute(task_id, str(self.request.hostname or "worker"))


@app.task(name=EXECUTE_TAKES, bind=True, acks_late=True, reject_on_worker_lost=True)
def execute_takes_task(
    self: Any, task_ids: list[str], project_id: str, node_id: str, pipeline: str
) -> list[str | None]:
    """Run the tasks of one submit one after the other (a pipeline of quick takes: see
    `takes_per_message`). Redelivered after a worker died, the tasks that ended are left as
    they are and the others run (see `recovery`)."""
    worker = str(self.request.hostname or "worker")
    ended: list[str | None] = []
    failure: Exception | None = None
    for task_id in task_ids:
        try:
            ended.append(_execute(task_id, worker))
        except Reject:
            raise  # Redis went away: the whole message goes back (the takes that ended stay)
        except Exception as exc:  # the next takes still run; the message ends as one would
            log.exception("task %s could not be run", task_id)
            failure = failure or exc
            ended.append(None)
    if failure is not None:
        raise failure
    return ended


def _thumbnail(project: str, relpath: str) -> None:
    try:
        thumbnails().request_thumbnail(project, relpath)
    except Exception as exc:  # a preview is a nicety: never fail the take for it
        log.warning("no thumbnail for %s: %s", relpath, exc)


def _execute(task_id: str, worker: str) -> str | None:
    """Run one task to its end: its final status.

    If Redis goes away while the task runs, its end cannot be recorded. Celery would then
    acknowledge the message as a failed task, and the task would stay "running" for good.
    Instead the message is rejected back to the queue (once the worker reaches Redis again),
    and the task runs again: running twice is safe (see `execute`).
    """
    ctx, runner = state()
    try:
        record: TaskRecord | None = execute_generation(
            ctx, runner, task_id, worker, schedule_commit, _thumbnail
        )
    except REDIS_GONE as exc:
        log.warning("task %s: Redis went away (%s); the task will run again", task_id, exc)
        raise Reject(exc, requeue=True) from exc
    finally:
        # the task's last events leave before its message is acknowledged and the thread
        # takes the next task (or a shutdown), within a bound; other threads' are not waited for
        ctx.publisher.flush_mine(config.redis_timeout)
    return record.status.value if record else None


@app.task(name=COMMIT, acks_late=True)
def commit_takes(project_id: str) -> str | None:
    """Commit the takes of a burst in one commit, once no new take came for the delay."""
    ctx, _ = state()
    key = AUTOCOMMIT_KEY + project_id
    deadline = float(ctx.redis.get(key) or 0)
    if deadline and time.time() < deadline - 0.05:
        return None  # a newer take moved the deadline; its own scheduled run commits
    pipe = ctx.redis.pipeline()
    pipe.lrange(key + ":takes", 0, -1)
    pipe.delete(key + ":takes", key)
    entries = [json.loads(e) for e in pipe.execute()[0]]
    if not entries:
        return None
    authors = [e["author"] for e in entries if e.get("author")]
    author = Author(**authors[0]) if authors else STUDIO_AUTHOR
    # a name from an older project.json may hold a NUL, which git cannot take in a message
    lines = [str(e["line"]).replace("\x00", "") for e in entries]
    title = f"Add {len(lines)} take{'s' if len(lines) != 1 else ''}"
    message = title + "\n\n" + "\n".join(f"- {line}" for line in lines)
    try:
        repo = ctx.core.projects.repo(project_id)
        return repo.commit(message, author, ["03_Renders", "project.json"])
    except Exception as exc:  # the project may be gone; the takes stay on disk
        log.warning("auto-commit of %s failed: %s", project_id, exc)
        return None


@app.task(name=PING)
def ping(key: str) -> None:
    """A no-op round trip: sets `key` in Redis to the time it ran (the baseline of the task
    benchmark)."""
    ctx, _ = state()
    ctx.redis.set(key, repr(time.time()), ex=60)


#: Celery's loggers of a line per task: "received" (the consumer) and "succeeded" (the task).
TASK_LINE_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


@signals.after_setup_logger.connect
def _task_lines(**_: Any) -> None:
    """Without `worker_log_tasks`, a worker logs no line per task received or ended (Celery
    looks at the level once, when it sets up a task's handling: set before that)."""
    if not config.worker_log_tasks:
        for name in TASK_LINE_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


@signals.worker_process_init.connect
def _child_dies_with_worker(**_: Any) -> None:
    """A pool process gets SIGKILL when the worker dies, so no orphan finishes a task twice."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


@signals.worker_process_init.connect
def _freeze_child(**_: Any) -> None:
    """A prefork pool process runs the tasks: it leaves what it was forked with out of the
    collector's full passes too (the main process freezes only once ready, after the fork)."""
    if config.gc_freeze:
        freeze_and_say(log, f"pool process {os.getpid()}")


@signals.celeryd_init.connect
def _name_holder(sender: Any = None, **_: Any) -> None:
    """The messages this worker takes are named as its (before its consumer starts)."""
    if sender:
        Holding.worker = str(sender)


def held_messages() -> set[str]:
    """The ids of the messages this worker runs or is about to run, by Celery's own account:
    its requests (a connection lost drops those not started) and the ones running."""
    for _ in range(10):
        try:
            return set(worker_state.requests) | {r.id for r in worker_state.active_requests}
        except RuntimeError:  # changed by a task's thread while read: read again
            continue
    raise RuntimeError("the worker's requests kept changing while read")


@signals.worker_ready.connect
def _start_liveness(sender: Any = None, **_: Any) -> None:
    """Announce this worker and sweep for tasks whose worker died, every few seconds."""
    hostname = str(getattr(sender, "hostname", "worker"))
    ctx = TaskContext(config, url=app.conf.broker_url)
    recovery = Recovery(ctx.records, hostname, queue=QUEUE, running=held_messages)
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                ctx.records.worker_alive(hostname, LIVENESS_TTL)
                recovery.sweep()
            except Exception as exc:
                log.warning("liveness sweep failed: %s", exc)
            if stop.wait(LIVENESS_EVERY):
                return

    thread = threading.Thread(target=loop, daemon=True, name="gms-liveness")
    thread.start()
    _state["liveness"] = (stop, thread, ctx.records, hostname)
    if config.gc_freeze:
        freeze_and_say(log, f"worker {hostname}")


@signals.worker_shutdown.connect
def _stop(**_: Any) -> None:
    liveness = _state.get("liveness")
    if liveness is not None:
        # a warm shutdown ran or gave back every task: the worker is struck off at once (the
        # server's health answer, the other workers' sweeps), not when its liveness lapses
        stop, thread, records, hostname = liveness
        stop.set()
        thread.join(config.redis_timeout)  # its last round cannot announce it again after
        try:
            records.worker_gone(hostname)
        except Exception as exc:  # Redis away: its liveness lapses by itself
            log.warning("could not strike %s off the live workers: %s", hostname, exc)
    ctx = _state.get("ctx")
    if ctx is not None:  # the threads pool: the tasks ran in this process
        ctx.publisher.flush(config.redis_timeout)
    runner = _state.get("runner")
    if runner is not None:
        runner.pool.close()


@signals.worker_process_shutdown.connect
def _close_pool(**_: Any) -> None:
    """A pool process going away sends its last events and stops its warm pipelines."""
    ctx = _state.get("ctx")
    if ctx is not None:
        ctx.publisher.flush(config.redis_timeout)
    runner = _state.get("runner")
    if runner is not None:
        runner.pool.close()
