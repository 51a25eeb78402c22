"""File operations every writer shares: atomic writes, media kinds, streamed uploads.

Temp files (an atomic write's, an upload's) have hidden names, so no listing shows them and the
path resolver never serves them, and they are locked (`flock`) while their writer has them
open: a writer that crashed leaves an unlocked temp file, which `sweep_partial_files` removes at
start-up, while one being written by a live process (another server, the worker, a notebook)
is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from .errors import ProjectNotFound, TooLarge

_KINDS: dict[str, tuple[str, ...]] = {
    "image": ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "exr", "psd", "svg"),
    "video": ("mp4", "mov", "mkv", "webm", "avi", "m4v"),
    "audio": ("wav", "mp3", "flac", "ogg", "aac", "m4a", "opus"),
    "model": ("glb", "gltf", "fbx", "obj", "blend", "usd", "usdz", "safetensors", "ckpt", "pt"),
    "document": ("txt", "md", "json", "pdf", "fountain", "ipynb", "toml", "yaml", "yml"),
}
_KIND_OF = {ext: kind for kind, exts in _KINDS.items() for ext in exts}


def media_kind(name: str) -> str:
    """The media kind of a file by its extension: image, video, audio, model, document or other."""
    return _KIND_OF.get(Path(name).suffix.lower().lstrip("."), "other")


def mtime(path: Path) -> datetime:
    """A file's modification time, timezone-aware."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


T = TypeVar("T")


