"""Domain errors; the handlers map each to one HTTP status in one place."""

from __future__ import annotations

from typing import Any


class StudioError(Exception):
    """Base of every error the studio reports to a user; `code` is stable, `message` readable."""

    code = "studio_error"
    status = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(StudioError):
    """A request that is well-formed but asks for something impossible."""

    code = "invalid_input"
    status = 400


class UnsafePath(StudioError):
    """A user-supplied name or path that could escape the project or is unsafe on some system."""

    code = "unsafe_path"
    status = 400


class NotFound(StudioError):
    """Something asked for does not exist."""

    code = "not_found"
    status = 404


class ProjectNotFound(NotFound):
    """No project with that id."""

    code = "project_not_found"


class NodeNotFound(NotFound):
    """No chapter, scene, shot or take with that id in the project."""

    code = "node_not_found"


class Conflict(StudioError):
    """The change clashes with the current state (a name taken, a stale version)."""

    code = "conflict"
    status = 409


class ProjectExists(Conflict):
    """A project with that name (or slug) exists already."""

    code = "project_exists"


class VersionConflict(Conflict):
    """The client's `If-Match` version is not the current one."""

    code = "version_conflict"


class ProjectDamaged(Conflict):
    """A project whose `project.json` cannot be read; it is shown, never hidden or overwritten."""

    code = "project_damaged"

    def __init__(self, project_id: str, reason: str) -> None:
        super().__init__(
            f"The manifest of project {project_id!r} (project.json) cannot be read: {reason}. "
            "Restore it from the project's git history, or delete the project.",
            {"projectId": project_id, "path": "project.json", "reason": reason},
        )
        self.reason = reason


class TooLarge(StudioError):
    """An upload over the configured limit."""

    code = "too_large"
    status = 413


class ServiceUnavailable(StudioError):
    """A service the request needs (Redis, the worker, Docker) does not answer."""

    code = "service_unavailable"
    status = 503
