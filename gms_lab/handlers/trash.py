"""REST: the workspace trash (what was deleted: projects, nodes, takes, assets), restore, erase."""

from __future__ import annotations

from tornado import web

from ..models import Deleted, TrashEmptied, TrashItem, TrashList, TrashRestored
from .base import StudioHandler, operation

PROJECT_FILTER = {"projectId": "Only the items of this project (optional)"}


class TrashHandler(StudioHandler):
    """`/gms/api/trash`: list, empty."""

    @web.authenticated
    @operation("What the trash holds, newest first", response=TrashList, query=PROJECT_FILTER)
    async def get(self) -> None:
        project_id = self.get_query_argument("projectId", None) or None
        items = await self.run(self.core.trash.items, project_id)
        self.send(TrashList(items=items, retention_days=self.core.trash.retention_days))

    @web.authenticated
    @operation(
        "Empty the trash (of one project, if given): erased for good",
        response=TrashEmptied,
        query=PROJECT_FILTER,
    )
    async def delete(self) -> None:
        project_id = self.get_query_argument("projectId", None) or None
        self.send(TrashEmptied(deleted=await self.run(self.core.trash.empty, project_id)))


class TrashItemHandler(StudioHandler):
    """`/gms/api/trash/{item_id}`: read, erase for good."""

    @web.authenticated
    @operation("One item of the trash", response=TrashItem)
    async def get(self, item_id: str) -> None:
        record = await self.run(self.core.trash.get, item_id)
        self.send(self.core.trash.public(record))

    @web.authenticated
    @operation("Erase an item of the trash for good", response=Deleted)
    async def delete(self, item_id: str) -> None:
        await self.run(self.core.trash.erase, item_id)
        self.send(Deleted(deleted=item_id))


class TrashRestoreHandler(StudioHandler):
    """`/gms/api/trash/{item_id}/restore`."""

    @web.authenticated
    @operation(
        "Put an item back where it was (files and manifest entries)",
        response=TrashRestored,
        errors=(400, 403, 404, 409),
    )
    async def post(self, item_id: str) -> None:
        record, project = await self.run(self.core.trash.restore, item_id)
        if project is not None:
            self.set_header("ETag", str(project.version))
        self.send(
            TrashRestored(
                item=self.core.trash.public(record),
                project_id=record.project_id,
                version=project.version if project is not None else record.version,
            )
        )
