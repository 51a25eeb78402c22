"""The one manifest writer: every change to a project.json goes through `ManifestStore.update`.

Why it is fast at the size of a real film (10,000 takes, a few MB of JSON), measured with a
profiler rather than guessed — a write used to parse the file, dump the whole project to a dict,
validate that dict again and serialise it (four full passes), a read parsed it every time:

- **An in-memory copy checked against the file.** Each process keeps the parsed manifest of
  the projects it used, keyed by the file's stat (device, inode, size, mtime) *and* its first
  bytes (which hold the `version`). Every write of ours renames a new file into place (a new
  inode and a new version), so a change made by another process — the worker, a notebook — or
  by an editor is seen at the next read, which costs one `open` + `fstat` + `pread` when nothing
  changed.
- **Copy on write with shared takes.** A change works on a fork of the project: the spine
  (project, chapters, scenes, shots and their lists) is copied, the takes are shared. `Take` is
  frozen, so a change replaces a take (`core/takes.py`) rather than editing one that an older
  snapshot still holds. Snapshots handed out by `read` are therefore never changed under a
  reader; treat them as read-only and change a project through `update`.
- **Incremental validation.** The project's models validate every assignment, new nodes are
  validated when built, and the final serialisation refuses a value of the wrong type; so the
  whole tree is not validated again on each write.
- **One serialisation.** The bytes written are also what the REST API answers for the project.

The durability rule is unchanged: lock → change → bump the version → temp file → fsync →
rename → unlock → fsync the folder, and only then does `update` return (the folder's fsync
waits outside the lock, so the next writer does not wait for it).
"""

from __future__ import annotations

import contextlib
import fcntl
import operator
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

import orjson
from filelock import Timeout
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from ..models import (
    Chapter,
    ManifestDamage,
    Project,
    ProjectSummary,
    Quality,
    Scene,
    Shot,
    Take,
)
from .errors import InvalidInput, ProjectDamaged, ProjectNotFound, VersionConflict
from .files import atomic_write, fsync_dir, making_folder
from .forks import fork, lazy_fork, owning
from .workspace import Workspace

T = TypeVar("T")
#: How long a coalesced write waits at most for the changes announced as on their way
#: (`ManifestStore.coming`) before it starts without them.
LINGER = 0.02
M = TypeVar("M", bound=BaseModel)
MANIFEST = "project.json"
_LOCK_TIMEOUT = 30.0
_LOCK_POLL = 0.001
#: Manifest bytes the parsed copies may stand for at most (the newest one is always kept).
_CACHE_BYTES = 64 * 1024 * 1024
#: A manifest this big (a film's) is rewritten with its old file freed in the background.
_RELEASE_LATER = 1024 * 1024
#: The first bytes of a manifest hold id, name, created, quality and version.
_HEAD = 1024
#: (device, inode, size, mtime in ns) of a manifest file.
Stamp = tuple[int, int, int, int]
#: The deepest a free-form value (properties, canvas, parameters) is stored. With the
#: manifest's own ten levels around it this stays far under the reader's limit (201 levels),
#: so nothing is written that a read would fail on; `json_max_depth` may not exceed it.
FREE_FORM_DEPTH = 128


def _changing(project: Project, lazy: bool) -> contextlib.AbstractContextManager[None]:
    """The context a change runs in: for a lazy fork, the nodes it finds are copied first."""
    return owning(project) if lazy else contextlib.nullcontext()


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A change that would make the project invalid or unreadable: `InvalidInput`."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidInput(
            "The change would make the project invalid; nothing was written.", _errors(exc)
        ) from exc
    except (PydanticSerializationError, orjson.JSONEncodeError) as exc:
        reason = str(exc).removeprefix("Error serializing to JSON: ")
        raise InvalidInput(
            f"The change would make the project unreadable ({reason}); nothing was written.",
            {"reason": reason},
        ) from exc


class _Waiting:
    """A coalesced change waiting for its write, and what came of it."""

    def __init__(self, change: Callable[[Project], Any], lazy: bool = False) -> None:
        self.change = change
        self.lazy = lazy
        self.woken = threading.Event()
        self.leads = False
        self.project: Project | None = None
        self.outcome: Any = None
        self.error: BaseException | None = None


@dataclass
class _Batch:
    """The changes waiting for one project's next write (group commit): the first to come
    leads — it takes the project's lock, and everyone who queued until then is written with
    it in one write; whoever queued later is made the next leader."""

    waiting: list[_Waiting] = field(default_factory=list)


class ProjectLock:
    """An exclusive `flock` on a project's lock file, held by one thread of one process.

    Each holder opens the file itself (so threads of a process exclude each other like
    processes do), the same lock `filelock` takes on that file. Taking a free lock costs three
    system calls; a waiter looks again after 0.1 ms, then less often, at most every 1 ms (with
    the worker and the server writing one project in turns, waiting was most of a write).
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout = path, timeout
        self._fd: int | None = None

    def __enter__(self) -> ProjectLock:
        fd = making_folder(
            self.path.parent, lambda: os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        )
        pause, deadline = 0.0001, time.monotonic() + self.timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Timeout(str(self.path)) from None
                    time.sleep(pause)
                    pause = min(pause * 2, _LOCK_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *_: object) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class Unchanged(Exception):
    """Raised by a change given to `ManifestStore.update` that finds nothing to do: nothing is
    written, and `update` returns the project as it is, with `value` as the change's result."""

    def __init__(self, value: Any = None) -> None:
        super().__init__()
        self.value = value


@dataclass
class _Entry:
    """One parsed manifest and what identifies the file it came from."""

    stamp: Stamp
    head: bytes
    project: Project
    body: bytes | None = None  # the serialised manifest, made once when first asked for
    serialiser: Serialiser | None = None  # the JSON of its takes, for the next write
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serialised(self) -> bytes:
        """The project as the manifest writer serialises it (what the API answers)."""
        if self.body is None:
            with self.lock:
                if self.body is None:
                    if self.serialiser is None:  # kept for the next write or read
                        self.serialiser = Serialiser()
                    self.body = self.serialiser.dump(self.project)
        return self.body


