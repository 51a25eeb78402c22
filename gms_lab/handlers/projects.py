"""REST: projects and their hierarchy of chapters, scenes and shots."""

from __future__ import annotations

from tornado import web

from ..core import hierarchy
from ..models import (
    Deleted,
    NodeCreate,
    NodeInfo,
    NodePatch,
    Project,
    ProjectCreate,
    ProjectList,
    ProjectPatch,
)
from .base import StudioHandler, operation

IF_MATCH = {"If-Match": "The project version the change is based on; stale → 409."}


class ProjectsHandler(StudioHandler):
    """`/gms/api/projects`: list and create."""

    @web.authenticated
    @operation("List the projects of the workspace", response=ProjectList)
    async def get(self) -> None:
        projects = await self.run(self.core.projects.list)
        self.send(ProjectList(projects=projects))

    @web.authenticated
    @operation(
        "Create a project (folders, manifest, git + LFS)",
        body=ProjectCreate,
        response=Project,
        status=201,
        errors=(400, 403, 409),
    )
    async def post(self) -> None:
        request = self.parse(ProjectCreate)
        project = await self.run(self.core.projects.create, request, self.author)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + project.id)
        self.set_header("ETag", str(project.version))
        self.send(project, 201)


class ProjectHandler(StudioHandler):
    """`/gms/api/projects/{project_id}`: read, change, delete."""

    @web.authenticated
    @operation("Read a project's manifest", response=Project)
    async def get(self, project_id: str) -> None:
        project, body = await self.run(self.core.projects.get_serialised, project_id)
        self.set_header("ETag", str(project.version))
        self.send_json_bytes(body)

    @web.authenticated
    @operation(
        "Rename a project or change its quality, settings or canvas",
        body=ProjectPatch,
        response=Project,
        headers=IF_MATCH,
        errors=(400, 403, 404, 409),
    )
    async def patch(self, project_id: str) -> None:
        request = self.parse(ProjectPatch)
        project = await self.run(self.core.projects.update, project_id, request, self.if_match())
        self.set_header("ETag", str(project.version))
        self.send(project)

    @web.authenticated
    @operation(
        "Move a project (folder, history, everything) to the trash",
        response=Deleted,
        headers=IF_MATCH,
        errors=(400, 403, 404, 409),
    )
    async def delete(self, project_id: str) -> None:
        item = await self.run(
            self.core.trash.delete_project, project_id, self.if_match(), self.author.name
        )
        self.send(Deleted(deleted=project_id, trash_id=item.id))


def _info(project: Project, located: hierarchy.Located) -> NodeInfo:
    parent = located.parent.id if located.parent is not None else None
    return NodeInfo(
        id=located.node.id,
        kind=located.kind,
        name=getattr(located.node, "name", located.node.id),
        parent_id=parent,
        index=located.index,
        version=project.version,
        node=located.node.wire(),
    )


class NodesHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/nodes`: add a chapter, scene or shot."""

    @web.authenticated
    @operation(
        "Add a chapter, scene or shot",
        body=NodeCreate,
        response=NodeInfo,
        status=201,
        headers=IF_MATCH,
        errors=(400, 403, 404, 409),
    )
    async def post(self, project_id: str) -> None:
        request = self.parse(NodeCreate)
        project, located = await self.change(project_id, lambda p: hierarchy.add(p, request))
        self.send(_info(project, hierarchy.find(project, located.node.id)), 201)


class NodeHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/nodes/{node_id}`: read, change or move, remove."""

    @web.authenticated
    @operation("Read a node", response=NodeInfo)
    async def get(self, project_id: str, node_id: str) -> None:
        project = await self.run(self.core.projects.get, project_id)
        self.send(_info(project, hierarchy.find(project, node_id)))

    @web.authenticated
    @operation(
        "Rename, move, or change a shot's properties, duration or selected take",
        body=NodePatch,
        response=NodeInfo,
        headers=IF_MATCH,
        errors=(400, 403, 404, 409),
    )
    async def patch(self, project_id: str, node_id: str) -> None:
        request = self.parse(NodePatch)
        project, _ = await self.change(project_id, lambda p: hierarchy.patch(p, node_id, request))
        self.send(_info(project, hierarchy.find(project, node_id)))

    @web.authenticated
    @operation(
        "Move a node (with everything under it and its takes' files) or a take to the trash",
        response=Deleted,
        headers=IF_MATCH,
        errors=(400, 403, 404, 409),
    )
    async def delete(self, project_id: str, node_id: str) -> None:
        project, item = await self.run(
            self.core.trash.delete_node, project_id, node_id, self.if_match(), self.author.name
        )
        self.set_header("ETag", str(project.version))
        self.send(Deleted(deleted=node_id, trash_id=item.id))
