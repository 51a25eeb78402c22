"""REST: editorial exports of a project (animatic, timelines, boards) and the list of them."""

from __future__ import annotations

from tornado import web

from ..core import exports
from ..models import ExportList, ExportRequest, TaskAccepted
from .base import operation
from .tasks import TaskHandlerBase


class ExportsHandler(TaskHandlerBase):
    """`/gms/api/projects/{project_id}/exports`: start an export, list `06_Exports`."""

    @web.authenticated
    @operation("The project's exports in 06_Exports, newest first", response=ExportList)
    async def get(self, project_id: str) -> None:
        root = await self.run(self.core.projects.path, project_id)
        found = await self.run(exports.list_exports, project_id, root)
        self.send(ExportList(exports=found))

    @web.authenticated
    @operation(
        "Export a scene, a chapter or the film (scope null) as an animatic, an OpenTimelineIO "
        "timeline, a CMX 3600 EDL, an FCP 7 XML or a storyboard sheet; runs as a task",
        body=ExportRequest,
        response=TaskAccepted,
        status=202,
        errors=(400, 403, 404, 503),
    )
    async def post(self, project_id: str) -> None:
        request = self.parse(ExportRequest)
        record = await self.run(self.tasks.export, project_id, request, self.author_dict())
        self.set_header("Location", f"{self.base_url}gms/api/tasks/{record.task_id}/status")
        self.send(TaskAccepted(task_id=record.task_id), 202)