class ManifestStore:
    """Reads and writes `project.json` under a per-project lock shared by threads and processes.

    `cache_size` is how many parsed manifests this process keeps (least recently used go);
    the project list keeps a small summary of every project besides.
    """

    def __init__(
        self,
        workspace: Workspace,
        on_write: Callable[[Project], None] | None = None,
        cache_size: int = 64,
    ) -> None:
        self.workspace = workspace
        #: Called after every successful write (outside the lock): announces the new version.
        self.on_write = on_write
        self.cache_size = max(1, cache_size)
        self._entries: OrderedDict[Path, _Entry] = OrderedDict()
        self._projects_dir = os.fspath(workspace.projects_dir)
        #: The project list's rows, by project id (a thousand of them are looked at per list).
        self._summaries: dict[str, tuple[Stamp, bytes, ProjectSummary]] = {}
        self._batches: dict[Path, _Batch] = {}
        self._guard = threading.Lock()
        #: Coalesced changes announced per project and not made yet (see `coming`).
        self._coming: dict[str, int] = {}
        self._arrived = threading.Condition(self._guard)
        self._announced = threading.local()

    def lock(self, project_id: str) -> ProjectLock:
        """The project's manifest lock (a new handle each call: safe across threads)."""
        return ProjectLock(self.workspace.lock_path(f"{project_id}.manifest"), _LOCK_TIMEOUT)

    def read(self, project_id: str) -> Project:
        """The project's manifest as it is on disk now (a shared snapshot: do not change it)."""
        return self._load(project_id, self._path(project_id, must_exist=False)).project

    def recent(self, project_id: str) -> Project:
        """The manifest as this process last saw it, without looking whether another process
        wrote since (it may be a write behind); read from disk if this process has none.

        For checking a request before a write that reads the project afresh under its lock
        (and fails then if the request no longer fits): a submit need not parse a manifest
        the worker just wrote, before it queues its task.
        """
        path = self._path(project_id)  # a project deleted since is found out here
        with self._guard:
            entry = self._entries.get(path)
        return entry.project if entry is not None else self._load(project_id, path).project

    def read_serialised(self, project_id: str) -> tuple[Project, bytes]:
        """The manifest and its JSON (camelCase, as written), for answering without re-encoding."""
        entry = self._load(project_id, self._path(project_id, must_exist=False))
        return entry.project, entry.serialised()

    def summary(self, project_id: str) -> ProjectSummary | None:
        """One row of the project list; None when the project is gone.

        A manifest that cannot be read gives a row marked `damaged` (with the reason), so the
        project stays in sight. Kept for every project (small), checked against the file like
        the manifests.
        """
        # a plain string path: pathlib was most of a list's time at a thousand projects
        name = f"{self._projects_dir}/{project_id}/{MANIFEST}"
        try:
            fd = os.open(name, os.O_RDONLY)
        except OSError:
            return None
        try:
            stamp, head = _stamp(fd), os.pread(fd, _HEAD, 0)
        finally:
            os.close(fd)
        known = self._summaries.get(project_id)
        if known is not None and known[0] == stamp and known[1] == head:
            return known[2]
        path = Path(name)
        try:
            entry = self._load(project_id, path)
        except ProjectNotFound:
            return None
        except ProjectDamaged as exc:
            summary = _damaged(project_id, stamp, exc)
            with self._guard:
                self._summaries[project_id] = (stamp, head, summary)
            return summary
        summary = _summarise(entry)
        with self._guard:
            self._summaries[project_id] = (entry.stamp, entry.head, summary)
        return summary

    def write_new(self, project_dir: Path, project: Project) -> None:
        """Write the first manifest of a new project."""
        atomic_write(project_dir / MANIFEST, _dump(project))

    def update(
        self,
        project_id: str,
        change: Callable[[Project], T],
        expected_version: int | None = None,
        coalesce: bool = False,
        lazy: bool = False,
    ) -> tuple[Project, T]:
        """Lock, read, apply `change` (which mutates the project), bump the version, write.

        `expected_version` (the client's `If-Match`) must equal the version on disk, else
        `VersionConflict`. A change that leaves an invalid project, or one a reader could not
        load (free-form values nested too deep, integers beyond 64 bits, lone surrogates), is
        refused and nothing is written. Returns the written project and what `change`
        returned; the write is on disk (fsynced) when this returns.

        `coalesce=True` says the change only alters the project (no side effects, no expected
        version), so changes of several threads that wait for the project at the same time
        are written together: one write and one fsync for all of them (see `_Batch`). Each
        caller is answered when the write holding its change is on disk; a change that fails
        fails alone.

        `lazy=True` says the change reaches every node it alters through `hierarchy.find`
        (the take changes do): it runs on a fork that copies only what it finds, so a take
        ending in a film of 1,000 shots copies one shot, not all (see `forks`).
        """
        if coalesce and expected_version is None:
            return self._coalesced(project_id, change, lazy)
        path = self._path(project_id)
        with self.lock(project_id):
            entry = self._load(project_id, path)
            current = entry.project
            if expected_version is not None and expected_version != current.version:
                raise VersionConflict(
                    f"The project changed meanwhile (version {current.version}, "
                    f"you had {expected_version}). Reload and try again.",
                    {"current": current.version, "expected": expected_version},
                )
            project = lazy_fork(current) if lazy else fork(current)
            with _refused(), _changing(project, lazy):
                try:
                    outcome = change(project)
                except Unchanged as nothing:
                    return current, nothing.value
            self._write(path, entry, project)
        fsync_dir(path.parent)  # the lock is free meanwhile (see `_write`)
        if self.on_write is not None:
            self.on_write(project)
        return project, outcome

    def _write(self, path: Path, entry: _Entry, project: Project) -> None:
        """Serialise the changed project as the next version and write it: the file is fsynced
        and renamed into place, the folder is not. The caller fsyncs the folder after it has
        let go of the project's lock, and answers only then: the next writer serialises its
        change meanwhile, and an answered write is on disk as before (a folder's fsync makes
        the renames before it durable too, so a later writer's answer covers this file)."""
        serialiser = entry.serialiser or Serialiser()
        with _refused():
            project.version = entry.project.version + 1
            data = serialiser.dump(project)
        stamp = atomic_write(path, data, sync_dir=False, release_later=len(data) >= _RELEASE_LATER)
        self._remember(path, _Entry(stamp, data[:_HEAD], project, data, serialiser))

    @contextlib.contextmanager
    def coming(self, project_id: str) -> Iterator[None]:
        """Announce that this thread is about to make a coalesced change of the project (a
        take being filed, takes being queued): a coalesced write that starts meanwhile waits
        for it, at most `LINGER` seconds, so changes that come at the same moment share one
        write. A thread that leaves without making the change withdraws it."""
        with self._guard:
            self._coming[project_id] = self._coming.get(project_id, 0) + 1
        self._announced.project = project_id
        try:
            yield
        finally:
            if getattr(self._announced, "project", None) == project_id:
                with self._guard:
                    self._came(project_id)

    def _came(self, project_id: str) -> None:
        """An announced change was made or withdrawn (the guard held)."""
        self._announced.project = None
        left = self._coming.get(project_id, 0) - 1
        if left > 0:
            self._coming[project_id] = left
        else:
            self._coming.pop(project_id, None)
        self._arrived.notify_all()

    def _linger(self, project_id: str) -> None:
        """Wait for the changes announced as coming (at most `LINGER` seconds)."""
        deadline = time.monotonic() + LINGER
        with self._guard:
            while self._coming.get(project_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._arrived.wait(left)

    def _coalesced(
        self, project_id: str, change: Callable[[Project], T], lazy: bool = False
    ) -> tuple[Project, T]:
        path = self._path(project_id)
        mine = _Waiting(change, lazy)
        with self._guard:
            if getattr(self._announced, "project", None) == project_id:
                self._came(project_id)
            batch = self._batches.get(path)
            if batch is None:
                batch = self._batches[path] = _Batch()
                mine.leads = True
            batch.waiting.append(mine)
            self._arrived.notify_all()
        if not mine.leads:
            mine.woken.wait()  # answered, or made the next leader
        if mine.leads:
            self._linger(project_id)
            self._lead(project_id, path)
        if mine.error is not None:
            raise mine.error
        assert mine.project is not None
        return mine.project, mine.outcome

    def _lead(self, project_id: str, path: Path) -> None:
        """Write what waits for the project: everyone who queued until the lock is held."""
        written: Project | None = None
        waiting: list[_Waiting] = []
        try:
            with self.lock(project_id):
                with self._guard:
                    batch = self._batches[path]
                    waiting, batch.waiting = batch.waiting, []
                written = self._commit(project_id, path, waiting)
            if written is not None:
                fsync_dir(path.parent)  # the lock is free meanwhile (see `_write`)
        except BaseException as exc:  # the lock or the manifest itself failed: all of them fail
            with self._guard:
                if not waiting:
                    batch = self._batches[path]
                    waiting, batch.waiting = batch.waiting, []
            wrote = written is not None  # then the folder's fsync failed: those written fail too
            for one in waiting:
                if one.error is None and (one.project is None or wrote):
                    one.error, one.project = exc, None
            written = None
        finally:
            with self._guard:
                batch = self._batches[path]
                if batch.waiting:
                    batch.waiting[0].leads = True  # the next write is theirs to make
                    batch.waiting[0].woken.set()
                else:
                    del self._batches[path]
            for one in waiting:
                one.leads = False
                one.woken.set()
        if written is not None and self.on_write is not None:
            self.on_write(written)

    def _commit(self, project_id: str, path: Path, waiting: list[_Waiting]) -> Project | None:
        """Apply the changes in turn (each on its own fork: one that fails leaves no trace) and
        write the result once; the project written (None when nothing changed)."""
        entry = self._load(project_id, path)
        working = entry.project
        changed: list[_Waiting] = []
        for one in waiting:
            candidate = lazy_fork(working) if one.lazy else fork(working)
            try:
                with _refused(), _changing(candidate, one.lazy):
                    one.outcome = one.change(candidate)
            except Unchanged as nothing:
                one.outcome, one.project = nothing.value, working
                continue
            except BaseException as exc:
                one.error = exc
                continue
            working = candidate
            changed.append(one)
        if not changed:
            return None
        try:
            self._write(path, entry, working)
        except InvalidInput:
            # one of them makes a project that cannot be written: each alone, so it fails alone
            return self._one_by_one(project_id, path, changed)
        for one in changed:
            one.project = working
        return working

    def _one_by_one(self, project_id: str, path: Path, changed: list[_Waiting]) -> Project | None:
        written: Project | None = None
        for one in changed:
            entry = self._load(project_id, path)
            project = fork(entry.project)
            try:
                with _refused():
                    one.outcome = one.change(project)
                self._write(path, entry, project)
            except BaseException as exc:
                one.error = exc
                continue
            one.project = written = project
        for one in changed:  # the later writes hold the earlier changes too
            if one.error is None and written is not None:
                one.project = written
        return written

    def forget(self, project_id: str) -> None:
        """Drop what this process keeps of a project (it was deleted or moved)."""
        path = self.workspace.projects_dir / project_id / MANIFEST
        with self._guard:
            self._entries.pop(path, None)
            self._summaries.pop(project_id, None)

    # -- the in-memory copies -------------------------------------------------------------------
    def _path(self, project_id: str, must_exist: bool = True) -> Path:
        """The manifest's path; `must_exist=False` for a read, which opens the file and says 404
        itself (one stat less for every read). Writes keep the check, so no lock file is made
        for a project that does not exist."""
        return self.workspace.manifest_path(project_id, must_exist=must_exist)

    def _load(self, project_id: str, path: Path) -> _Entry:
        # the project may have been deleted since its folder was checked: that is a 404
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError) as exc:
            self.forget(project_id)
            raise ProjectNotFound(f"No project {project_id!r}.", {"projectId": project_id}) from exc
        except OSError as exc:  # not ours to read (permissions), or a disk fault
            raise ProjectDamaged(project_id, exc.strerror or type(exc).__name__) from exc
        try:
            try:
                stamp, head = _stamp(fd), os.pread(fd, _HEAD, 0)
            except IsADirectoryError as exc:  # a folder named project.json: no project there
                raise ProjectNotFound(
                    f"No project {project_id!r}.", {"projectId": project_id}
                ) from exc
            with self._guard:
                entry = self._entries.get(path)
                if entry is not None and entry.stamp == stamp and entry.head == head:
                    self._entries.move_to_end(path)
                    return entry
            data = _read_all(fd, stamp[2])
        finally:
            os.close(fd)
        known = entry.serialiser if entry is not None else None
        try:
            project, serialiser = _parse(data, known)
        except ValidationError as exc:
            raise ProjectDamaged(project_id, _reason(exc)) from exc
        entry = _Entry(stamp, data[:_HEAD], project, serialiser=serialiser)
        self._remember(path, entry)
        return entry

    def _remember(self, path: Path, entry: _Entry) -> None:
        with self._guard:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            # by count, and by size: a film of 10,000 takes holds some 40 MB in memory
            while len(self._entries) > 1 and (
                len(self._entries) > self.cache_size
                or sum(e.stamp[2] for e in self._entries.values()) > _CACHE_BYTES
            ):
                self._entries.popitem(last=False)


