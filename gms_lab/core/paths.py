"""The one path resolver: every user-supplied name or path becomes a path here, or is refused."""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
import unicodedata
from pathlib import Path, PurePosixPath

from slugify import slugify

from .errors import UnsafePath

#: Names Windows reserves for devices, with or without an extension.
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
    + ["com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"]
)
#: Characters that are invalid in a file name on Windows (besides the separators).
_WINDOWS_INVALID = set('<>:"|?*')
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_COMPONENT = 255
_MAX_SLUG = 64


def check_name(name: str, *, what: str = "name") -> str:
    """Check one path component (a file or folder name) and return it NFC-normalised.

    Refuses empty names, `.` and `..`, hidden names, separators, NUL and control characters,
    characters or trailing dots and spaces that Windows rejects, and Windows device names.
    """
    if not isinstance(name, str) or name == "":
        raise UnsafePath(f"The {what} is empty.", {"name": name})
    return _checked_name(name, what)


@functools.lru_cache(maxsize=4096)
def _checked_name(name: str, what: str) -> str:
    """`check_name` of a non-empty string; kept per name (a worker checks the same project id
    and file names for every take)."""
    name = unicodedata.normalize("NFC", name)
    if name in (".", ".."):
        raise UnsafePath(f"The {what} {name!r} refers to a folder, not a file.", {"name": name})
    if "/" in name or "\\" in name:
        raise UnsafePath(f"The {what} {name!r} contains a path separator.", {"name": name})
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UnsafePath(f"The {what} contains NUL or control characters.", {"name": name})
    if name.startswith("."):
        raise UnsafePath(f"The {what} {name!r} is hidden (starts with a dot).", {"name": name})
    bad = sorted(_WINDOWS_INVALID.intersection(name))
    if bad:
        raise UnsafePath(
            f"The {what} {name!r} contains characters not allowed on Windows: {' '.join(bad)}",
            {"name": name, "characters": bad},
        )
    if name.endswith((" ", ".")):
        raise UnsafePath(f"The {what} {name!r} ends with a space or a dot.", {"name": name})
    if name.split(".", 1)[0].strip().lower() in WINDOWS_RESERVED:
        raise UnsafePath(f"The {what} {name!r} is a reserved device name.", {"name": name})
    if len(name.encode("utf-8")) > _MAX_COMPONENT:
        raise UnsafePath(f"The {what} is longer than {_MAX_COMPONENT} bytes.", {"name": name})
    return name


def split_relative(relpath: str) -> list[str]:
    """Split a project-relative POSIX path into checked components; refuse absolute paths."""
    if not isinstance(relpath, str) or relpath.strip() == "":
        raise UnsafePath("The path is empty.", {"path": relpath})
    if "\x00" in relpath:
        raise UnsafePath("The path contains a NUL character.", {"path": relpath})
    if "\\" in relpath:
        raise UnsafePath("Use forward slashes in paths.", {"path": relpath})
    if relpath.startswith("/") or _DRIVE.match(relpath):
        raise UnsafePath("The path must be relative to the project.", {"path": relpath})
    parts = [p for p in PurePosixPath(relpath).parts if p not in ("", ".")]
    if not parts:
        raise UnsafePath("The path names no file.", {"path": relpath})
    if ".." in parts:
        raise UnsafePath("The path may not contain '..'.", {"path": relpath})
    return [check_name(p, what="path component") for p in parts]


def resolve_inside(root: Path, relpath: str) -> Path:
    """Turn `relpath` into an absolute path inside `root`, or raise `UnsafePath`.

    The checks of `split_relative` come first; then the path is resolved (following symlinks)
    and must still lie inside the resolved root, so a symlink pointing out is refused too.

    Only what lies below the root is looked at for every call: the root is resolved once per
    folder it is in (`_real_folder`), then each part of the path that exists is `lstat`ed, and
    a full resolution happens only when one of them is a symlink. (A worker resolves the files
    of every take: walking the whole workspace path each time was some 20 stats a take.)
    """
    parts = split_relative(relpath)
    base = _real(os.fspath(root))
    target = os.path.join(base, *parts)
    walked = base
    for part in parts:
        walked = os.path.join(walked, part)
        try:
            mode = os.lstat(walked).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break  # nothing exists below: no symlink can lead anywhere from there
        except OSError:
            mode = stat.S_IFLNK  # not ours to look at: resolve the whole path
        if stat.S_ISLNK(mode):
            if not _leads_to(target, base):
                raise UnsafePath("The path leads outside the project.", {"path": relpath})
            break
    return Path(target)


def _leads_to(target: str, base: str) -> bool:
    """Whether `target`, its symlinks followed, is `base` or lies inside it (a loop of links
    leads nowhere)."""
    resolved = os.path.realpath(target)
    try:
        os.stat(resolved)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False
    return resolved == base or resolved.startswith(os.path.join(base, ""))


def _real(path: str) -> str:
    """`os.path.realpath` of a folder, by way of the resolved folder it is in (kept)."""
    folder, name = os.path.split(os.path.abspath(path))
    if not name:
        return folder  # the file system's root
    real = os.path.join(_real_folder(folder), name)
    try:
        if not stat.S_ISLNK(os.lstat(real).st_mode):
            return real
    except OSError:
        return real  # not there (yet): nothing to follow
    return os.path.realpath(real)


#: Resolved folders that roots are made in, by their path as given (see `_real_folder`).
_REAL_FOLDERS: dict[str, str] = {}


def _real_folder(folder: str) -> str:
    """The resolved path of a folder that roots are made in (the projects folder, a project's
    jobs folder), resolved once per process once it exists. Everything below it is looked at
    on every call."""
    real = _REAL_FOLDERS.get(folder)
    if real is None:
        real = os.path.realpath(folder)
        if os.path.isdir(real):
            if len(_REAL_FOLDERS) >= 1024:
                _REAL_FOLDERS.clear()
            _REAL_FOLDERS[folder] = real
    return real


def slug_for(name: str) -> str:
    """A folder name for `name`, safe on Windows, macOS and Linux: ASCII, lowercase, short.

    Non-Latin scripts are transliterated; a name with nothing left becomes `project`.
    """
    slug = slugify(name, max_length=_MAX_SLUG, word_boundary=True, separator="-") or "project"
    if slug.split(".", 1)[0] in WINDOWS_RESERVED:
        slug = f"{slug}-project"
    return slug


#: An absolute POSIX path in free text (not the `//` of a URL, not `1/2`).
_ABSOLUTE_IN_TEXT = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"`:;,()<>/]+/)*([^\s'\"`:;,()<>/]+)/?")


def public_text(text: str, root: Path | None = None) -> str:
    """`text` as a user may read it: no absolute path of the server in it.

    Paths inside `root` (a project, the workspace) become relative to it; any other absolute
    path is cut to its last component (`/usr/lib/python3.11/json/decoder.py` → `decoder.py`).
    """
    if root is not None:
        for base in {str(root), str(root.resolve())}:
            text = text.replace(base + "/", "").replace(base, ".")
    return _ABSOLUTE_IN_TEXT.sub(lambda m: m.group(1), text)
