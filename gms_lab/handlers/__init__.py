"""The studio's HTTP surface: the route table shared by tornado and the OpenAPI document."""

from __future__ import annotations

from .assets import AssetFoldersHandler, AssetHandler, AssetsHandler
from .base import Route
from .exports import ExportsHandler
from .files import FileHandler, FilesHandler
from .openapi import OpenAPIHandler
from .projects import NodeHandler, NodesHandler, ProjectHandler, ProjectsHandler
from .tasks import (
    PipelinesHandler,
    QualityMappingsHandler,
    SubmitHandler,
    TaskCancelHandler,
    TaskListHandler,
    TaskStatusHandler,
    TemplatesHandler,
)
from .trash import TrashHandler, TrashItemHandler, TrashRestoreHandler
from .vcs import GitCommitHandler, GitLogHandler, GitStatusHandler
from .workspace import ModelsHandler, WorkspaceConfigHandler
from .ws import ProjectSocket

API = "/gms/api"
P = f"{API}/projects/{{project_id}}"

ROUTES: list[Route] = [
    Route(f"{API}/workspace/config", WorkspaceConfigHandler),
    Route(f"{API}/openapi.json", OpenAPIHandler),
    Route(f"{API}/projects", ProjectsHandler),
    Route(P, ProjectHandler),
    Route(f"{P}/nodes", NodesHandler),
    Route(f"{P}/nodes/{{node_id}}", NodeHandler),
    Route(f"{P}/files", FilesHandler),
    Route(f"{P}/files/{{path:path}}", FileHandler),
    Route(f"{P}/assets", AssetsHandler),
    Route(f"{P}/assets/folders", AssetFoldersHandler),
    Route(f"{P}/assets/{{path:path}}", AssetHandler),
    Route(f"{P}/git/status", GitStatusHandler),
    Route(f"{P}/git/commit", GitCommitHandler),
    Route(f"{P}/git/log", GitLogHandler),
    Route(f"{P}/exports", ExportsHandler),
    Route(f"{API}/tasks/submit", SubmitHandler),
    Route(f"{API}/tasks/{{task_id}}/status", TaskStatusHandler),
    Route(f"{API}/tasks/{{task_id}}/cancel", TaskCancelHandler),
    Route(f"{API}/tasks", TaskListHandler),
    Route(f"{API}/pipelines", PipelinesHandler),
    Route(f"{API}/pipelines/{{pipeline_id}}/templates", TemplatesHandler),
    Route(f"{API}/models", ModelsHandler),
    Route(f"{API}/quality/mappings", QualityMappingsHandler),
    Route(f"{API}/trash", TrashHandler),
    Route(f"{API}/trash/{{item_id}}", TrashItemHandler),
    Route(f"{API}/trash/{{item_id}}/restore", TrashRestoreHandler),
]
#: The WebSocket is not part of the REST document.
SOCKETS: list[Route] = [Route("/gms/ws/{project_id}", ProjectSocket)]
