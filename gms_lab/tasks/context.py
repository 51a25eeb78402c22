"""What task code needs, built once per process: core, registry, records, events, Redis."""

from __future__ import annotations

import redis

from ..config import StudioConfig
from ..core.services import StudioCore
from ..events import EventPublisher, ProjectUpdate
from ..models import Project
from ..runtime import broker_url
from .dispatcher import Dispatcher
from .records import TaskRecords
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
        self.redis = redis.Redis.from_url(
            self.broker_url, socket_connect_timeout=5, health_check_interval=30
        )
        self.publisher = EventPublisher(self.redis)
        self.core = core or StudioCore(config)
        if self.core.manifests.on_write is None:
            self.core.manifests.on_write = self.announce
        self.registry = PipelineRegistry(config.pipelines_path)
        self.dispatcher = Dispatcher(self.registry)
        self.records = TaskRecords(self.redis, config.task_history)
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
