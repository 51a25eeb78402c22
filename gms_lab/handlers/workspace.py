"""REST: the workspace's configuration and the health of the tools and services behind it."""

from __future__ import annotations

from tornado import web

from ..core.library import list_models
from ..models import AssetCategory, ModelList, Quality, WorkspaceConfig
from .base import StudioHandler, operation


class WorkspaceConfigHandler(StudioHandler):
    """`/gms/api/workspace/config`."""

    @web.authenticated
    @operation(
        "Workspace paths, quality tiers, and git/LFS/Redis/worker/Docker/ComfyUI health",
        response=WorkspaceConfig,
    )
    async def get(self) -> None:
        core = self.core
        health = dict(core.health)
        probe = self.settings.get("gms_health_probe")
        if probe is not None:
            health.update(await probe())
        user = self.author
        self.send(
            WorkspaceConfig(
                workspace=str(core.workspace.root),
                projects_dir=str(core.workspace.projects_dir),
                library_dir=str(core.workspace.library_dir),
                qualities=list(Quality),
                categories=[c.value for c in AssetCategory],
                max_upload_bytes=core.config.max_upload_bytes,
                runner=core.config.runner,
                auto_commit=core.config.auto_commit,
                user={"name": user.name, "email": user.email},
                health=health,
                comfyui_url=core.config.comfyui_url,
                comfyui_configured="comfyui_url" in core.config.model_fields_set,
            )
        )


class ModelsHandler(StudioHandler):
    """`/gms/api/models`."""

    @web.authenticated
    @operation(
        "The models in the workspace's Library/AI_Models/ (name, format, family, size); "
        "no weights are read",
        response=ModelList,
        errors=(403,),
    )
    async def get(self) -> None:
        folder = self.core.workspace.models_dir
        models = await self.run(list_models, folder)
        self.send(ModelList(models=models, folder=str(folder)))
