"""REST: the asset library: list, rename or move an asset, make folders, delete to the trash."""

from __future__ import annotations

from tornado import web

from ..core import assets
from ..models import Asset as AssetModel
from ..models import AssetFolder, AssetFolderCreate, AssetList, AssetMove, Deleted
from .base import StudioHandler, operation


class AssetsHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/assets`: the asset library by category."""

    @web.authenticated
    @operation(
        "List the asset library by category (with preview and thumbnail URLs) and its folders",
        response=AssetList,
    )
    async def get(self, project_id: str) -> None:
        root = await self.run(self.core.projects.path, project_id)
        categories = await self.run(
            assets.list_assets, project_id, root, self.core.config.thumbnail_size
        )
        folders = await self.run(assets.list_folders, root)
        self.send(AssetList(categories=categories, folders=folders))


class AssetHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/assets/{path}`: rename or move; delete to the trash."""

    @web.authenticated
    @operation(
        "Rename an asset or move it to another category or folder; shots referencing it follow",
        body=AssetMove,
        response=AssetModel,
        errors=(400, 403, 404, 409),
    )
    async def patch(self, project_id: str, path: str) -> None:
        request = self.parse(AssetMove)
        root = await self.run(self.core.projects.path, project_id)
        new = await self.run(
            assets.move_referenced,
            self.core.manifests,
            project_id,
            root,
            path,
            name=request.name,
            category=request.category,
            folder=request.folder,
        )
        described = await self.run(
            assets.describe, project_id, root, root / new, self.core.config.thumbnail_size
        )
        self.send(described)

    @web.authenticated
    @operation("Move an asset (or a folder of assets) to the trash", response=Deleted)
    async def delete(self, project_id: str, path: str) -> None:
        record = await self.run(self.core.trash.delete_asset, project_id, path, self.author.name)
        self.send(Deleted(deleted=path, trash_id=record.id))


class AssetFoldersHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/assets/folders`: make a folder in a category."""

    @web.authenticated
    @operation(
        "Make a folder in a category of the asset library",
        body=AssetFolderCreate,
        response=AssetFolder,
        status=201,
        errors=(400, 403, 404, 409),
    )
    async def post(self, project_id: str) -> None:
        request = self.parse(AssetFolderCreate)
        root = await self.run(self.core.projects.path, project_id)
        path = await self.run(assets.make_folder, root, request.category, request.folder)
        category = assets.category_of(f"{path}/x")
        assert category is not None
        folder = "/".join(path.split("/")[2:])
        self.send(AssetFolder(category=category.value, folder=folder, path=path), 201)
