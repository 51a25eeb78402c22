"""REST: generation tasks, the pipeline registry and the quality mappings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from tornado import web

from ..core.errors import InvalidInput
from ..core.limits import whole_number
from ..core.workflows import TemplateList
from ..models import TaskAccepted, TaskList, TaskRecord, TaskSubmit
from ..server import StudioServer
from ..tasks.records import CURSOR_PATTERN
from ..tasks.registry import PipelineRegistry, PipelineSpec, RegistryError
from ..tasks.service import TaskService
from .base import StudioHandler, operation

T = TypeVar("T")

#: Tasks per page of `GET /gms/api/tasks` unless `limit` says otherwise, and the most it allows.
DEFAULT_PAGE = 100
MAX_PAGE = 1000


class TaskHandlerBase(StudioHandler):
    """Handlers that need the task service."""

    @property
    def server(self) -> StudioServer:
        """The server's running services."""
        server: StudioServer = self.settings["gms_server"]
        return server

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Task calls reach Redis: they run on the server's Redis threads, not the disk ones."""
        return await self.server.on_broker(functools.partial(fn, *args, **kwargs))

    @property
    def tasks(self) -> TaskService:
        """The task service (503 while there is no broker)."""
        return self.server.task_service()

    def author_dict(self) -> dict[str, str]:
        """The signed-in user, as a task records it."""
        author = self.author
        return {"name": author.name, "email": author.email}


class SubmitHandler(TaskHandlerBase):
    """`/gms/api/tasks/submit`."""

    @web.authenticated
    @operation(
        "Queue a generation for a shot, or `count` takes of it at once (or an animatic of a "
        "scene, a thumbnail of a file)",
        body=TaskSubmit,
        response=TaskAccepted,
        status=202,
        errors=(400, 403, 404, 503),
    )
    async def post(self) -> None:
        request = self.parse(TaskSubmit)
        made = await self.run(self.tasks.submit_all, request, self.author_dict())
        first = made[0].task_id
        self.set_header("Location", f"{self.base_url}gms/api/tasks/{first}/status")
        self.send(TaskAccepted(task_id=first, task_ids=[r.task_id for r in made]), 202)


class TaskStatusHandler(TaskHandlerBase):
    """`/gms/api/tasks/{task_id}/status`."""

    @web.authenticated
    @operation(
        "A task's status, progress, step, seq, result or error",
        response=TaskRecord,
        errors=(403, 404, 503),
    )
    async def get(self, task_id: str) -> None:
        self.send(await self.run(self.tasks.get, task_id))


class TaskListHandler(TaskHandlerBase):
    """`/gms/api/tasks?projectId=`."""

    @web.authenticated
    @operation(
        "A project's tasks, newest first, one page at a time (`more`, `nextCursor`)",
        response=TaskList,
        query={
            "projectId": ("The project", {"type": "string", "minLength": 1}),
            "limit": (
                f"Tasks per page (1 to {MAX_PAGE}, default {DEFAULT_PAGE})",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            ),
            "cursor": (
                "The `nextCursor` of the previous page; absent for the newest tasks",
                {"type": "string", "pattern": CURSOR_PATTERN},
            ),
        },
        required=("projectId",),
        errors=(400, 403, 404, 503),
    )
    async def get(self) -> None:
        project_id = self.get_query_argument("projectId", "", strip=False)
        if not project_id:
            self.send_error_body(400, "invalid_input", "Give ?projectId=.")
            return
        raw = self.get_query_argument("limit", str(DEFAULT_PAGE))
        limit = whole_number(raw)
        if limit is None or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be a number from 1 to {MAX_PAGE}.", {"limit": raw})
        cursor = self.get_query_argument("cursor", None) or None
        self.send(await self.run(self.tasks.list, project_id, limit, cursor))


class TaskCancelHandler(TaskHandlerBase):
    """`/gms/api/tasks/{task_id}/cancel`."""

    @web.authenticated
    @operation("Cancel a queued or running task", response=TaskRecord, errors=(403, 404, 409, 503))
    async def post(self, task_id: str) -> None:
        self.send(await self.run(self.tasks.cancel, task_id))


class TemplatesHandler(TaskHandlerBase):
    """`/gms/api/pipelines/{pipeline_id}/templates?projectId=`."""

    @web.authenticated
    @operation(
        "The workflow templates a pipeline runs (ComfyUI), with their parameters and the one "
        "each tier picks; a template that cannot run is listed with its error",
        response=TemplateList,
        query={"projectId": "The project whose own templates come first (optional)"},
        errors=(403, 404, 503),
    )
    async def get(self, pipeline_id: str) -> None:
        project_id = self.get_query_argument("projectId", "", strip=False) or None
        self.send(await self.run(self.tasks.templates, pipeline_id, project_id))


class PipelineInfo(BaseModel):
    """A pipeline as the registry answers it."""

    pipelines: list[dict[str, Any]]
    errors: list[RegistryError]


class QualityMappings(BaseModel):
    """Every pipeline's tier per project quality."""

    mappings: dict[str, dict[str, Any]]


def _pipeline(spec: PipelineSpec, registry: PipelineRegistry) -> dict[str, Any]:
    """A pipeline as listed: its spec, and whether it can run here (what to install if not)."""
    state = registry.availability(spec.id)
    return {**spec.model_dump(mode="json", by_alias=True), **state.model_dump(mode="json")}


class PipelinesHandler(TaskHandlerBase):
    """`/gms/api/pipelines`."""

    @web.authenticated
    @operation(
        "The pipeline registry (and files that failed to load)",
        response=PipelineInfo,
        errors=(403, 503),
    )
    async def get(self) -> None:
        registry = self.tasks.ctx.registry
        self.send(
            PipelineInfo(
                pipelines=[_pipeline(p, registry) for p in registry.pipelines.values()],
                errors=registry.errors,
            )
        )


class QualityMappingsHandler(TaskHandlerBase):
    """`/gms/api/quality/mappings`."""

    @web.authenticated
    @operation(
        "Which tier each pipeline runs at for each project quality",
        response=QualityMappings,
        errors=(403, 503),
    )
    async def get(self) -> None:
        self.send(QualityMappings(mappings=self.tasks.ctx.dispatcher.mappings()))
