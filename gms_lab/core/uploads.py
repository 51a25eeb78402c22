"""A streamed upload of one raw file or of a multipart form with several files."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import InvalidInput, TooLarge
from .files import UploadSink

#: Turns the file name a client sent into the place the file goes (checked by the path resolver).
TargetFor = Callable[[str | None], Path]


class Upload:
    """Feeds body bytes into sinks; nothing appears in the project before `finish`.

    `content_type` picks the mode: `multipart/form-data` (one file per part that has a file
    name) or anything else (the body is the file). `limit` caps the whole body.
    """

    def __init__(self, content_type: str, target_for: TargetFor, temp_dir: Path, limit: int):
        self.target_for = target_for
        self.temp_dir = temp_dir
        self.limit = limit
        self.received = 0
        self.sinks: list[UploadSink] = []
        self._current: UploadSink | None = None
        self._parser: MultipartParser | None = None
        self._headers: dict[str, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        mime, options = parse_options_header(content_type or "application/octet-stream")
        if mime == b"multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                raise InvalidInput("multipart/form-data without a boundary.")
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field_cb,
                    "on_header_value": self._header_value_cb,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                },
            )
        else:
            self._open(None)

    def _open(self, filename: str | None) -> None:
        target = self.target_for(filename)
        self._current = UploadSink(self.temp_dir, target, self.limit)
        self.sinks.append(self._current)

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the body."""
        self.received += len(data)
        if self.received > self.limit:
            self.abort()
            raise TooLarge(
                f"The upload is larger than the limit of {self.limit} bytes.", {"limit": self.limit}
            )
        try:
            if self._parser is not None:
                self._parser.write(data)
            elif self._current is not None:
                self._current.write(data)
        except FormParserError as exc:
            self.abort()
            raise _malformed(exc) from exc
        except Exception:
            self.abort()
            raise

    def feed_all(self, chunks: Iterable[bytes]) -> None:
        """`feed` each of `chunks` in turn (the body as it was read, not joined into one copy)."""
        for chunk in chunks:
            self.feed(chunk)

    def finish(self) -> list[Path]:
        """Move every complete file into place; the final paths (renamed if a name was taken)."""
        if self._parser is not None:
            try:
                self._parser.finalize()
            except FormParserError as exc:
                self.abort()
                raise _malformed(exc) from exc
            if self._current is not None:
                self.abort()
                raise InvalidInput("The multipart body ended in the middle of a file.")
        if not self.sinks:
            raise InvalidInput("The upload holds no file.")
        return [sink.finish() for sink in self.sinks]

    def abort(self) -> None:
        """Drop every partial file."""
        for sink in self.sinks:
            sink.abort()
        self._current = None

    # multipart callbacks
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        # header values stay bytes: names arrive as raw UTF-8 (curl -F, requests, browsers)
        self._headers[self._header_field.decode("latin-1").lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        filename = options.get(b"filename")
        if filename:
            self._open(_file_name(filename))
        else:
            self._current = None  # a plain form field: ignored

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.write(memoryview(data)[start:end])  # no copy of a megabyte

    def _part_end(self) -> None:
        self._current = None


def _file_name(raw: bytes) -> str:
    """A part's file name: UTF-8 as clients send it today, else Latin-1 (older clients)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _malformed(exc: FormParserError) -> InvalidInput:
    """A multipart body that breaks the format: say where, not how the parser works inside."""
    reason = str(exc).strip() or type(exc).__name__
    return InvalidInput(f"The multipart body is malformed: {reason}.", {"reason": reason})
