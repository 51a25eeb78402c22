"""REST: project files (list, streamed upload, ranged download)."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections import deque
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

from tornado import web

from ..core import assets
from ..core.errors import InvalidInput, NotFound, StudioError, TooLarge, UnsafePath
from ..core.files import is_temp_name
from ..core.limits import whole_number
from ..core.paths import resolve_inside
from ..core.uploads import Upload
from ..models import FileList, UploadResult
from .base import StudioHandler, operation

_READ_CHUNK = 1024 * 1024
_FLUSH_AT = 1024 * 1024
#: Body bytes handed to the writer but not yet on disk, at most; past it, reading waits.
#: Reading goes on while the previous megabytes are written (in order, off the event loop),
#: which is what brings an upload near a bare tornado handler's speed; this bounds memory.
_WRITE_BEHIND = 8 * 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: Positions of more digits than this are past the end of any file (10^18 bytes = 1 EB).
_POSITION_DIGITS = 18
#: Served files are never run as pages under the server's origin (an uploaded HTML or SVG).
_SANDBOX = (
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
)
UPLOAD_QUERY = {
    "category": "Asset category (locations, characters, music, styles)",
    "name": "File name inside the category (sub-folders allowed: `folder/hero.png`)",
    "path": "Instead of category + name: a path relative to the project",
}


@web.stream_request_body
class FilesHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/files`: list files; upload one or several (streamed)."""

    upload: Upload | None = None
    _pending: list[bytes]
    _pending_size = 0
    _failed: BaseException | None = None
    _writes: deque[tuple[asyncio.Future[None], int]]
    _in_flight = 0

    @web.authenticated
    @operation(
        "List the project's files and folders (or those under ?under=)",
        response=FileList,
        query={"under": "A folder relative to the project"},
    )
    async def get(self, project_id: str) -> None:
        root = await self.run(self.core.projects.path, project_id)
        under = self.get_query_argument("under", None)
        files = await self.run(assets.list_files, root, under)
        self.send(FileList(files=files))

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._pending = []
        self._writes = deque()
        if self.request.method != "POST" or self._finished:
            return
        # the body is streamed in before post() runs, so check auth here, not by decorator
        if self.current_user is None:
            raise web.HTTPError(403)
        limit = self.core.config.max_upload_bytes
        length = self.request.headers.get("Content-Length")
        size = whole_number(length, digits=30)
        if size is not None and size > limit:
            raise TooLarge(
                f"The upload is larger than the limit of {limit} bytes.", {"limit": limit}
            )
        # the body may carry multipart framing on top of the files
        self.request.connection.set_max_body_size(limit + 1024 * 1024)  # type: ignore[union-attr]
        project_id = self.path_kwargs["project_id"]
        root = await self.run(self.core.projects.path, project_id)
        category = self.get_query_argument("category", None)
        name = self.get_query_argument("name", None)
        path = self.get_query_argument("path", None)

        def target_for(filename: str | None) -> Path:
            return assets.upload_target(
                root, category=category, name=filename or name, path=None if filename else path
            )

        self.upload = await self.run(
            Upload,
            self.request.headers.get("Content-Type", ""),
            target_for,
            root / assets.UPLOADS,
            limit,
        )

    async def data_received(self, chunk: bytes) -> None:
        if self.upload is None or self._failed is not None:
            return
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= _FLUSH_AT:
            self._write_behind()
            while self._in_flight > _WRITE_BEHIND and self._writes:
                await self._writes[0][0]  # back-pressure: the oldest write first

    def _write_behind(self) -> None:
        """Hand what was read to the writer, after the writes before it; do not wait."""
        # the chunks as tornado read them (64 KiB): the sink writes that much at a time, so
        # joining them first was a copy of the whole body for nothing
        chunks, size = self._pending, self._pending_size
        self._pending, self._pending_size = [], 0
        upload = self.upload
        if upload is None or not size:
            return
        previous = self._writes[-1][0] if self._writes else None
        self._in_flight += size

        async def write() -> None:
            try:
                if previous is not None:
                    await previous
                if self._failed is None and self.upload is upload:
                    await self.run(upload.feed_all, chunks)
            except BaseException as exc:
                # keep reading (and dropping) the body so the client gets the answer
                if self._failed is None:
                    self._failed = exc
                self.upload = None
            finally:
                self._in_flight -= size
                self._writes.popleft()

        self._writes.append((asyncio.ensure_future(write()), size))

    async def _flush(self) -> None:
        """Write what is left and wait until every write is done."""
        self._write_behind()
        while self._writes:
            await self._writes[-1][0]

    @web.authenticated
    @operation(
        "Upload files: the raw body (?category=&name= or ?path=) or multipart/form-data",
        response=UploadResult,
        status=201,
        query=UPLOAD_QUERY,
        content="application/octet-stream",
        errors=(400, 403, 404, 413),
    )
    async def post(self, project_id: str) -> None:
        await self._flush()
        if self._failed is not None:
            raise self._failed
        if self.upload is None:
            raise InvalidInput("No upload in progress.")
        upload, self.upload = self.upload, None
        try:
            paths = await self.run(upload.finish)
        except BaseException:
            await self.run(upload.abort)
            raise
        root = await self.run(self.core.projects.path, project_id)
        size = self.core.config.thumbnail_size
        described = await self.run(
            lambda: [assets.describe(project_id, root, p, size) for p in paths]
        )
        self.send(UploadResult(assets=described), 201)
        await self._request_thumbnails(project_id, [a.path for a in described])

    async def _request_thumbnails(self, project_id: str, relpaths: list[str]) -> None:
        server = self.settings["gms_server"]
        tasks = server.tasks
        if tasks is None:
            return
        for relpath in relpaths:
            try:
                await server.on_broker(tasks.request_thumbnail, project_id, relpath)
            except StudioError as exc:
                self.log.info("no thumbnail for %s: %s", relpath, exc.message)

    def on_connection_close(self) -> None:
        """A cut-off upload leaves nothing behind (once the writes under way are done)."""
        upload, self.upload = self.upload, None
        if upload is not None:
            if self._writes:
                self._writes[-1][0].add_done_callback(lambda _: upload.abort())
            else:
                upload.abort()
        super().on_connection_close()

    def on_finish(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None


class FileHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/files/{path}`: download, with HTTP Range."""

    @web.authenticated
    @operation(
        "Download a project file (HTTP Range supported; ?download=1 for an attachment)",
        content="application/octet-stream",
        headers={"Range": "bytes=start-end"},
        errors=(400, 403, 404, 416),
    )
    async def get(self, project_id: str, path: str) -> None:
        await self._serve(project_id, path, body=True)

    @web.authenticated
    async def head(self, project_id: str, path: str) -> None:
        await self._serve(project_id, path, body=False)

    async def _serve(self, project_id: str, relpath: str, body: bool) -> None:
        root = await self.run(self.core.projects.path, project_id)
        try:
            target = resolve_inside(root, relpath)
        except UnsafePath as exc:  # a name the project cannot hold, or a way out of it
            raise NotFound(
                f"No file {relpath!r} in the project ({exc.message.rstrip('.')}).",
                {"path": relpath},
            ) from exc
        stat = await self.run(_stat_file, target, relpath)
        total = stat.st_size
        start, end = 0, total - 1
        try:
            ranged = self._range(total)
        except _RangeNotSatisfiable as exc:
            self.set_header("Content-Range", f"bytes */{total}")
            self.send_error_body(exc.status, exc.code, exc.message, exc.details)
            return
        if ranged is not None:
            start, end = ranged
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{total}")
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ranged is not None and mime.endswith("json"):
            mime = "application/octet-stream"  # a slice of a JSON file is not a JSON document
        self.set_header("Content-Type", mime)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Length", str(max(0, end - start + 1)))
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        self.set_header("Last-Modified", format_datetime(modified, usegmt=True))
        self.set_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
        self.set_header("Content-Security-Policy", _SANDBOX)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-cache")
        if self.get_query_argument("download", "") in ("1", "true"):
            self.set_header(
                "Content-Disposition", f"attachment; filename*=UTF-8''{quote(target.name)}"
            )
        if not body or total == 0:
            # nothing sent yet: Jupyter's API handler would make its header JSON at `finish`
            await self.finish(set_content_type=mime)
            return
        with await self.run(open, target, "rb") as fh:
            await self.run(fh.seek, start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = await self.run(fh.read, min(_READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.write(chunk)
                await self.flush()
        await self.finish(set_content_type=mime)

    def _range(self, total: int) -> tuple[int, int] | None:
        header = self.request.headers.get("Range")
        if not header:
            return None
        match = _RANGE.match(header.strip())
        if match is None:
            return None  # several ranges or another unit: the whole file, as RFC 9110 allows
        first, last = match.groups()
        if first == "" and last == "":
            return None
        if first == "":
            start, end = max(0, total - _position(last)), total - 1
        else:
            start = _position(first)
            end = min(_position(last), total - 1) if last else total - 1
        if start >= total or start > end:
            raise _RangeNotSatisfiable(total)
        return start, end


def _position(digits: str) -> int:
    """A byte position of a Range header; thousands of digits mean "past any file", not a 500."""
    return int(digits) if len(digits) <= _POSITION_DIGITS else 10**_POSITION_DIGITS


class _RangeNotSatisfiable(StudioError):
    code = "range_not_satisfiable"
    status = 416

    def __init__(self, total: int) -> None:
        super().__init__("The requested range is outside the file.", {"size": total})


def _stat_file(target: Path, relpath: str) -> os.stat_result:
    if not target.is_file() or is_temp_name(target.name):  # a partial upload is not a file yet
        raise NotFound(f"No file {relpath!r} in the project.", {"path": relpath})
    return target.stat()