def making_folder(folder: Path, action: Callable[[], T]) -> T:
    """`action()`, which creates something in `folder`; if the folder is missing (the first
    thumbnail, lock or take of its kind), it is made and `action` runs once more. A hot path
    pays no `mkdir` for a folder that is there."""
    try:
        return action()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        return action()


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk (a file another process wrote, or a
    folder a rename inside which must survive a crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: A folder's entries to disk, so a rename inside it survives a crash.
fsync_dir = fsync_path


class SpareFolders:
    """Empty folders kept for reuse in a parent folder, handed out and taken back by rename.

    Making a folder and removing it again for every job costs a new inode and a freed one, and
    on ext4 without a journal (our machines) a new inode costs a scan over every inode freed
    in its group in the last minutes: 0.1-0.3 ms a file after a burst of deletions, growing
    with them. A rename costs neither. A folder is kept only when empty, under a hidden
    `.spare-…` name; the spares of a process that ended are taken up by the next that asks
    for a folder in the same parent."""

    PREFIX = ".spare-"

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._spare: dict[Path, list[Path]] = {}
        self._made = 0

    def take(self, path: Path) -> bool:
        """Make `path` (a new folder) out of a spare in its parent; False when there is none,
        or `path` is there already and not empty."""
        while (spare := self._pop(path.parent)) is not None:
            try:
                os.rename(spare, path)
                return True
            except FileNotFoundError:
                continue  # taken by another process, or its parent is gone
            except OSError:
                self._push(path.parent, spare)  # `path` is there and holds something
                return False
        return False

    def give(self, path: Path) -> bool:
        """Keep the empty folder `path` as a spare; False (`path` untouched) when it is not
        empty or enough are kept."""
        with self._lock:
            kept = self._spare.setdefault(path.parent, [])
            if len(kept) >= self.keep:
                return False
            self._made += 1
            spare = path.parent / f"{self.PREFIX}{os.getpid()}-{self._made}"
        try:
            with os.scandir(path) as entries:
                if next(entries, None) is not None:
                    return False
            os.rename(path, spare)
        except OSError:
            return False
        self._push(path.parent, spare)
        return True

    def _pop(self, parent: Path) -> Path | None:
        with self._lock:
            kept = self._spare.get(parent)
            if kept is None:
                # the first ask in this parent: the spares of processes that ended are taken up
                kept = self._spare[parent] = self._left_over(parent)
            return kept.pop() if kept else None

    def _push(self, parent: Path, spare: Path) -> None:
        with self._lock:
            self._spare.setdefault(parent, []).append(spare)

    def _left_over(self, parent: Path) -> list[Path]:
        try:
            with os.scandir(parent) as entries:
                names = [e.name for e in entries if e.name.startswith(self.PREFIX)]
        except OSError:
            return []
        mine = f"{self.PREFIX}{os.getpid()}-"
        return [parent / name for name in names if not name.startswith(mine)][: self.keep]


def link_or_write(source: Path, path: Path, data: bytes) -> None:
    """Make `path` a file of `data`, which are the bytes of the file `source`: a hard link to
    it where the filesystem allows one (no new inode, nothing written, nothing to fsync but the
    folder), else `atomic_write`. Either way readers see the whole file or none, and `path`
    shares `source`'s durability: use it only for a copy that is never written in place."""
    try:
        try:
            os.link(source, path)
        except FileExistsError:
            if os.path.samefile(source, path):
                return  # the link is there (a rename of two links to one file does nothing)
            tmp = _temp_name(path)
            os.link(source, tmp)
            try:
                os.replace(tmp, path)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise
    except OSError:
        # no hard link here (another filesystem, a link count, `source` gone): the bytes are
        # written; a missing folder raises from there for the caller (`making_folder`)
        atomic_write(path, data)
        return
    fsync_dir(path.parent)


def atomic_write(
    path: Path, data: bytes, sync_dir: bool = True, release_later: bool = False
) -> tuple[int, int, int, int]:
    """Write `data` to `path` so that readers see the old or the new file, never a part.

    Temp file in the same folder, fsync, rename over the target, fsync the folder (unless
    `sync_dir` is False: the caller fsyncs it once for several files). Returns the new file's
    (device, inode, size, mtime in ns), which a rename keeps.

    `release_later=True` (a big file rewritten often: a film's manifest) keeps the old file
    alive under a temp name through the rename and unlinks it in the background: the kernel
    frees its blocks there (about 2 ms for 6 MB), not while the caller holds its lock. A crash
    meanwhile leaves a temp file, swept like any other.
    """
    tmp = _temp_name(path)
    old: Path | None = None
    try:
        # a bare descriptor: a buffered file object asks each new file whether it is a
        # terminal, where it stands and how big its blocks are (a worker writes two a take)
        fd = _create_locked_fd(tmp)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            st = os.fstat(fd)
            if release_later:
                old = _keep_alive(path)
            os.replace(tmp, path)  # still locked: a sweep never takes it half-way
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if old is not None:
            old.unlink(missing_ok=True)
        raise
    if old is not None:
        # handed over before the folder's fsync, which may fail: the second name never stays
        # behind (the rename freed the old file before the fsync too)
        _releaser.release(old)
    if sync_dir:
        fsync_dir(path.parent)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _temp_name(path: Path) -> Path:
    """A fresh temp name beside `path` (see `_TEMP_NAME`)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _keep_alive(path: Path) -> Path | None:
    """A second name (a temp name) for the file at `path`, if there is one."""
    name = _temp_name(path)
    try:
        os.link(path, name)
    except FileNotFoundError:
        return None
    return name


class _Releaser:
    """Unlinks the files handed to it, in order, on a thread of its own (one a process,
    started at the first file)."""

    def __init__(self) -> None:
        self._files: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._pid = 0

    def release(self, path: Path) -> None:
        with self._idle:
            self._pending += 1
            if self._pid != os.getpid():  # a forked child has no thread yet
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="gms-release", daemon=True).start()
        self._files.put(path)

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every file handed over is gone; whether they are."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            path = self._files.get()
            with contextlib.suppress(OSError):
                path.unlink()
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()


_releaser = _Releaser()
#: Wait until the old files `atomic_write(release_later=True)` handed over are unlinked.
wait_released = _releaser.wait


#: Names of temp files: an atomic write's (`.project.json.<pid>.<hex>.tmp`) and an upload's
#: (`.upload-<hex>.part`; `upload-<hex>.part` before temp files were hidden).
_TEMP_NAME = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$|^\.?upload-[0-9a-f]{16}\.part$")


def _create_locked(path: Path) -> BinaryIO:
    """Create `path` and hold an exclusive `flock` on it for as long as it is open."""
    return open(_create_locked_fd(path), "wb")  # the caller closes it


def _create_locked_fd(path: Path) -> int:
    """`_create_locked`, as a descriptor the caller closes."""
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink > 0:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # swept between its creation and the lock: make it again


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of the studio's temp files (never listed, never served)."""
    return _TEMP_NAME.match(name) is not None


def sweep_partial_files(folder: Path) -> list[Path]:
    """Remove the temp files in `folder` that no live process is writing; what was removed.

    A temp file whose `flock` can be taken belonged to a writer that is gone (a crash, a
    `kill -9`): it is a partial file and goes. One that is locked is being written and stays.
    """
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for name in names:
        if not is_temp_name(name):
            continue
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            path.unlink(missing_ok=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


def unique_path(path: Path) -> Path:
    """`path` if free, else `name-2.ext`, `name-3.ext`, … so nothing is overwritten."""
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    n = 2
    while True:
        candidate = path.with_name(f"{stem}-{n}{suffix}")
        if not candidate.exists():
            return candidate
        n += 1


#: An upload asks the disk to write out what it received every this many bytes.
_WRITE_OUT_EVERY = 8 * 1024 * 1024
#: The most an upload hands the kernel in one write. The page cache takes a write into folios
#: as large as the write (ext4 on Linux 6.16 and later): a megabyte at a time asked it for
#: large runs of memory, which on our virtual machines came slowly now and then (a round of
#: the bench at 300-500 MB/s, 0.6-0.9 s of the kernel's CPU copying 256 MiB, against 0.15 s);
#: pieces of 64 KiB, what a bare tornado handler writes (its read size), did so far less.
_WRITE_PIECE = 64 * 1024


class UploadSink:
    """One file arriving in chunks: written to a temp file, moved into place only when complete.

    A sink that is aborted (or never finished) leaves nothing behind, so a cut-off upload can
    never show up as an asset.

    The disk starts writing each few megabytes out while the rest still arrives (the kernel is
    asked to, without waiting): the fsync that makes the file durable before the upload is
    answered then has little left to do, instead of writing the whole file after the network.
    """

    def __init__(self, temp_dir: Path, target: Path, limit: int) -> None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.limit = limit
        self.size = 0
        self._written_out = 0  # bytes the disk was asked to write out already
        self.temp = temp_dir / f".upload-{secrets.token_hex(8)}.part"
        self._fh: BinaryIO | None = _create_locked(self.temp)

    def write(self, chunk: bytes | memoryview) -> None:
        """Append a chunk; over the limit, abort and raise `TooLarge`."""
        if self._fh is None:
            raise RuntimeError("upload already closed")
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise TooLarge(
                f"The upload is larger than the limit of {self.limit} bytes.",
                {"limit": self.limit},
            )
        view = memoryview(chunk)
        for start in range(0, len(view), _WRITE_PIECE):
            self._fh.write(view[start : start + _WRITE_PIECE])
        if self.size - self._written_out >= _WRITE_OUT_EVERY:
            self._fh.flush()
            with contextlib.suppress(OSError, AttributeError):  # a hint: never fail for it
                os.posix_fadvise(
                    self._fh.fileno(),
                    self._written_out,
                    self.size - self._written_out,
                    os.POSIX_FADV_DONTNEED,
                )
            self._written_out = self.size

    def finish(self) -> Path:
        """Flush, fsync and rename into place (never over an existing file); the final path."""
        if self._fh is None:
            raise RuntimeError("upload already closed")
        fh, self._fh = self._fh, None
        try:
            fh.flush()
            os.fsync(fh.fileno())
            if not self.temp.exists():
                # the temp file lives in the project: gone with it (to the trash) meanwhile,
                # so no folder of the target may be made again where the project was
                raise ProjectNotFound(
                    "The project was deleted while the file was arriving: nothing was added."
                )
            self.target.parent.mkdir(parents=True, exist_ok=True)
            final = unique_path(self.target)
            # link + unlink, not rename: never overwrites a file that appeared meanwhile;
            # the temp file stays locked until it is gone, so a sweep never takes it
            while True:
                try:
                    os.link(self.temp, final)
                    break
                except FileExistsError:
                    final = unique_path(final)
            self.temp.unlink()
        except BaseException:
            self.temp.unlink(missing_ok=True)
            raise
        finally:
            fh.close()
        fsync_dir(final.parent)
        return final

    def abort(self) -> None:
        """Drop the partial file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.temp.unlink(missing_ok=True)
