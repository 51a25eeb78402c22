"""The Jupyter server extension: configuration (`c.GMSLab.*`), routes, and services' life cycle."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, List, Unicode

from .config import StudioConfig
from .core.services import StudioCore
from .gcfreeze import freeze_and_say
from .handlers import ROUTES, SOCKETS
from .server import StudioServer

#: Seconds after the studio started that the server leaves its start-up objects out of the
#: collector's full passes (the setting `gc_freeze`; see `gcfreeze`).
FREEZE_AFTER = 1.0


def read_in_chunks_of(http_server: Any, config: StudioConfig) -> None:
    """Have the Jupyter server read `config.read_chunk_size` bytes from a connection at a time
    (its new connections), and hand a streamed body in pieces that large: tornado's 64 KiB cost
    a streamed upload a call into its handler, and a read, per 64 KiB. Without an HTTP server of
    its own (a test's app), nothing changes."""
    size = config.read_chunk_size
    if not size or http_server is None:
        return
    http_server.read_chunk_size = size  # the reads of each new connection's stream
    http_server.conn_params.chunk_size = size  # the pieces a streamed body is handed in


def _help(field: str) -> str:
    info = StudioConfig.model_fields[field]
    return f"{info.description} Unset: ${StudioConfig.ENV[field]}, then the built-in default."


class GMSLab(ExtensionApp):
    """Generative Media Studio inside Jupyter Server.

    Every setting is a trait here; a trait left unset (None) falls back to its environment
    variable and then to the built-in default (see `gms_lab.config.StudioConfig`).
    """

    name = "gms_lab"
    load_other_extensions = True

    workspace = Unicode(None, allow_none=True, help=_help("workspace")).tag(config=True)
    broker_url = Unicode(None, allow_none=True, help=_help("broker_url")).tag(config=True)
    runner = Enum(["auto", "local", "docker"], None, allow_none=True, help=_help("runner")).tag(
        config=True
    )
    max_upload_bytes = Int(None, allow_none=True, help=_help("max_upload_bytes")).tag(config=True)
    read_chunk_size = Int(None, allow_none=True, help=_help("read_chunk_size")).tag(config=True)
    max_json_bytes = Int(None, allow_none=True, help=_help("max_json_bytes")).tag(config=True)
    json_max_depth = Int(None, allow_none=True, help=_help("json_max_depth")).tag(config=True)
    json_max_keys = Int(None, allow_none=True, help=_help("json_max_keys")).tag(config=True)
    json_max_string = Int(None, allow_none=True, help=_help("json_max_string")).tag(config=True)
    pipelines_path = List(Unicode(), None, allow_none=True, help=_help("pipelines_path")).tag(
        config=True
    )
    auto_commit = Bool(None, allow_none=True, help=_help("auto_commit")).tag(config=True)
    auto_commit_delay = Float(None, allow_none=True, help=_help("auto_commit_delay")).tag(
        config=True
    )
    redis_server = Unicode(None, allow_none=True, help=_help("redis_server")).tag(config=True)
    start_worker = Bool(None, allow_none=True, help=_help("start_worker")).tag(config=True)
    worker_pool = Enum(
        ["threads", "prefork"], None, allow_none=True, help=_help("worker_pool")
    ).tag(config=True)
    worker_concurrency = Int(None, allow_none=True, help=_help("worker_concurrency")).tag(
        config=True
    )
    pool_size = Int(None, allow_none=True, help=_help("pool_size")).tag(config=True)
    pool_idle_timeout = Float(None, allow_none=True, help=_help("pool_idle_timeout")).tag(
        config=True
    )
    max_takes_per_submit = Int(None, allow_none=True, help=_help("max_takes_per_submit")).tag(
        config=True
    )
    models_kept = Int(None, allow_none=True, help=_help("models_kept")).tag(config=True)
    preview_every = Float(None, allow_none=True, help=_help("preview_every")).tag(config=True)
    cancel_grace = Float(None, allow_none=True, help=_help("cancel_grace")).tag(config=True)
    visibility_timeout = Int(None, allow_none=True, help=_help("visibility_timeout")).tag(
        config=True
    )
    thumbnail_size = Int(None, allow_none=True, help=_help("thumbnail_size")).tag(config=True)
    watch = Bool(None, allow_none=True, help=_help("watch")).tag(config=True)
    worker_log_tasks = Bool(None, allow_none=True, help=_help("worker_log_tasks")).tag(config=True)
    gc_freeze = Bool(None, allow_none=True, help=_help("gc_freeze")).tag(config=True)
    docker_host = Unicode(None, allow_none=True, help=_help("docker_host")).tag(config=True)
    redis_timeout = Float(None, allow_none=True, help=_help("redis_timeout")).tag(config=True)
    ws_max_buffer = Int(None, allow_none=True, help=_help("ws_max_buffer")).tag(config=True)
    trash_retention_days = Float(None, allow_none=True, help=_help("trash_retention_days")).tag(
        config=True
    )
    manifest_cache = Int(None, allow_none=True, help=_help("manifest_cache")).tag(config=True)
    task_history = Int(None, allow_none=True, help=_help("task_history")).tag(config=True)
    comfyui_url = Unicode(None, allow_none=True, help=_help("comfyui_url")).tag(config=True)
    author_name = Unicode(None, allow_none=True, help=_help("author_name")).tag(config=True)
    author_email = Unicode(None, allow_none=True, help=_help("author_email")).tag(config=True)

    def studio_config(self) -> StudioConfig:
        """The effective settings: traits, then environment variables, then defaults."""
        overrides: dict[str, Any] = {f: getattr(self, f) for f in StudioConfig.ENV}
        return StudioConfig.from_env(overrides)

    def initialize_settings(self) -> None:
        """Build the core services once; handlers find them in the tornado settings."""
        self._route_studio_logs()
        config = self.studio_config()
        self.core = StudioCore(config)
        self.server_services = StudioServer(config, self.core)
        self.settings.update(
            {
                "gms_core": self.core,
                "gms_routes": ROUTES,
                "gms_server": self.server_services,
                "gms_health_probe": self.server_services.health,
            }
        )
        for key, health in self.core.health.items():
            if not health.ok:
                self.log.warning("Generative Studio: %s unavailable: %s", key, health.message)
        self.log.info("Generative Studio workspace: %s", config.workspace)

    def _route_studio_logs(self) -> None:
        """The studio's own module loggers (`gms_lab.*`) write through the server's handlers,
        in its format and at its level (they had none: their INFO lines never showed, their
        warnings reached stderr bare)."""
        studio = logging.getLogger("gms_lab")
        server = self.log if isinstance(self.log, logging.Logger) else None
        if server is None:
            return
        for handler in server.handlers:
            if handler not in studio.handlers:
                studio.addHandler(handler)
        studio.setLevel(server.getEffectiveLevel())

    def initialize_handlers(self) -> None:
        """Register every route of the table."""
        self.handlers.extend((route.pattern, route.handler) for route in [*ROUTES, *SOCKETS])

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the broker (embedded unless configured), the event hub and the watcher."""
        await self.server_services.start()
        read_in_chunks_of(getattr(serverapp, "_http_server", None), self.server_services.config)
        if self.server_services.config.gc_freeze:  # once the rest of the server started too
            asyncio.get_running_loop().call_later(FREEZE_AFTER, self._freeze)

    def _freeze(self) -> None:
        """Leave the server's start-up objects out of the collector's full passes."""
        freeze_and_say(self.log, "server")

    async def stop_extension(self) -> None:
        """Stop the worker and Redis we started, and the watcher."""
        await self.server_services.stop()
