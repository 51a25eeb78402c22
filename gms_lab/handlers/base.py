"""The base of every REST handler: auth, pydantic bodies, JSON errors, work off the event loop."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado import web

from ..config import StudioConfig
from ..core.errors import InvalidInput, StudioError, TooLarge
from ..core.limits import read_json
from ..core.services import StudioCore
from ..core.vcs import Author, stable_author
from ..models import ErrorBody, ErrorDetail, Project

M = TypeVar("M", bound=BaseModel)
#: A version in `If-Match`: digits, bare or in ETag quotes.
_VERSION = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Operation:
    """What a handler verb takes and answers, for the OpenAPI document."""

    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    #: Query parameters: a description, or (description, JSON Schema) when not a free string.
    query: dict[str, str | tuple[str, dict[str, Any]]] = field(default_factory=dict)
    #: The query parameters that must be given.
    required: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None  # a non-JSON body or answer (uploads, downloads)
    errors: tuple[int, ...] = (400, 403, 404)


def operation(summary: str, **kwargs: Any) -> Callable[[F], F]:
    """Describe a verb (summary, body and response models, status, query parameters)."""

    def mark(fn: F) -> F:
        fn.__gms_operation__ = Operation(summary, **kwargs)  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass(frozen=True)
class Route:
    """A URL template (`/gms/api/projects/{project_id}`) served by a handler class."""

    template: str
    handler: type[web.RequestHandler]

    @property
    def pattern(self) -> str:
        """The tornado regex: `{name}` matches one segment, `{name:path}` the rest of the URL."""
        out = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", self.template)
        return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", out) + "/?$"


def _implements(handler: type, verb: str) -> bool:
    """Whether a handler class defines `verb` itself (not tornado's default that answers 405)."""
    return any(
        verb in klass.__dict__
        for klass in handler.__mro__
        if klass.__module__.startswith("gms_lab")
    )


#: A token login's user: jupyter_server makes up a random one per request (a uuid hex).
_GUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def signed_in_person(user: Any) -> Author | None:
    """A Jupyter user with a real identity as an author; None for a token login's guest."""
    username = str(getattr(user, "username", "") or "")
    name = str(getattr(user, "display_name", "") or getattr(user, "name", "") or username)
    if not username or _GUEST_ID.match(username):
        return None
    local = re.sub(r"[^A-Za-z0-9._-]+", "-", username).strip("-") or "user"
    return Author(name=name, email=f"{local}@users.gms.local")


def author_of(user: Any, config: StudioConfig) -> Author:
    """Who a change made by this Jupyter user is recorded as: a stable author, never the random
    guest name a token login gets on each request (see `core.vcs.stable_author`)."""
    return stable_author(config.author_name, config.author_email, signed_in_person(user))


class StudioHandler(ExtensionHandlerMixin, APIHandler):
    """Every REST handler of the studio derives from this."""

    @property
    def core(self) -> StudioCore:
        """The studio's core services."""
        core: StudioCore = self.settings["gms_core"]
        return core

    @property
    def author(self) -> Author:
        """Who this request's changes are recorded as (a stable author)."""
        return author_of(self.current_user, self.core.config)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (disk, git) in a thread so a slow disk never blocks the server."""
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def prepare(self) -> None:  # type: ignore[override]
        """Refuse a JSON body over the limit (413) before any handler looks at it."""
        await super().prepare()
        if self._finished or getattr(self, "_stream_request_body", False):
            return  # streamed bodies (uploads) have their own limit
        limit = self.core.limits.max_bytes
        size = len(self.request.body or b"")
        if size > limit:
            raise TooLarge(
                f"The body is {size:,} bytes; the limit for JSON bodies is {limit:,} bytes.",
                {"limit": limit, "size": size},
            )

    def parse(self, model: type[M]) -> M:
        """The JSON body as `model`; a malformed or invalid body is a 400 with the details.

        The body is read within the workspace's JSON limits (size, depth, keys, strings, no
        NaN or lone surrogates), so nothing it holds can make a later read fail.
        """
        data = read_json(self.request.body or b"{}", self.core.limits)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            details = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
            first = details[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise InvalidInput(f"Invalid request body: {where}: {first['msg']}", details) from exc

    def if_match(self) -> int | None:
        """The `If-Match` version, or None when absent.

        A version is a number (the `ETag` the server sent), also accepted in ETag quotes
        (`"3"`, `W/"3"`); anything else, `*` included, is a 400: a precondition that cannot be
        checked must not let a change through unchecked.
        """
        raw = self.request.headers.get("If-Match")
        if raw is None:
            return None
        match = _VERSION.match(raw.strip())
        if match is None:
            raise InvalidInput(
                "If-Match must be the project version (a number, as in its ETag).",
                {"got": raw[:100]},
            )
        return int(match.group(1))

    async def change(self, project_id: str, change: Callable[[Project], T]) -> tuple[Project, T]:
        """Change the project's manifest (checked against `If-Match`); sets the new `ETag`."""
        project, outcome = await self.run(
            self.core.manifests.update, project_id, change, self.if_match()
        )
        self.set_header("ETag", str(project.version))
        return project, outcome

    def send(self, model: BaseModel, status: int = 200) -> None:
        """Answer with a model as camelCase JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(model.model_dump_json(by_alias=True))

    def send_json_bytes(self, body: bytes, status: int = 200) -> None:
        """Answer with JSON already serialised (a model's camelCase dump)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)

    def send_error_body(self, status: int, code: str, message: str, details: Any = None) -> None:
        """Write the studio's error shape with `status`."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
        self.finish(body.model_dump_json(by_alias=True))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as `{"error": {"code", "message", "details"}}` with the mapped status."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, StudioError):
            self.send_error_body(exc.status, exc.code, exc.message, exc.details)
            return
        if status_code == 405:  # RFC 9110: say which methods the resource has
            allowed = [m for m in self.SUPPORTED_METHODS if _implements(type(self), m.lower())]
            self.set_header("Allow", ", ".join(allowed))
        if isinstance(exc, web.HTTPError):
            message = exc.log_message % exc.args if exc.log_message else self._reason
            code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
                status_code, "http_error"
            )
            self.send_error_body(status_code, code, message)
            return
        self.send_error_body(status_code, "internal_error", "Internal error; see the server log.")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Domain errors are answers, not crashes: log them quietly."""
        if isinstance(value, StudioError):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)
