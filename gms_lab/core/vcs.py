"""Version control of projects: git with media routed through git-lfs (GitPython over the CLI)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git
from filelock import FileLock

from ..models import GitCommit, GitFileStatus, GitStatus, ToolHealth
from .errors import Conflict, InvalidInput
from .workspace import Workspace

#: Every common media type goes through LFS: images, video, audio, 3D, archives, model weights.
LFS_EXTENSIONS = [
    "png",
    "jpg",
    "jpeg",
    "webp",
    "gif",
    "bmp",
    "tif",
    "tiff",
    "exr",
    "hdr",
    "dpx",
    "psd",
    "psb",
    "kra",
    "mp4",
    "mov",
    "mkv",
    "webm",
    "avi",
    "m4v",
    "mxf",
    "prores",
    "wav",
    "mp3",
    "flac",
    "ogg",
    "aac",
    "m4a",
    "opus",
    "aif",
    "aiff",
    "glb",
    "gltf",
    "fbx",
    "obj",
    "blend",
    "abc",
    "usd",
    "usdz",
    "usdc",
    "stl",
    "ply",
    "3ds",
    "max",
    "ma",
    "mb",
    "c4d",
    "zip",
    "tar",
    "gz",
    "tgz",
    "7z",
    "rar",
    "xz",
    "safetensors",
    "ckpt",
    "pt",
    "pth",
    "bin",
    "onnx",
    "gguf",
    "npz",
    "npy",
    "h5",
    "pkl",
]

GITIGNORE = """\
# studio caches and exports are rebuilt, never versioned
/05_Cache/
/06_Exports/
# pipelines write here while a job runs
/03_Renders/.jobs/
# OS and editor junk
.DS_Store
._*
Thumbs.db
desktop.ini
*.swp
*~
.ipynb_checkpoints/
"""


#: The studio's files while they are written (`files._temp_name`): renamed into place once
#: whole, never committed. In `.git/info/exclude`, so projects made before it get it too.
TEMP_EXCLUDE = ".*.tmp"


def exclude_temp_files(root: Path) -> None:
    """Have git ignore the studio's temp files in the project at `root` (added once to
    `.git/info/exclude`, which no commit carries)."""
    exclude = root / ".git" / "info" / "exclude"
    try:
        text = exclude.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError:
        return  # no git folder of ours to write to: nothing more to do
    if TEMP_EXCLUDE in text.splitlines():
        return
    with contextlib.suppress(OSError):
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lead = "" if not text or text.endswith("\n") else "\n"
        note = "# the studio's files while they are written (renamed into place when whole)\n"
        with open(exclude, "a", encoding="utf-8") as fh:
            fh.write(f"{lead}{note}{TEMP_EXCLUDE}\n")


def _any_case(ext: str) -> str:
    """A gitattributes glob matching `ext` in any letter case (patterns are case-sensitive)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in ext)


def gitattributes() -> str:
    """The `.gitattributes` of a new project: every media type through LFS."""
    lines = ["# media goes through git-lfs; text stays in git", "*.json text eol=lf"]
    lines += [f"*.{_any_case(ext)} filter=lfs diff=lfs merge=lfs -text" for ext in LFS_EXTENSIONS]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Author:
    """Who a commit is by: the signed-in Jupyter user, or the studio itself."""

    name: str
    email: str

    @property
    def git_env(self) -> dict[str, str]:
        """Environment that makes git record this author and committer."""
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


STUDIO_AUTHOR = Author("Generative Media Studio", "studio@gms.local")


