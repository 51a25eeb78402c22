"""The core services of one workspace, built once and shared by the server, worker and notebook."""

from __future__ import annotations

from collections.abc import Callable

from ..config import StudioConfig
from ..models import Project, ToolHealth
from .limits import JsonLimits
from .manifest import ManifestStore
from .projects import Projects
from .trash import Trash
from .vcs import tool_health
from .workflows import WorkflowTemplates, install_examples
from .workspace import Workspace


class StudioCore:
    """Workspace, manifests, projects and trash for one configuration; no network, no event loop."""

    def __init__(
        self,
        config: StudioConfig,
        health: dict[str, ToolHealth] | None = None,
        on_write: Callable[[Project], None] | None = None,
    ) -> None:
        self.config = config
        #: What JSON clients send may hold (size, depth, keys, strings).
        self.limits = JsonLimits.of(config)
        self.workspace = Workspace(config.workspace)
        self.workspace.scaffold()
        self.health = health if health is not None else tool_health()
        self.manifests = ManifestStore(self.workspace, on_write, config.manifest_cache)
        self.projects = Projects(self.workspace, self.manifests, lfs=self.health["gitLfs"].ok)
        self.workflows = WorkflowTemplates(self.workspace)
        install_examples(self.workspace, config.pipelines_path)
        self.trash = Trash(
            self.workspace, self.manifests, self.projects, config.trash_retention_days
        )
