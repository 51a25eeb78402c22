"""REST: version control of a project (status, commit, log)."""

from __future__ import annotations

from tornado import web

from ..core.errors import Conflict, UnsafePath
from ..core.limits import whole_number
from ..core.paths import split_relative
from ..core.vcs import check_message
from ..models import GitCommit, GitCommitRequest, GitLog, GitStatus
from .base import StudioHandler, operation

#: The most commits one `git/log` answer lists.
MAX_LOG = 10_000


class GitStatusHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/git/status`."""

    @web.authenticated
    @operation("Branch, head and changed files of the project's repository", response=GitStatus)
    async def get(self, project_id: str) -> None:
        status = await self.run(lambda: self.core.projects.repo(project_id).status())
        self.send(status)


class GitCommitHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/git/commit`: commit as the signed-in user."""

    @web.authenticated
    @operation(
        "Commit the project's changes (media through LFS) as the signed-in user",
        body=GitCommitRequest,
        response=GitCommit,
        status=201,
        errors=(400, 403, 404, 409),
    )
    async def post(self, project_id: str) -> None:
        request = self.parse(GitCommitRequest)
        message = check_message(request.message)
        repo = await self.run(self.core.projects.repo, project_id)
        paths = request.paths
        if paths:
            unsafe = [p for p in paths if not _safe(p)]
            if unsafe:  # a name the project can never hold: there is no such file
                raise Conflict(
                    f"Cannot commit these paths, not in the project: {', '.join(unsafe[:10])}.",
                    {"missing": unsafe},
                )
            paths = ["/".join(split_relative(p)) for p in paths]
        sha = await self.run(repo.commit, message, self.author, paths)
        if sha is None:
            self.send_error_body(409, "nothing_to_commit", "There are no changes to commit.")
            return
        commits = await self.run(repo.log, 1)
        self.send(commits[0], 201)


class GitLogHandler(StudioHandler):
    """`/gms/api/projects/{project_id}/git/log`."""

    @web.authenticated
    @operation(
        "The project's commits, newest first",
        response=GitLog,
        query={"limit": f"How many commits (default 50, at most {MAX_LOG})"},
    )
    async def get(self, project_id: str) -> None:
        asked = whole_number(self.get_query_argument("limit", ""))
        count = min(MAX_LOG, 50 if asked is None else asked)
        commits = await self.run(lambda: self.core.projects.repo(project_id).log(count))
        self.send(GitLog(commits=commits))


def _safe(path: str) -> bool:
    try:
        split_relative(path)
    except UnsafePath:
        return False
    return True