@functools.cache
def git_identity() -> tuple[str, str]:
    """The `user.name` and `user.email` git is configured with for this process ("" if unset)."""

    def read(key: str) -> str:
        try:
            done = subprocess.run(
                ["git", "config", "--get", key], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return read("user.name"), read("user.email")


def stable_author(name: str = "", email: str = "", person: Author | None = None) -> Author:
    """Who the studio's commits are by, the same on every request.

    The studio's setting (`author_name`, `author_email`) first, then git's configured identity,
    then `person` (a signed-in user with a real name), then the studio itself.
    """
    git_name, git_email = git_identity()
    chosen = name.strip() or git_name or (person.name if person else "") or STUDIO_AUTHOR.name
    if email.strip() or git_email:
        mail = email.strip() or git_email
    elif person is not None and chosen == person.name:
        mail = person.email
    else:
        local = re.sub(r"[^A-Za-z0-9._-]+", "-", chosen).strip("-").lower() or "studio"
        mail = STUDIO_AUTHOR.email if chosen == STUDIO_AUTHOR.name else f"{local}@users.gms.local"
    return Author(chosen, mail)


def tool_health() -> dict[str, ToolHealth]:
    """Whether `git` and `git lfs` are installed, with their versions."""
    out: dict[str, ToolHealth] = {}
    for key, argv in (("git", ["git", "--version"]), ("gitLfs", ["git", "lfs", "version"])):
        if shutil.which("git") is None:
            out[key] = ToolHealth(ok=False, message="git is not installed (apt-get install git).")
            continue
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            out[key] = ToolHealth(ok=False, message=str(exc))
            continue
        if done.returncode == 0:
            out[key] = ToolHealth(ok=True, version=done.stdout.strip())
        else:
            hint = "git-lfs is not installed (apt-get install git-lfs); media is stored in git"
            out[key] = ToolHealth(ok=False, message=hint if key == "gitLfs" else done.stderr)
    return out


class ProjectRepo:
    """The git repository of one project; every operation holds the project's git lock."""

    def __init__(self, workspace: Workspace, project_id: str, path: Path) -> None:
        self.path = path
        self._lock = FileLock(workspace.lock_path(f"{project_id}.git"), timeout=60)

    def _repo(self) -> git.Repo:
        return git.Repo(self.path)

    def init(self, author: Author, lfs: bool) -> str | None:
        """Make the folder a repository: ignore rules, LFS attributes and hooks, first commit."""
        (self.path / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        (self.path / ".gitattributes").write_text(gitattributes(), encoding="utf-8")
        with self._lock:
            repo = git.Repo.init(self.path, initial_branch="main")
            exclude_temp_files(self.path)
            with repo.config_writer() as cfg:
                cfg.set_value("core", "quotepath", "false")
            if lfs:
                repo.git.lfs("install", "--local")
            return self._commit(repo, "Create project", author, None)

    def commit(self, message: str, author: Author, paths: list[str] | None = None) -> str | None:
        """Add (through the LFS filter) and commit; None when there was nothing to commit.

        `paths` (project-relative, already checked by the path resolver) must each exist or be
        known to git (a deleted file) and not be ignored; else `Conflict` naming them.
        """
        with self._lock:
            repo = self._repo()
            exclude_temp_files(self.path)
            if paths:
                self._check_paths(repo, paths)
            try:
                return self._commit(repo, message, author, paths)
            except git.GitCommandError as exc:
                raise GitFailed(exc, self.path) from exc

    def _check_paths(self, repo: git.Repo, paths: list[str]) -> None:
        with repo.git.custom_environment(GIT_LITERAL_PATHSPECS="1"):
            missing = [
                p
                for p in paths
                if not os.path.lexists(self.path / p) and not repo.git.ls_files("--", p)
            ]
        # exit 1 when nothing is ignored; names are printed unquoted (no control characters or
        # quotes get past the path resolver); check-ignore takes plain paths, not pathspecs
        _, out, _ = repo.git.execute(
            ["git", "-c", "core.quotepath=false", "check-ignore", "--", *paths],
            with_extended_output=True,
            with_exceptions=False,
        )
        ignored = [p for p in str(out).splitlines() if p]
        if missing:  # 409, not 404: the project is there, the paths named in the body are not
            raise Conflict(
                f"Cannot commit these paths, not in the project: {', '.join(missing[:10])}.",
                {"missing": missing},
            )
        if ignored:
            raise Conflict(
                "Cannot commit these paths, ignored by git (caches, exports): "
                f"{', '.join(ignored[:10])}.",
                {"ignored": ignored},
            )

    @staticmethod
    def _commit(
        repo: git.Repo, message: str, author: Author, paths: list[str] | None
    ) -> str | None:
        # repo.git.add runs the clean filter (LFS); repo.index.add would store media whole
        if paths:
            with repo.git.custom_environment(GIT_LITERAL_PATHSPECS="1"):
                repo.git.add("--all", "--", *paths)
        else:
            repo.git.add("--all")
        if repo.head.is_valid() and not repo.git.diff("--cached", "--name-only"):
            return None
        with repo.git.custom_environment(**author.git_env):
            # kept as written: git's default clean-up drops lines that start with '#'
            repo.git.commit("--no-verify", "-q", "--cleanup=whitespace", "-m", message)
        return repo.head.commit.hexsha

    def status(self) -> GitStatus:
        """Branch, head, and every changed or untracked path."""
        repo = self._repo()
        exclude_temp_files(self.path)
        raw = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
        files: list[GitFileStatus] = []
        entries = raw.split("\x00")
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            x, y, path = entry[0], entry[1], entry[3:]
            if x == "R":
                i += 1  # the origin path follows a rename
            files.append(_file_status(x, y, path))
        head = repo.head.commit.hexsha if repo.head.is_valid() else None
        try:
            branch: str | None = repo.active_branch.name
        except TypeError:
            branch = None
        lfs = "filter.lfs.clean" in repo.git.config("--list", "--local")
        return GitStatus(branch=branch, head=head, clean=not files, files=files, lfs=lfs)

    def log(self, limit: int = 50) -> list[GitCommit]:
        """The newest commits first, with the files each touched."""
        repo = self._repo()
        if not repo.head.is_valid():
            return []
        out = []
        for c in repo.iter_commits(max_count=limit):
            out.append(
                GitCommit(
                    sha=c.hexsha,
                    message=str(c.message).strip(),
                    author=c.author.name or "",
                    email=c.author.email or "",
                    date=datetime.fromtimestamp(c.authored_date, UTC),
                    files=sorted(str(p) for p in c.stats.files),
                )
            )
        return out

    def lfs_files(self) -> list[str]:
        """Paths that git-lfs manages in HEAD."""
        out = self._repo().git.lfs("ls-files", "--name-only")
        return [line for line in out.splitlines() if line]


def _file_status(x: str, y: str, path: str) -> GitFileStatus:
    if x == "?":
        return GitFileStatus(path=path, status="untracked", staged=False)
    code = x if x != " " else y
    status = {"A": "added", "D": "deleted", "R": "renamed"}.get(code, "modified")
    return GitFileStatus(path=path, status=status, staged=x not in (" ", "?"))


class GitFailed(Conflict):
    """git refused an operation; its own words, without the server's paths."""

    code = "git_failed"

    def __init__(self, exc: git.GitCommandError, root: Path) -> None:
        said = str(exc.stderr or exc.stdout or "").strip().removeprefix("stderr:").strip(" '\n")
        said = said.replace(str(root) + os.sep, "").replace(str(root), ".")
        super().__init__(f"git could not do it: {said or f'exit code {exc.status}'}", None)


def check_message(message: str) -> str:
    """A commit message, stripped; refuse an empty one."""
    message = message.strip()
    if not message:
        raise InvalidInput("A commit needs a message.")
    if "\x00" in message:  # git cannot take it as an argument, nor keep it in a commit
        raise InvalidInput("A commit message cannot hold a NUL character.")
    return message
