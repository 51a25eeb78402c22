"""`Studio`: the notebook's entry point: projects, tasks, live widgets over the core services."""

from __future__ import annotations

import contextlib
import getpass
import os
from base64 import b64encode
from collections.abc import Awaitable, Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import StudioConfig
from ..core.errors import NotFound, ProjectExists, StudioError
from ..core.library import list_models
from ..core.paths import slug_for
from ..core.services import StudioCore
from ..core.vcs import Author, stable_author
from ..models import (
    ExportRequest,
    ModelInfo,
    ProjectCreate,
    Quality,
    TaskRecord,
    TaskStatus,
    TaskSubmit,
)
from ..runtime import broker_url
from .errors import NoWorkerRunning, TaskCancelled, TaskError
from .widgets import TaskProgress

if TYPE_CHECKING:
    from ..tasks.context import TaskContext
    from ..tasks.service import TaskService
    from .handles import Film, Take
    from .live import LiveEvents
    from .trash import TrashBin


def _author(config: StudioConfig) -> Author:
    """The notebook's author: the studio's stable author, as on the server (`stable_author`)."""
    user = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
    person = Author(name=user, email=f"{slug_for(user)}@users.gms.local")
    return stable_author(config.author_name, config.author_email, person)


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


class Task:
    """A generation task seen from the notebook: live state, `result()`, `await`, `cancel()`."""

    def __init__(self, studio: Studio, record: TaskRecord, label: str) -> None:
        self.studio = studio
        self.record = record
        self.label = label
        self.widgets: list[TaskProgress] = []
        self._preview: tuple[str, str] = ("", "")

    @property
    def id(self) -> str:
        """The task id."""
        return self.record.task_id

    @property
    def status(self) -> TaskStatus:
        """pending, running, completed, error or cancelled."""
        return self.record.status

    @property
    def progress(self) -> float:
        """0 to 1."""
        return self.record.progress

    def done(self) -> bool:
        """Whether the task has ended."""
        return self.record.status.finished

    def row(self) -> dict[str, Any]:
        """The task as a progress widget row."""
        r = self.record
        return {
            "id": r.task_id,
            "label": self.label,
            "status": r.status.value,
            "progress": 1.0 if r.status == TaskStatus.completed else r.progress,
            "step": r.step,
            "error": r.error or "",
            "preview": self._preview_url() if r.status == TaskStatus.running else "",
        }

    def _preview_url(self) -> str:
        """The latest preview as a data URL (the kernel reads it; no server URL is needed)."""
        relpath = self.record.preview or ""
        if not relpath:
            return ""
        if self._preview[0] != relpath:
            try:
                root = self.studio.core.projects.path(self.record.project_id)
                data = (root / relpath).read_bytes()
            except (OSError, StudioError):
                return self._preview[1]  # gone already: keep showing the last one
            kind = "png" if relpath.endswith(".png") else "jpeg"
            self._preview = (relpath, f"data:image/{kind};base64,{b64encode(data).decode()}")
        return self._preview[1]

    def apply(self, event: dict[str, Any]) -> bool:
        """Take a live event for this task if it is newer than what we know; True if taken."""
        seq = int(event.get("seq", -1))
        if seq <= self.record.seq:
            return False
        r = self.record
        kind = event["type"]
        r.seq = seq
        if kind == "task_progress":
            r.status = TaskStatus(event["status"])
            r.progress, r.step = float(event["progress"]), str(event["step"])
            r.preview = event.get("preview") or None
        elif kind == "task_success":
            r.status, r.progress, r.step = TaskStatus.completed, 1.0, "done"
            self.refresh()
        elif kind == "task_failed":
            r.status = TaskStatus.cancelled if event.get("cancelled") else TaskStatus.error
            r.error = str(event["error"])
        return True

    def refresh(self) -> None:
        """Re-read the record from Redis (the snapshot), keeping whichever is newer."""
        record = self.studio.ctx.records.find(self.id)
        if record is not None and record.seq >= self.record.seq:
            self.record = record

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the task (widgets stay live): the `Take` (for an export, the file's path).

        Raises `TaskError` (with the pipeline's message) or `TaskCancelled`.
        """
        if not self.studio.wait([self], timeout=timeout, show=False):
            raise TimeoutError(f"Task {self.id} is still {self.status.value} after {timeout} s.")
        return self._outcome()

    def _outcome(self) -> Any:
        self.refresh()
        r = self.record
        if r.status == TaskStatus.cancelled:
            raise TaskCancelled(f"Task {self.label} was cancelled.", self.id)
        if r.status != TaskStatus.completed:
            raise TaskError(f"Task {self.label} failed: {r.error}", self.id)
        if r.take_id is None:
            return self.output_path()
        return self.studio._take_for(r)

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Any:
        import asyncio

        self.studio.live.pump(0)
        while not self.done():
            await asyncio.sleep(0.1)  # the loop's socket reader feeds the events meanwhile
            self.studio.live.pump(0)
        return self._outcome()

    def cancel(self) -> None:
        """Stop the task (a queued one at once, a running one within a moment)."""
        if not self.done():
            self.record = self.studio.tasks.cancel(self.id)
            self.studio._redraw([self])

    def output_path(self) -> Path | None:
        """The output file, once the task completed."""
        result = self.record.result
        if result is None:
            return None
        return self.studio.core.projects.path(self.record.project_id) / result.output_path

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        widget = TaskProgress()
        widget.show_tasks([self.row()])
        self.widgets.append(widget)
        shown = widget._repr_mimebundle_()
        bundle: dict[str, Any] = dict(shown[0] if isinstance(shown, tuple) else shown or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<Task {self.label} {self.status.value} {self.progress:.0%}>"


class Studio:
    """The studio of one workspace, for notebooks: projects, generation, live widgets.

    `Studio()` finds the workspace (`GMS_WORKSPACE` or the default) and the broker (a
    configured `GMS_BROKER_URL`, else the running server's `runtime.json`). Projects work
    without a broker; generating needs a running studio (`make dev`) or a worker.
    """

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None = None,
        broker: str | None = None,
        **settings: Any,
    ) -> None:
        self.config = StudioConfig.from_env(
            {"workspace": workspace, "broker_url": broker, **settings}
        )
        self.core = StudioCore(self.config)
        self.author = _author(self.config)
        self._ctx: TaskContext | None = None
        self._tasks: TaskService | None = None
        self._live: LiveEvents | None = None
        self._known: dict[str, Task] = {}
        self._cell_widgets: dict[int, TaskProgress] = {}
        self._project_listeners: dict[str, list[Any]] = {}

    # -- services, made when first needed -------------------------------------------------------
    @property
    def ctx(self) -> TaskContext:
        """Task context (Redis, records, registry), connected on first use."""
        if self._ctx is None:
            from ..tasks.context import TaskContext

            url = broker_url(self.config)
            self._ctx = TaskContext(self.config, self.core, url)
        return self._ctx

    @property
    def tasks(self) -> TaskService:
        """The task service, the same the server uses."""
        if self._tasks is None:
            from ..tasks.celery_app import make_celery, sender
            from ..tasks.service import TaskService

            self._tasks = TaskService(
                self.ctx, sender(make_celery(self.config, self.ctx.broker_url))
            )
        return self._tasks

    @property
    def live(self) -> LiveEvents:
        """The kernel's live event stream."""
        if self._live is None:
            from .live import LiveEvents

            self._live = LiveEvents(self.ctx.redis)
            self._live.listen(self._on_event)
        return self._live

    def trash(self, project: str | None = None) -> TrashBin:
        """The workspace trash (or one project's part of it): list, restore, erase, empty."""
        from .trash import TrashBin

        return TrashBin(self.core.trash, self.connect_tasks, project)

    def connect_tasks(self) -> None:
        """Connect to the broker when one runs, so tasks hear of deletions; else go on without."""
        with contextlib.suppress(StudioError):
            _ = self.ctx

    def pipelines(self) -> list[str]:
        """The ids of the pipelines this studio can run."""
        from ..tasks.registry import PipelineRegistry

        return sorted(PipelineRegistry(self.config.pipelines_path).pipelines)

    def unavailable_pipelines(self) -> dict[str, str]:
        """The pipelines whose Python requirements are missing here, with what to install."""
        from ..tasks.registry import PipelineRegistry

        registry = PipelineRegistry(self.config.pipelines_path)
        states = {p: registry.availability(p) for p in registry.pipelines}
        return {
            p: f"missing {', '.join(s.missing)}. {s.hint}".strip()
            for p, s in sorted(states.items())
            if not s.available
        }

    def models(self) -> list[ModelInfo]:
        """The models in the workspace's `Library/AI_Models/` (name, format, family, size)."""
        return list_models(self.core.workspace.models_dir)

    # -- projects -------------------------------------------------------------------------------
    def projects(self) -> list[Film]:
        """Every project of the workspace."""
        from .handles import Film

        return [Film(self, p.id) for p in self.core.projects.list()]

    def project(self, name: str) -> Film | None:
        """The project with that name or id, or None."""
        from .handles import Film

        for summary in self.core.projects.list():
            if name in (summary.id, summary.name) or summary.name.casefold() == name.casefold():
                return Film(self, summary.id)
        try:
            self.core.projects.get(name)
        except (NotFound, StudioError):
            return None
        return Film(self, name)

    def create_project(
        self, name: str, quality: str | Quality = "standard", exist_ok: bool = False
    ) -> Film:
        """Make a project (folders, manifest, git + LFS); `exist_ok` returns an existing one."""
        from .handles import Film

        try:
            project = self.core.projects.create(
                ProjectCreate(name=name, quality=Quality(quality)), self.author
            )
        except ProjectExists:
            if exist_ok:
                found = self.project(name)
                if found is not None:
                    return found
            raise
        return Film(self, project.id)

    # -- tasks ----------------------------------------------------------------------------------
    def submit(
        self, project_id: str, node_id: str, pipeline: str, parameters: dict[str, Any], label: str
    ) -> Task:
        """Queue a task and follow it live (one progress widget per cell in a notebook)."""
        return self.submit_all(project_id, node_id, pipeline, parameters, label, 1)[0]

    def submit_all(
        self,
        project_id: str,
        node_id: str,
        pipeline: str,
        parameters: dict[str, Any],
        label: str,
        count: int,
    ) -> list[Task]:
        """Queue `count` takes at once (all or none) and follow each live."""
        self.require_worker()
        self.live.follow(project_id)
        made = self.tasks.submit_all(
            TaskSubmit(
                project_id=project_id,
                node_id=node_id,
                pipeline=pipeline,
                parameters=parameters,
                count=count,
            ),
            {"name": self.author.name, "email": self.author.email},
        )
        if len(made) == 1:
            return [self._follow(made[0], label)]
        return [self._follow(r, f"{label} {i}/{len(made)}") for i, r in enumerate(made, 1)]

    def export(self, project_id: str, request: ExportRequest, label: str) -> Task:
        """Queue an export (the same path as the REST API's) and follow it live."""
        self.require_worker()
        self.live.follow(project_id)
        record = self.tasks.export(
            project_id, request, {"name": self.author.name, "email": self.author.email}
        )
        return self._follow(record, label)

    def _follow(self, record: TaskRecord, label: str) -> Task:
        task = Task(self, record, label)
        self._known[task.id] = task
        self._show_in_cell(task)
        return task

    def require_worker(self) -> None:
        """Raise `NoWorkerRunning`, saying how to start one, when no worker serves the broker."""
        try:
            workers = self.ctx.records.live_workers()
        except StudioError:
            raise
        except Exception as exc:
            raise NoWorkerRunning(
                f"Redis at {self.ctx.broker_url} does not answer ({exc}). Start the studio "
                "with `make dev`, or set GMS_BROKER_URL to a running Redis."
            ) from exc
        if not workers:
            raise NoWorkerRunning(
                f"No worker is running for workspace {self.config.workspace}. Start the studio "
                "with `make dev` (it runs one), or run `celery -A gms_lab.tasks.worker worker` "
                f"with GMS_BROKER_URL={self.ctx.broker_url} and GMS_WORKSPACE set."
            )

    def wait(self, tasks: Iterable[Task], timeout: float | None = None, show: bool = True) -> bool:
        """Wait for all `tasks` with one progress widget for the batch; False on timeout."""
        batch = list(tasks)
        for task in batch:
            task.refresh()
        if show and _ipython() is not None and batch:
            from IPython.display import display

            widget = TaskProgress(title=f"{len(batch)} task{'s' if len(batch) != 1 else ''}")
            widget.show_tasks([t.row() for t in batch])
            for task in batch:
                task.widgets.append(widget)
            display(widget)  # type: ignore[no-untyped-call]
        finished = self.live.wait_until(lambda: all(t.done() for t in batch), timeout)
        for task in batch:
            task.refresh()
        self._redraw(batch)
        return finished

    def results(self, tasks: Iterable[Task], timeout: float | None = None) -> list[Any]:
        """Wait for the batch, then every take (raises on the first failed task)."""
        batch = list(tasks)
        self.wait(batch, timeout)
        return [t._outcome() for t in batch]

    def gather(self, tasks: Iterable[Task]) -> Awaitable[list[Any]]:
        """`await studio.gather(batch)`: the takes, without blocking the kernel."""
        import asyncio

        async def run() -> list[Any]:
            return list(await asyncio.gather(*(t._wait_async() for t in tasks)))

        return run()

    def _show_in_cell(self, task: Task) -> None:
        shell = _ipython()
        if shell is None:
            return
        from IPython.display import display

        cell = int(getattr(shell, "execution_count", 0) or 0)
        widget = self._cell_widgets.get(cell)
        if widget is None:
            widget = TaskProgress()
            self._cell_widgets = {cell: widget}  # only the current cell's widget is grown
            widget.show_tasks([task.row()])
            display(widget)  # type: ignore[no-untyped-call]
        task.widgets.append(widget)
        self._redraw([task])

    def _redraw(self, tasks: Iterable[Task]) -> None:
        widgets: dict[int, TaskProgress] = {}
        for task in tasks:
            for widget in task.widgets:
                widgets[id(widget)] = widget
        for widget in widgets.values():
            ids = [row["id"] for row in widget.tasks]
            for task in tasks:
                if widget in task.widgets and task.id not in ids:
                    ids.append(task.id)
            widget.show_tasks([self._known[i].row() for i in ids if i in self._known])

    def _on_event(self, project_id: str, event: dict[str, Any]) -> None:
        task = self._known.get(str(event.get("taskId", "")))
        if task is not None and task.apply(event):
            self._redraw([task])
        for listener in list(self._project_listeners.get(project_id, [])):
            listener(event)

    def on_project_event(self, project_id: str, listener: Any) -> None:
        """Call `listener(event)` for each live event of the project (galleries use it)."""
        self.live.follow(project_id)
        self._project_listeners.setdefault(project_id, []).append(listener)

    def _take_for(self, record: TaskRecord) -> Take:
        from .handles import Film, Take

        if record.take_id is None:
            raise TaskError("This task made no take (an export or a thumbnail).", record.task_id)
        return Take(Film(self, record.project_id), record.node_id, record.take_id)

    def __repr__(self) -> str:
        return f"<Studio workspace={self.config.workspace}>"
