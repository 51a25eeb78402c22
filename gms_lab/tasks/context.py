"""What task code needs, built once per process: core, registry, records, events, Redis."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import redis
from kombu.exceptions import OperationalError

from ..config import StudioConfig
from ..core.errors import ServiceUnavailable
from ..core.services import StudioCore
from ..events import EventPublisher, ProjectUpdate
from ..models import Project
from ..runtime import broker_url
from .dispatcher import Dispatcher
from .records import Heartbeats, TaskRecords
from .registry import PipelineRegistry


class TaskContext:
    """The services shared by submitting (server, notebook) and executing (worker) tasks."""

    def __init__(
        self,
        config: StudioConfig,
        core: StudioCore | None = None,
        url: str | None = None,
    ) -> None:
        self.config = config
        self.broker_url = url or broker_url(config)
        self.redis = redis_client(self.broker_url, config.redis_timeout)
        self.publisher = EventPublisher(self.redis)
        self.core = core or StudioCore(config)
        if self.core.manifests.on_write is None:
            self.core.manifests.on_write = self.announce
        self.registry = PipelineRegistry(config.pipelines_path)
        self.dispatcher = Dispatcher(self.registry)
        self.records = TaskRecords(self.redis, config.task_history)
        #: The heartbeats of the tasks this process runs (a worker's).
        self.heartbeats = Heartbeats(self.records, HEARTBEAT_EVERY, HEARTBEAT_TTL)
        from .trashed import TaskTrashKeeper  # the keeper needs this context: imported late

        if not any(isinstance(x, TaskTrashKeeper) for x in self.core.trash.listeners):
            self.core.trash.listeners.append(TaskTrashKeeper(self))

    def announce(self, project: Project) -> None:
        """Tell every client of the project that its manifest has a new version."""
        self.publisher.publish(
            project.id,
            ProjectUpdate(
                project_id=project.id, changes={"manifest": True}, version=project.version
            ),
        )


#: Seconds between a running task's heartbeats, and how long one lasts.
HEARTBEAT_EVERY = 2.0
HEARTBEAT_TTL = 6.0
F = TypeVar("F", bound=Callable[..., Any])


def redis_client(url: str, timeout: float) -> redis.Redis:
    """A Redis client that never waits longer than `timeout` for a connection or an answer."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )


@contextlib.contextmanager
def broker_errors() -> Iterator[None]:
    """Redis (broker, records) not answering becomes a clear `ServiceUnavailable` (503)."""
    try:
        yield
    except (redis.RedisError, OperationalError) as exc:
        raise ServiceUnavailable(
            f"Redis does not answer ({exc.__class__.__name__}); generation tasks are "
            "unavailable until it is back. Nothing was queued.",
            {"service": "redis"},
        ) from exc


def needs_broker(fn: F) -> F:
    """Decorate a task-service call: Redis errors inside it are answered as 503."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with broker_errors():
            return fn(*args, **kwargs)

    return cast(F, wrapper)
