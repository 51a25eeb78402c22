"""Takes whose task was lost, settled when the server starts and whenever Redis comes back to it
after an outage: no take stays generating for good.

A submit stores its tasks' records in Redis before it writes their takes into `project.json`
(`TaskService`), and a worker files a take as done before its record says so. So a take still
generating whose record Redis does not have lost it with Redis's data: the machine crashed and
Redis came back without the last second of its writes (`appendfsync everysec`), or Redis's
data was reset. A worker given such a task drops it (it has no record to run), and nothing else
would ever end the take: the lab showed it generating for good, and it could not be cancelled.
A failure is recorded first and filed on the take after; a take still generating whose record
says the task failed or was cancelled missed that second write (a full disk, a worker killed
between the two): it gets that end now.

The server settles these once it reaches Redis at start-up, and again each time its event hub
reaches Redis after an outage (Redis may be back without its data: a container recreated
without its volume), off the event loop. Only manifests with a take generating are parsed (a
look for the word in the file first), and a project's takes are settled in one write. While
the server runs, a take generating always has its record already (a submit stores the record
first), and an end a worker is filing at that moment is filed twice, the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..core import hierarchy, takes
from ..core.errors import NotFound, StudioError
from ..core.manifest import Unchanged
from ..events import NodeStateUpdated
from ..models import Project, Shot, Take, TakeStatus, TaskStatus
from .context import TaskContext

log = logging.getLogger(__name__)

#: The error a take whose task Redis lost ends with.
LOST = (
    "The take's task was lost: the task queue (Redis) no longer knows it, as after a crash of "
    "the machine or a reset of the queue's data. Generate the take again."
)


@dataclass(frozen=True)
class Settled:
    """A take that was generating, and how it ended now."""

    project_id: str
    shot_id: str
    take_id: str
    error: str
    cancelled: bool = False


def settle_lost_takes(ctx: TaskContext) -> list[Settled]:
    """End every take of the workspace that is generating while its task cannot end it (see the
    module's docstring), each project in one manifest write, and tell the project's clients."""
    settled: list[Settled] = []
    for project_id in ctx.core.workspace.project_ids():
        try:
            settled += _settle_project(ctx, project_id)
        except (StudioError, OSError) as exc:  # a damaged or vanished project: the others go on
            log.warning("lost takes: project %s not checked: %s", project_id, exc)
    for take in settled:
        log.warning(
            "project %s: take %s ended (%s): %s",
            take.project_id,
            take.take_id,
            "cancelled" if take.cancelled else "error",
            take.error,
        )
        state = {
            "status": "cancelled" if take.cancelled else "error",
            "error": take.error,
            "shotId": take.shot_id,
        }
        ctx.publisher.publish(take.project_id, NodeStateUpdated(node_id=take.take_id, state=state))
    return settled


def _settle_project(ctx: TaskContext, project_id: str) -> list[Settled]:
    path = ctx.core.workspace.manifest_path(project_id, must_exist=False)
    try:
        if b'"generating"' not in path.read_bytes():
            return []
    except FileNotFoundError:
        return []
    waiting = _generating(ctx.core.manifests.read(project_id))
    if not waiting:
        return []
    records = ctx.records.find_many([take.task_id or "" for _, take in waiting])
    ending: dict[str, Settled] = {}
    for (shot, take), record in zip(waiting, records, strict=True):
        if record is None:
            ending[take.id] = Settled(project_id, shot.id, take.id, LOST)
        elif record.status in (TaskStatus.error, TaskStatus.cancelled):
            cancelled = record.status == TaskStatus.cancelled
            error = record.error or ("Cancelled." if cancelled else "The task failed.")
            ending[take.id] = Settled(project_id, shot.id, take.id, error, cancelled)
    if not ending:
        return []

    def end(project: Project) -> list[Settled]:
        done = []
        for settled in ending.values():
            try:
                _, take = takes.find_take(project, settled.take_id)
            except NotFound:
                continue  # deleted meanwhile
            if take.status != TakeStatus.generating:
                continue  # ended meanwhile
            takes.fail(
                project,
                settled.take_id,
                settled.error,
                cancelled=settled.cancelled,
                shot_id=settled.shot_id,
            )
            done.append(settled)
        if not done:
            raise Unchanged([])
        return done

    _, done = ctx.core.manifests.update(project_id, end, lazy=True)
    return done


def _generating(project: Project) -> list[tuple[Shot, Take]]:
    """The project's takes still generating that name their task, with their shots."""
    found = []
    for located in hierarchy.walk(project):
        node = located.node
        if (
            located.kind == "take"
            and isinstance(node, Take)
            and isinstance(located.parent, Shot)
            and node.status == TakeStatus.generating
            and node.task_id
        ):
            found.append((located.parent, node))
    return found