def _stamp(fd: int) -> Stamp:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, max(size - offset, 0) + 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _summarise(entry: _Entry) -> ProjectSummary:
    project = entry.project
    shots = takes = 0
    for chapter in project.chapters:
        for scene in chapter.scenes:
            shots += len(scene.shots)
            takes += sum(len(shot.takes) for shot in scene.shots)
    return ProjectSummary(
        id=project.id,
        name=project.name,
        quality=project.quality,
        version=project.version,
        created=project.created,
        modified=datetime.fromtimestamp(entry.stamp[3] / 1e9, UTC),
        shot_count=shots,
        take_count=takes,
    )


def _damaged(project_id: str, stamp: Stamp, exc: ProjectDamaged) -> ProjectSummary:
    """The list's row of a project whose manifest cannot be read: its folder name, version 0."""
    when = datetime.fromtimestamp(stamp[3] / 1e9, UTC)
    return ProjectSummary(
        id=project_id,
        name=project_id,
        quality=Quality.standard,
        version=0,
        created=when,
        modified=when,
        shot_count=0,
        take_count=0,
        damaged=ManifestDamage(path=MANIFEST, reason=exc.reason),
    )


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _reason(exc: ValidationError) -> str:
    """The first problem of a manifest that fails to load, without the manifest's text."""
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def _shallow_enough(value: Any, what: str) -> None:
    """Refuse a free-form value nested deeper than `FREE_FORM_DEPTH` (a reader would fail)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= FREE_FORM_DEPTH:
                raise PydanticSerializationError(
                    f"{what} nest deeper than {FREE_FORM_DEPTH} levels"
                )
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _parse(data: bytes, known: Serialiser | None) -> tuple[Project, Serialiser | None]:
    """The manifest in `data`; with an older version in hand, only what changed is validated
    (another process wrote it: most shots and takes are the same).

    A shot whose text is byte for byte the one this process last wrote or read for it is that
    version's `Shot` (its text, not even parsed). In a known shot whose text changed, the
    takes whose texts stand as they were known (found in runs, see `_take_runs`) are that
    version's frozen `Take`s, not parsed either: a take done or added in a shot of a thousand
    takes parses that take. In the other shots, a take whose JSON is the older version's (same
    values of the same types) is that version's `Take`. What is reused is kept for the next
    write; the rest goes through the models as usual.
    """
    if known is None or not known.known():
        return Project.model_validate_json(data), None
    texts = known.shot_texts()
    try:
        doc, kept, partial = _load_known_shots(data, texts)
    except orjson.JSONDecodeError:
        return Project.model_validate_json(data), None  # says what is wrong
    loose = known.loose_by_id()
    reused: list[tuple[Take, dict[str, Any]]] = []
    fresh: list[tuple[int, int, int, int]] = []  # where the takes not known are
    try:
        for c, chapter in enumerate(doc["chapters"]):
            for s, scene in enumerate(chapter["scenes"]):
                for h, shot in enumerate(scene["shots"]):
                    if isinstance(shot, Shot):
                        continue
                    if (c, s, h) in partial:  # its known takes are in place already
                        fresh += [(c, s, h, i) for i in _parsed_at(partial[(c, s, h)])]
                        continue
                    # the takes this shot had (only these: a read makes no index of the film)
                    last = texts.get(shot["id"]) if isinstance(shot["id"], str) else None
                    had = (
                        {t.id: (t, d) for t, d in zip(last.takes, last.datas, strict=True)}
                        if last
                        else {}
                    )
                    for i, raw in enumerate(shot["takes"]):
                        take_id = raw.get("id") if isinstance(raw, dict) else None
                        hit = (
                            had.get(take_id) or loose.get(take_id)
                            if isinstance(take_id, str)
                            else None
                        )
                        if hit is not None and _same(hit[1], raw):
                            shot["takes"][i] = hit[0]
                            reused.append(hit)
                        else:
                            fresh.append((c, s, h, i))
    except (KeyError, TypeError, AttributeError):
        return Project.model_validate_json(data), None  # not the usual shape: say what is wrong
    project = Project.model_validate(doc)
    made: dict[tuple[int, int, int], dict[int, tuple[dict[str, Any], bytes]]] = {}
    for c, s, h, i in fresh:  # known from now on, as the writer writes them
        take = project.chapters[c].scenes[s].shots[h].takes[i]
        data_of = take.model_dump(mode="json", by_alias=True)
        if (c, s, h) in partial:
            made.setdefault((c, s, h), {})[i] = (data_of, _take_text(data_of))
        else:
            reused.append((take, data_of))
    for (c, s, h), layout in partial.items():
        shot = project.chapters[c].scenes[s].shots[h]
        kept.append(_rebuilt(shot, layout, made.get((c, s, h), {})))
    serialiser = Serialiser()
    serialiser.keep(reused, kept)
    serialiser.carry(*_carried(known, doc, project))
    return project, serialiser


def _carried(
    known: Serialiser, doc: Any, project: Project
) -> tuple[dict[str, _Chapter], dict[str, _Scene]]:
    """The chapters and scenes of `project` (just validated from `doc`) that stand as `known`
    last wrote or read them: their own fields the same JSON (in `doc`), their shots the very
    shots kept from their texts, in order (a chapter: its scenes so). Their kept JSON is theirs
    now: the next write puts them in as it would had it written them itself, so a write after
    another process's write does not encode the film's chapters and scenes again."""
    last_chapters, last_scenes = known.carried()
    chapters: dict[str, _Chapter] = {}
    scenes: dict[str, _Scene] = {}
    if not last_scenes:
        return chapters, scenes
    for raw, chapter in zip(doc["chapters"], project.chapters, strict=True):
        for raw_scene, scene in zip(raw["scenes"], chapter.scenes, strict=True):
            was = last_scenes.get(scene.id)
            if (
                was is not None
                and len(was[3]) == len(scene.shots)
                and all(s is t.shot for s, t in zip(scene.shots, was[3], strict=True))
                and _same_own(raw_scene, was[1], "shots")
            ):
                scenes[scene.id] = (scene, was[1], was[2], was[3])
        last = last_chapters.get(chapter.id)
        if (
            last is not None
            and len(last[2]) == len(chapter.scenes)
            and all(
                s.id in scenes and scenes[s.id][3] is t[3]
                for s, t in zip(chapter.scenes, last[2], strict=True)
            )
            and _same_own(raw, last[1], "scenes")
        ):
            chapters[chapter.id] = (chapter, last[1], tuple(scenes[s.id] for s in chapter.scenes))
    return chapters, scenes


def _same_own(raw: dict[str, Any], data: dict[str, Any], nested: str) -> bool:
    """Whether a chapter's or scene's JSON as read (`raw`) has the own fields of its JSON as
    last written (`data`): the same keys in the same order, the same values of the same types
    (its children's list, `nested`, aside)."""
    if list(raw) != list(data):
        return False
    return _same(
        {k: v for k, v in raw.items() if k != nested},
        {k: v for k, v in data.items() if k != nested},
    )


def _parsed_at(layout: _Layout) -> Iterator[int]:
    """Where a shot read in part has the takes not found in runs (to be parsed), by its
    layout: not a look at each of its thousand takes."""
    at = 0
    for item in layout:
        if item is None:
            yield at
            at += 1
        else:
            at += item[2] - item[1]


def _rebuilt(
    shot: Shot, layout: _Layout, made: dict[int, tuple[dict[str, Any], bytes]]
) -> _ShotText:
    """The kept text of a shot read in part: its takes in the order of `layout` (a run of an
    older version's takes, or None for a take parsed now, whose JSON and text are in `made`
    by its position in the list)."""
    datas: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for item in layout:
        if item is None:
            data_of, part = made[len(parts)]
            datas.append(data_of)
            parts.append(part)
        else:
            last, first, stop = item
            datas += last.datas[first:stop]
            parts += last.parts[first:stop]
    fields = _own_fields(shot)
    text = None
    was = _in_place(layout)
    if was is not None and fields and was[0].fields == fields:
        text = _spliced(was[0], parts, was[1])
    if text is None:
        text = _shot_text(shot, parts)
    return _ShotText(shot, fields, tuple(shot.takes), tuple(datas), tuple(parts), text)


def _in_place(layout: _Layout) -> tuple[_ShotText, list[int]] | None:
    """The one older version of a shot read in part and the positions of its takes parsed
    now, when they stand for its takes one for one (done or changed in place) or come after
    them (added): its text can be spliced (`_spliced`). None for another layout (a take
    removed, moved or put in between)."""
    was: _ShotText | None = None
    changed: list[int] = []
    at = 0
    for item in layout:
        if item is None:
            changed.append(at)
            at += 1
            continue
        last, first, stop = item
        if (was is not None and last is not was) or first != at:
            return None
        was, at = last, stop
    if was is None or at < len(was.parts):
        return None
    return was, [i for i in changed if i < len(was.parts)]


#: How a shot begins in the manifest, up to its id (see `_SHOT_INDENT`).
_SHOT_OPEN = b"\n" + b" " * 12 + b"{\n" + b" " * 14 + b'"id": "'
_CHAPTERS = b'\n  "chapters": ['


#: How a shot's list of takes begins (after its own fields up to `properties`), and ends.
_TAKES_OPEN = b"\n" + b" " * 14 + b'"takes": ['
_TAKES_CLOSE = b"\n" + b" " * 14 + b"]"
#: Between two takes of a list: the separator, then an object (a take is one line, so this
#: is found only between takes).
_NEXT_TAKE = b",\n" + b" " * 16 + b"{"
#: How many takes not as known `_take_runs` steps over in one shot before it parses the rest.
_EDITS = 8

#: A run of a shot's takes found in a manifest with the texts known for them: the older
#: version's shot text, and the first and the end index of the run among its takes.
_Run = tuple["_ShotText", int, int]
#: Where the takes of a shot read in part stand, in order: `_Run`s, and None for a take parsed.
_Layout = list[_Run | None]


def _load_known_shots(
    data: bytes, texts: dict[str, _ShotText]
) -> tuple[Any, list[_ShotText], dict[tuple[int, int, int], _Layout]]:
    """`orjson.loads(data)`, but each shot found with exactly the text known for its id is
    not parsed: that text's `Shot` is put in its place. In a shot of a known id whose text
    changed, the runs of takes that stand as they were known are not parsed either: their
    `Take`s are put in their place, and the shot's layout is given by its position (chapter,
    scene, shot). Anything unexpected (a place-holder that does not end up where it was put)
    and nothing is put in place."""
    pieces: list[bytes] = []
    kept: list[_ShotText] = []
    runs: list[tuple[str, _Run]] = []  # the shot's id, and the run
    done = 0
    at = data.find(_CHAPTERS)
    while texts and at >= 0:
        at = data.find(_SHOT_OPEN, at)
        if at < 0:
            break
        brace = at + 13
        name_at = at + len(_SHOT_OPEN)
        name_end = data.find(b'"', name_at)
        shot_id = data[name_at:name_end].decode("utf-8", "replace")
        last = texts.get(shot_id)
        if last is not None and data.startswith(last.text, brace):
            pieces += (data[done:brace], b"%d" % len(kept))
            kept.append(last)
            done = at = brace + len(last.text)
            continue
        at = max(name_end, name_at)
        if last is None:
            continue
        for start, end, first, stop in _take_runs(data, at, last):
            pieces += (data[done:start], b"-%d" % (len(runs) + 1))
            runs.append((shot_id, (last, first, stop)))
            done = at = end
    if not kept and not runs:
        return orjson.loads(data), [], {}
    pieces.append(data[done:])
    doc = orjson.loads(b"".join(pieces))
    placed = [False] * len(kept)
    runs_placed = [False] * len(runs)
    partial: dict[tuple[int, int, int], _Layout] = {}
    try:
        for c, chapter in enumerate(doc["chapters"]):
            for s, scene in enumerate(chapter["scenes"]):
                shots = scene["shots"]
                for h, shot in enumerate(shots):
                    if type(shot) is int and 0 <= shot < len(kept) and not placed[shot]:
                        placed[shot] = True
                        shots[h] = kept[shot].shot
                    elif runs and type(shot) is dict and shot.get("id") in texts:
                        layout = _place_runs(shot, runs, runs_placed)
                        if layout is not None:
                            partial[(c, s, h)] = layout
    except (KeyError, TypeError, AttributeError):
        pass
    if not all(placed) or not all(runs_placed):
        return orjson.loads(data), [], {}
    return doc, kept, partial


def _place_runs(
    shot: dict[str, Any], runs: list[tuple[str, _Run]], placed: list[bool]
) -> _Layout | None:
    """Put the takes of the runs whose place-holders stand in this shot's list in their
    place; the shot's layout (None when it holds none)."""
    listed = shot["takes"]
    if type(listed) is not list or not any(type(item) is int for item in listed):
        return None
    takes: list[Any] = []
    layout: _Layout = []
    for item in listed:
        number = -item - 1 if type(item) is int else -1
        if 0 <= number < len(runs) and not placed[number] and runs[number][0] == shot["id"]:
            placed[number] = True
            last, first, stop = run = runs[number][1]
            takes += last.takes[first:stop]
            layout.append(run)
        else:
            takes.append(item)
            layout.append(None)
    shot["takes"] = takes
    return layout


def _take_runs(data: bytes, at: int, last: _ShotText) -> list[tuple[int, int, int, int]]:
    """Where `last`'s takes stand as they were known in the shot whose text goes on from `at`:
    runs `(start, end, first, stop)`, in order, where `data[start:end]` is the text of
    `last`'s takes `first` to `stop - 1`. Found by comparing bytes, not by parsing: a binary
    search for each run, and between two runs one take of the list that is not as known (done
    or changed in place, added, or one of `last`'s removed). After `_EDITS` such takes, the
    rest of the list is parsed.

    (If the list found is another shot's, the place-holders end up in that shot, and
    `_load_known_shots` parses the whole manifest instead.)"""
    parts = last.parts
    key = data.find(_TAKES_OPEN, at)
    if not parts or key < 0 or not data.startswith(_TAKE_ITEM, key + len(_TAKES_OPEN)):
        return []
    known_at = last.text.find(_TAKES_OPEN) + len(_TAKES_OPEN) + len(_TAKE_ITEM)
    known = memoryview(last.text)[known_at:]
    sizes = list(accumulate(map(len, parts)))
    gap, total = len(_TAKE_SEPARATOR), len(parts)

    def span(count: int) -> int:  # the first `count` takes' text, with the separator after
        return sizes[count - 1] + count * gap if count else 0

    def run_at(first: int, start: int) -> int:
        """How many of the known takes from `first` on stand at `start`, one after another."""
        low, high = 0, total - first  # the first `low` are as known, at most `high` are
        if data.startswith(known[span(first) : span(total) - gap], start):
            end = start + span(total) - gap - span(first)
            if data.startswith(_TAKES_CLOSE, end) or data.startswith(_NEXT_TAKE, end):
                return high  # all of them (and maybe takes added after)
        high -= 1
        while low < high:
            middle = (low + high + 1) // 2
            a, b = span(first + low), span(first + middle)
            if data.startswith(known[a:b], start + a - span(first)):
                low = middle
            else:
                high = middle - 1
        # the list may end after one more (the takes after it removed)
        end = start + span(first + low) - span(first) + len(parts[first + low])
        if data.startswith(parts[first + low], end - len(parts[first + low])) and (
            data.startswith(_TAKES_CLOSE, end)
        ):
            return low + 1
        return low

    runs: list[tuple[int, int, int, int]] = []
    first, start = 0, key + len(_TAKES_OPEN) + len(_TAKE_ITEM)
    for _ in range(_EDITS + 1):
        count = run_at(first, start)
        if count:
            end = start + span(first + count) - span(first) - gap
            runs.append((start, end, first, first + count))
            first += count
            if first == total or not data.startswith(_NEXT_TAKE, end):
                break  # every known take placed, or the list ends (the others were removed)
            start = end + gap
        # the take at `start` is not the known take `first`: done, added, or `first` removed
        after = data.find(_NEXT_TAKE, start)
        if after >= 0 and data.find(_TAKES_CLOSE, start, after) >= 0:
            after = -1  # the list ends before: this is its last take
        if after >= 0 and first + 1 < total and run_at(first + 1, after + gap):
            first, start = first + 1, after + gap  # it stands for the known take `first`, changed
        elif first + 1 < total and run_at(first + 1, start):
            first += 1  # the known take `first` was removed
        elif after >= 0:
            start = after + gap  # a take added there (or more changed: the next search says)
        else:
            break  # the last of the list, parsed
    return runs


#: Where a shot's JSON starts in the indented manifest: project > chapters > chapter > scenes >
#: scene > shots > shot, two spaces a level.
_SHOT_INDENT = b"\n" + b" " * 12
#: Where a take's JSON starts in the manifest: a shot's takes are one level deeper.
_TAKE_ITEM = _SHOT_INDENT + b" " * 4
#: Between two takes of a shot's list, and where a shot's takes go before they are joined.
_TAKE_SEPARATOR = b"," + _TAKE_ITEM
_PLACE = orjson.Fragment(b"\x00")
_INDENT = orjson.OPT_INDENT_2


@dataclass(frozen=True)
class _ShotText:
    """A shot as it was last written or read: the `Shot` (never changed: a write changes a
    copy), its own fields (as compact JSON), its takes (by identity) with their JSON and their
    text as it stands in the manifest, and its own text in the manifest."""

    shot: Shot
    fields: bytes
    takes: tuple[Take, ...]
    datas: tuple[dict[str, Any], ...]
    parts: tuple[bytes, ...]
    text: bytes


#: A scene as it was last written: the scene (never changed: a write changes a copy), its JSON
#: with its shots' in it, and its shots' ids and kept texts, in order.
_Scene = tuple[Scene, dict[str, Any], tuple[str, ...], tuple["_ShotText", ...]]
#: A chapter as it was last written: the chapter, its JSON, and its scenes as written.
_Chapter = tuple[Chapter, dict[str, Any], tuple[_Scene, ...]]


class Serialiser:
    """Turns a project into the manifest's bytes: JSON indented by two spaces, camelCase keys,
    and each take on one line of its own (compact JSON). A take done, indented like the rest,
    was 19 lines and 825 bytes, nearly half of them spaces; on one line it is 460: a film's
    manifest is half the size to write, fsync, read and send, and a take's change in
    `git diff` is one line. A manifest indented throughout (an older one, or an editor's)
    reads the same.

    Takes are frozen and shared between versions, so the JSON form of each is made once and
    kept (by identity). Each shot's text is kept too: a shot whose own fields are the same
    (values and types) and whose takes are the same objects as when it was last written is not
    serialised again, its text goes in as it is. A write that changes one property of a film of
    10,000 takes encodes one shot. A chapter or scene that is the same object as when it was
    last written (a lazy fork did not find it) goes in as its kept JSON, without a look at the
    shots under it. Every value must have its declared type: the wrong type is a
    `PydanticSerializationError`.
    """

    def __init__(self) -> None:
        self._shots: dict[str, _ShotText] = {}
        self._chapters: dict[str, _Chapter] = {}
        self._scenes: dict[str, _Scene] = {}
        #: Takes whose JSON is known but not yet part of a written shot (read back by `_parse`).
        self._loose: dict[int, tuple[Take, dict[str, Any]]] = {}

    def loose_by_id(self) -> dict[str, tuple[Take, dict[str, Any]]]:
        """The takes whose JSON is kept outside the shots' texts, by take id."""
        return {take.id: (take, data) for take, data in self._loose.values()}

    def known(self) -> bool:
        """Whether anything is kept."""
        return bool(self._shots or self._loose)

    def shot_texts(self) -> dict[str, _ShotText]:
        """The shots' texts, by shot id."""
        return self._shots

    def keep(
        self, pairs: list[tuple[Take, dict[str, Any]]], shots: Sequence[_ShotText] = ()
    ) -> None:
        """Remember the JSON of these takes and the text of these shots (read back exactly as
        a writer made them)."""
        for take, data in pairs:
            self._loose[id(take)] = (take, data)
        self._shots.update((text.shot.id, text) for text in shots)

    def carried(self) -> tuple[dict[str, _Chapter], dict[str, _Scene]]:
        """The chapters and scenes as last written or read, by id."""
        return self._chapters, self._scenes

    def carry(self, chapters: dict[str, _Chapter], scenes: dict[str, _Scene]) -> None:
        """Take these chapters and scenes as written (read back exactly as a writer made
        them, their shots' texts kept with `keep`)."""
        self._chapters.update(chapters)
        self._scenes.update(scenes)

    def dump(self, project: Project) -> bytes:
        """The manifest's bytes; keeps the text of exactly the shots of this project."""
        before, now = self._shots, {}
        loose = self._loose

        def take_json(take: Any) -> dict[str, Any]:
            if not isinstance(take, Take):
                raise PydanticSerializationError(f"A take must be a Take, not {type(take)}")
            hit = loose.get(id(take))
            if hit is not None and hit[0] is take:
                return hit[1]
            _shallow_enough(take.parameters, "A take's parameters")
            return take.model_dump(mode="json", by_alias=True, warnings="error")

        def shot_text(shot: Shot) -> _ShotText:
            last = before.get(shot.id)
            if last is not None and last.shot is shot:
                # shared with the project last written or read (a lazy fork's change did not
                # find it): a shot written is never changed, a change alters a copy
                now[shot.id] = last
                return last
            fields = _own_fields(shot)
            takes = shot.takes
            if (
                last is not None
                and fields
                and last.fields == fields
                and len(last.takes) == len(takes)
                and all(map(operator.is_, last.takes, takes))  # as long: checked above
            ):
                now[shot.id] = last
                return last
            _shallow_enough(shot.properties, "A shot's properties")
            text = None
            if last is not None and len(takes) >= len(last.takes):
                datas, parts, changed = _changed_takes(last, takes, take_json)
                if fields and last.fields == fields:  # the shot but its takes as it was
                    text = _spliced(last, parts, changed)
            else:
                datas, parts = _takes_text(last, takes, take_json)
            if text is None:
                text = _shot_text(shot, parts)
            made = _ShotText(shot, fields, tuple(takes), tuple(datas), tuple(parts), text)
            now[shot.id] = made
            return made

        scenes_before, scenes_now = self._scenes, {}
        chapters_before, chapters_now = self._chapters, {}

        def carry(scene: _Scene) -> None:
            """A scene written before goes on to this version as it was, its shots' texts too."""
            scenes_now[scene[0].id] = scene
            now.update(zip(scene[2], scene[3], strict=True))

        def scene_json(scene: Scene) -> dict[str, Any]:
            last = scenes_before.get(scene.id)
            if last is not None and last[0] is scene:
                carry(last)
                return last[1]
            texts = tuple(shot_text(s) for s in _typed(scene.shots, Shot))
            data = _with(scene, "shots", [orjson.Fragment(t.text) for t in texts])
            scenes_now[scene.id] = (scene, data, tuple(s.id for s in scene.shots), texts)
            return data

        def chapter_json(chapter: Chapter) -> dict[str, Any]:
            last = chapters_before.get(chapter.id)
            if last is not None and last[0] is chapter:
                for scene in last[2]:
                    carry(scene)
                chapters_now[chapter.id] = last
                return last[1]
            scenes = _typed(chapter.scenes, Scene)
            data = _with(chapter, "scenes", [scene_json(s) for s in scenes])
            chapters_now[chapter.id] = (chapter, data, tuple(scenes_now[s.id] for s in scenes))
            return data

        canvas = project.canvas
        for part in (canvas.nodes, canvas.edges, canvas.viewport):
            _shallow_enough(part, "The canvas's parts")
        doc = _with(
            project, "chapters", [chapter_json(c) for c in _typed(project.chapters, Chapter)]
        )
        data = orjson.dumps(doc, option=_INDENT | orjson.OPT_APPEND_NEWLINE)
        self._shots, self._loose = now, {}
        self._chapters, self._scenes = chapters_now, scenes_now
        return data


def _take_text(data: dict[str, Any]) -> bytes:
    """A take's text as it stands in the manifest: one line, compact JSON (see `Serialiser`)."""
    return orjson.dumps(data)


def _shot_text(shot: Shot, parts: Sequence[bytes]) -> bytes:
    """A shot's text in the manifest, its takes' texts put in as they are: the shot without
    them is encoded and indented (a few hundred bytes), and the takes joined into its list. (A
    shot of 2,000 takes is 1.3 MB: indenting it whole cost more than the rest of a write.)"""
    if not parts:
        return orjson.dumps(_with(shot, "takes", []), option=_INDENT).replace(b"\n", _SHOT_INDENT)
    # NUL never stands in orjson's output (a string holds it as \u0000): a safe place-holder
    frame = orjson.dumps(_with(shot, "takes", [_PLACE]), option=_INDENT)
    head, tail = frame.replace(b"\n", _SHOT_INDENT).split(b"\x00")
    return b"".join((head, _TAKE_SEPARATOR.join(parts), tail))


def _takes_text(
    last: _ShotText | None, takes: Sequence[Take], take_json: Callable[[Any], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The JSON and the text of each take of a shot; a take met before (in `last`, by
    identity) goes in as its kept text."""
    known = (
        {id(t): (t, d, p) for t, d, p in zip(last.takes, last.datas, last.parts, strict=True)}
        if last
        else {}
    )
    datas: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for take in takes:
        hit = known.get(id(take))
        if hit is not None and hit[0] is take:
            datas.append(hit[1])
            parts.append(hit[2])
        else:
            data = take_json(take)
            datas.append(data)
            parts.append(_take_text(data))
    return datas, parts


def _changed_takes(
    last: _ShotText, takes: Sequence[Take], take_json: Callable[[Any], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[bytes], list[int]]:
    """The same as `_takes_text` for a shot whose takes were changed in place or added at the
    end (a take done, a take queued): the kept lists, with only the takes at positions that
    hold another object made again, and those positions (found without a Python loop over the
    shot's takes: a shot of a thousand takes is common in a long session)."""
    datas, parts = list(last.datas), list(last.parts)
    same = list(map(operator.is_, takes, last.takes))  # as long as the shorter: last's
    changed: list[int] = []
    at = -1
    while True:
        try:
            at = same.index(False, at + 1)
        except ValueError:
            break
        datas[at] = take_json(takes[at])
        parts[at] = _take_text(datas[at])
        changed.append(at)
    added_datas, added_parts = _takes_text(None, takes[len(last.takes) :], take_json)
    return datas + added_datas, parts + added_parts, changed


def _spliced(last: _ShotText, parts: list[bytes], changed: list[int]) -> bytes | None:
    """The text of a shot whose own fields are `last`'s, its takes `parts`: `last`'s takes but
    those at `changed` (in order), and maybe more after them. Made of `last`'s text around the
    new takes' texts, in one copy: joining a thousand takes' texts again cost 0.4 ms a write
    (None when `last` had no takes: its list is written another way)."""
    old = last.parts
    if not old:
        return None
    first = last.text.find(_TAKES_OPEN) + len(_TAKES_OPEN) + len(_TAKE_ITEM)
    ends = list(accumulate(map(len, old)))
    gap = len(_TAKE_SEPARATOR)

    def start(i: int) -> int:  # where take `i` of `last` stands in its text
        return first + (ends[i - 1] if i else 0) + i * gap

    text = memoryview(last.text)
    pieces: list[bytes | memoryview] = []
    done = 0
    for i in changed:
        pieces += (text[done : start(i)], parts[i])
        done = start(i) + len(old[i])
    if len(parts) > len(old):
        done_with = start(len(old) - 1) + len(old[-1])
        pieces.append(text[done:done_with])
        for part in parts[len(old) :]:
            pieces += (_TAKE_SEPARATOR, part)
        done = done_with
    pieces.append(text[done:])
    return b"".join(pieces)


def _same(a: Any, b: Any) -> bool:
    """The same JSON: equal values of the same types (1, 1.0 and true differ), keys in the
    same order."""
    try:
        return orjson.dumps(a) == orjson.dumps(b)
    except (orjson.JSONEncodeError, TypeError):
        return False


def _own_fields(shot: Shot) -> bytes:
    """A shot's fields but its takes, as compact JSON: equal bytes are equal values of the
    same types (1, 1.0 and true differ). Empty when orjson cannot say (then it is written out)."""
    fields = dict(shot.__dict__)
    del fields["takes"]
    try:
        return orjson.dumps(fields)
    except (orjson.JSONEncodeError, TypeError):
        return b""


def _typed(items: list[Any], cls: type[M]) -> list[M]:
    for item in items:
        if not isinstance(item, cls):
            raise PydanticSerializationError(f"Expected {cls.__name__}, got {type(item).__name__}")
    return items


def _with(model: BaseModel, nested: str, children: list[Any]) -> dict[str, Any]:
    """The model's JSON with `nested` (its children's list) given, keys in declared order."""
    data = model.model_dump(mode="json", by_alias=True, exclude={nested}, warnings="error")
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        out[key] = children if name == nested else data[key]
    return out


def _dump(project: Project) -> bytes:
    return Serialiser().dump(project)
