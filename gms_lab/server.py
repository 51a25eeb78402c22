"""The server's running services: broker (embedded or configured), tasks, live events, watcher."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .config import StudioConfig
from .core import assets
from .core.comfyui import comfyui_health
from .core.errors import ServiceUnavailable, StudioError
from .core.services import StudioCore
from .core.watcher import ProjectWatcher
from .embedded import EmbeddedServices
from .events import AssetAdded, AssetRemoved, EventHub, ProjectUpdate, encode
from .models import ToolHealth
from .runtime import clear_runtime, read_runtime, write_runtime
from .tasks.celery_app import make_celery, sender
from .tasks.context import TaskContext
from .tasks.lost import settle_lost_takes
from .tasks.runners.containers import DockerLauncher
from .tasks.service import TaskService

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Seconds a ComfyUI health answer is reused.
COMFYUI_HEALTH_EVERY = 5.0
#: How often the trash is swept for items past the retention period (seconds).
TRASH_SWEEP_EVERY = 3600.0


class StudioServer:
    """Starts and stops what the extension runs besides its handlers."""

    def __init__(self, config: StudioConfig, core: StudioCore) -> None:
        self.config = config
        self.core = core
        self.embedded: EmbeddedServices | None = None
        self.ctx: TaskContext | None = None
        self.tasks: TaskService | None = None
        self.hub: EventHub | None = None
        self.watcher: ProjectWatcher | None = None
        self.error: str | None = None
        self.ready = asyncio.Event()
        self._docker = DockerLauncher(config.docker_host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._comfyui_checked: tuple[float, ToolHealth] | None = None
        #: Threads of their own for calls that reach Redis: a hung Redis holds these (up to
        #: redis_timeout each), never the threads that read and write projects on disk.
        self._broker_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gms-redis")
        self._trash_keeper: asyncio.Task[None] | None = None
        self._settling: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start (or connect to) the broker, then the event hub and the watcher.

        The start runs as a task of its own, which `stop` cancels when the server is told to
        stop while it is still starting (a Ctrl-C in the first second): nothing it would have
        started after the stop can then keep the process alive.
        """
        self._starting = asyncio.get_running_loop().create_task(self._start())
        with contextlib.suppress(asyncio.CancelledError):
            await self._starting

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        removed = await asyncio.to_thread(self.core.workspace.sweep_partial_files)
        if removed:
            log.info("Generative Studio: removed %d partial files left by a crash", len(removed))
        try:
            url = self.config.broker_url
            if not url:
                self.embedded = EmbeddedServices(self.config)
                url = await self.embedded.start()
                log.info("Generative Studio: embedded Redis at %s", url)
            else:
                # notebooks of this workspace find the configured broker the same way
                write_runtime(
                    self.config.workspace,
                    {"brokerUrl": url, "embedded": False, "serverPid": os.getpid()},
                )
            self.ctx = await asyncio.to_thread(TaskContext, self.config, self.core, url)
            self.tasks = TaskService(self.ctx, sender(make_celery(self.config, url)))
            for error in self.ctx.registry.errors:
                log.error("pipeline %s: %s: %s", error.path, error.field, error.message)
            self.hub = EventHub(url, timeout=self.config.redis_timeout, on_back=self._redis_back)
            self.hub.start()
            self._settling = asyncio.get_running_loop().create_task(self._settle_lost(self.ctx))
        except Exception as exc:
            self.error = self.plain(exc)
            log.error("Generative Studio: tasks are unavailable: %s", exc)
        if self.config.watch:
            self.watcher = ProjectWatcher(self.core.workspace, self._on_files_changed)
            self.watcher.start()
        self._trash_keeper = asyncio.get_running_loop().create_task(self._keep_trash())
        self.ready.set()

    def _redis_back(self) -> None:
        """Redis answers again after an outage: it may have come back without its data (a
        container recreated without its volume), so the takes of tasks it lost are settled
        now, not at the next start."""
        ctx, settling = self.ctx, self._settling
        if ctx is not None and (settling is None or settling.done()):
            self._settling = asyncio.get_running_loop().create_task(self._settle_lost(ctx))

    async def _settle_lost(self, ctx: TaskContext) -> None:
        """End the takes left generating for good by tasks Redis lost (`tasks.lost`)."""
        try:
            settled = await asyncio.to_thread(settle_lost_takes, ctx)
        except Exception as exc:  # Redis away: looked at again when it is back
            log.warning("Generative Studio: takes of lost tasks not checked: %s", exc)
            return
        # said either way: the settling is over (a test of a restart waits for it)
        say = log.warning if settled else log.info
        say("Generative Studio: %d take(s) of lost tasks ended", len(settled))

    async def _keep_trash(self) -> None:
        """Finish deletions a crash cut short; erase what outlived the retention period."""
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.core.trash.recover)
        while True:
            try:
                erased = await asyncio.to_thread(self.core.trash.erase_expired)
                if erased:
                    log.info("trash: erased %d item(s) past the retention period", len(erased))
            except Exception as exc:
                log.warning("trash: could not erase expired items: %s", exc)
            await asyncio.sleep(TRASH_SWEEP_EVERY)

    async def stop(self) -> None:
        """Stop the watcher, the hub and the embedded services (a start under way first)."""
        if self.embedded is not None:
            self.embedded.stopping()  # Ctrl-C reached Redis too: it is not restarted meanwhile
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        for task in (self._trash_keeper, self._settling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.watcher is not None:
            await self.watcher.stop()
        if self.hub is not None:
            await self.hub.stop()
        if self.embedded is not None:
            await self.embedded.stop()
        elif read_runtime(self.config.workspace).get("serverPid") == os.getpid():
            clear_runtime(self.config.workspace)
        self._broker_threads.shutdown(wait=False, cancel_futures=True)

    async def on_broker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call that talks to Redis, off the event loop and off the disk threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._broker_threads, functools.partial(fn, *args))

    def plain(self, exc: BaseException) -> str:
        """What went wrong, for clients: no path of the server's (files by name, the workspace
        as $GMS_WORKSPACE)."""
        if isinstance(exc, OSError) and exc.filename is not None:
            return f"{exc.strerror or type(exc).__name__}: {Path(str(exc.filename)).name}"
        return str(exc).replace(str(self.config.workspace), "$GMS_WORKSPACE")

    def task_service(self) -> TaskService:
        """The task service, or a clear 503 when there is no broker."""
        if self.tasks is None:
            reason = self.error or "the studio's services are still starting"
            raise ServiceUnavailable(f"Generation tasks are unavailable: {reason}")
        return self.tasks

    def publish_local(self, project_id: str, raw: str) -> None:
        """Fan an event out to this server's WebSockets without going through Redis."""
        if self.hub is not None:
            self.hub.dispatch(project_id, raw)

    # -- health ---------------------------------------------------------------------------------
    async def health(self) -> dict[str, ToolHealth]:
        """Redis, worker and Docker, checked now (in a thread: they are network calls)."""
        return await self.on_broker(self._health)

    def _health(self) -> dict[str, ToolHealth]:
        out: dict[str, ToolHealth] = {}
        if self.ctx is None:
            message = self.error or "starting"
            out["redis"] = ToolHealth(ok=False, message=message)
            out["worker"] = ToolHealth(ok=False, message=message)
        else:
            try:
                info = self.ctx.redis.info("server")
                out["redis"] = ToolHealth(ok=True, version=str(info.get("redis_version")))
                workers = self.ctx.records.live_workers()
                out["worker"] = (
                    ToolHealth(
                        ok=True, version=f"{len(workers)} running", message=", ".join(workers)
                    )
                    if workers
                    else ToolHealth(
                        ok=False,
                        message="No worker is running: start one with `make dev`, or "
                        "`celery -A gms_lab.tasks.worker worker` with GMS_BROKER_URL set.",
                    )
                )
            except Exception as exc:
                out["redis"] = ToolHealth(
                    ok=False, message=f"Redis does not answer: {self.plain(exc)}"
                )
                out["worker"] = ToolHealth(ok=False, message="unknown (Redis does not answer)")
        if self._docker.engine_ok(cache=30):
            try:
                version = self._docker.info().get("Version")
                out["docker"] = ToolHealth(ok=True, version=str(version))
            except Exception as exc:
                out["docker"] = ToolHealth(ok=False, message=self.plain(exc))
        else:
            out["docker"] = ToolHealth(
                ok=False, message="No Docker engine: pipelines run as local processes."
            )
        out["comfyui"] = self._comfyui_health()
        return out

    def _comfyui_health(self) -> ToolHealth:
        """ComfyUI's health, asked at most every few seconds (the banner polls often)."""
        now = time.monotonic()
        cached = self._comfyui_checked
        if cached is not None and now - cached[0] < COMFYUI_HEALTH_EVERY:
            return cached[1]
        health = comfyui_health(self.config.comfyui_url)
        self._comfyui_checked = (now, health)
        return health

    # -- files changed on disk ------------------------------------------------------------------
    def _on_files_changed(self, project_id: str, changes: list[tuple[str, str]]) -> None:
        asyncio.get_running_loop().create_task(self._announce_files(project_id, changes))

    async def _announce_files(self, project_id: str, changes: list[tuple[str, str]]) -> None:
        for kind, relpath in changes:
            if relpath == "" and kind in ("added", "deleted") and self.hub is not None:
                # a project was made or removed (by anyone): every client refreshes its list
                change = "created" if kind == "added" else "deleted"
                news = ProjectUpdate(project_id=project_id, changes={change: True})
                self.hub.broadcast(encode(news))
        changes = [(kind, relpath) for kind, relpath in changes if relpath]
        if not changes or (self.watcher is not None and project_id not in self.watcher.projects):
            return
        with contextlib.suppress(StudioError):
            events = await self.on_broker(self._file_events, project_id, changes)
            for event in events:
                if self.ctx is not None:
                    self.ctx.publisher.publish(project_id, event)  # queued: returns at once
                else:
                    self.publish_local(project_id, encode(event))

    def _file_events(
        self, project_id: str, changes: list[tuple[str, str]]
    ) -> list[AssetAdded | AssetRemoved | ProjectUpdate]:
        root = self.core.projects.path(project_id)
        events: list[AssetAdded | AssetRemoved | ProjectUpdate] = []
        other: list[str] = []
        for kind, relpath in changes:
            category = assets.category_of(relpath)
            path = root / relpath
            if relpath == "project.json":
                self._manifest_changed(project_id, events)
            elif category is not None and kind == "deleted":
                events.append(AssetRemoved(category=category.value, path=relpath))
            elif category is not None and path.is_file():
                asset = assets.describe(project_id, root, path, self.config.thumbnail_size)
                events.append(AssetAdded(category=category.value, asset=asset))
                if self.tasks is not None:
                    try:
                        self.tasks.request_thumbnail(project_id, relpath)
                    except StudioError as exc:
                        log.info("no thumbnail for %s: %s", relpath, exc.message)
            elif category is None and not path.is_dir():
                other.append(relpath)
        if other:
            events.append(ProjectUpdate(project_id=project_id, changes={"files": other[:200]}))
        return events

    def _manifest_changed(self, project_id: str, events: list[Any]) -> None:
        try:
            version = self.core.projects.get(project_id).version
        except Exception:  # half-written by an outside editor: the next change will tell
            return
        known = self.hub.versions.get(project_id) if self.hub is not None else None
        if known != version:
            events.append(
                ProjectUpdate(
                    project_id=project_id,
                    changes={"manifest": True, "external": True},
                    version=version,
                )
            )
