"""The asset library of a project (01_Assets/<Category>/…) and its other files."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from urllib.parse import quote

from ..models import Asset, AssetCategory, FileEntry
from .errors import InvalidInput
from .files import media_kind, mtime
from .paths import check_name, resolve_inside, split_relative
from .projects import ASSETS, CACHE

THUMBNAILS = f"{CACHE}/thumbnails"
UPLOADS = f"{CACHE}/uploads"
#: Files only the studio itself writes; uploads may not replace them.
_PROTECTED = frozenset(["project.json"])


def parse_category(value: str) -> AssetCategory:
    """A category from its name in any case (`characters`, `Characters`), or `InvalidInput`."""
    for category in AssetCategory:
        if value.strip().lower() == category.value:
            return category
    names = ", ".join(c.value for c in AssetCategory)
    raise InvalidInput(
        f"Unknown asset category {value!r}; use one of {names}.", {"category": value}
    )


def file_url(project_id: str, relpath: str) -> str:
    """The download URL of a project file, relative to the server's base URL."""
    return f"gms/api/projects/{quote(project_id)}/files/{quote(relpath)}"


def thumbnail_relpath(relpath: str, size: int, stat: os.stat_result) -> str:
    """Where the thumbnail of a file version lives; a changed file gets a new one."""
    key = f"{relpath}\x00{stat.st_size}\x00{stat.st_mtime_ns}\x00{size}".encode()
    return f"{THUMBNAILS}/{hashlib.sha1(key, usedforsecurity=False).hexdigest()}.png"


def category_of(relpath: str) -> AssetCategory | None:
    """The category a project-relative path belongs to, if it is in the asset library."""
    parts = relpath.split("/")
    if len(parts) >= 3 and parts[0] == ASSETS:
        for category in AssetCategory:
            if parts[1] == category.folder:
                return category
    return None


def describe(project_id: str, root: Path, path: Path, thumb_size: int) -> Asset:
    """An `Asset` for a file of the project (its thumbnail URL when one is cached)."""
    relpath = path.relative_to(root).as_posix()
    stat = path.stat()
    category = category_of(relpath)
    thumb = thumbnail_relpath(relpath, thumb_size, stat)
    folder = "/".join(relpath.split("/")[2:-1]) if category else ""
    return Asset(
        path=relpath,
        name=path.name,
        category=category,
        kind=media_kind(path.name),
        size=stat.st_size,
        modified=mtime(path),
        url=file_url(project_id, relpath),
        thumbnail=file_url(project_id, thumb) if (root / thumb).is_file() else None,
        folder=folder,
    )


def _visible_files(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
    return out


def list_assets(project_id: str, root: Path, thumb_size: int) -> dict[str, list[Asset]]:
    """Every asset by category (every category present, even when empty)."""
    out: dict[str, list[Asset]] = {}
    for category in AssetCategory:
        folder = root / ASSETS / category.folder
        files = _visible_files(folder) if folder.is_dir() else []
        out[category.value] = [describe(project_id, root, f, thumb_size) for f in files]
    return out


def list_files(root: Path, under: str | None = None) -> list[FileEntry]:
    """Files and folders of the project (or of a folder in it), hidden ones and .git left out."""
    base = resolve_inside(root, under) if under else root
    if not base.is_dir():
        raise InvalidInput(f"{under!r} is not a folder of the project.", {"path": under})
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for d in dirnames:
            p = here / d
            rel = p.relative_to(root).as_posix()
            out.append(FileEntry(path=rel, kind="directory", size=0, modified=mtime(p)))
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            p = here / f
            rel = p.relative_to(root).as_posix()
            size = p.stat().st_size
            out.append(FileEntry(path=rel, kind=media_kind(f), size=size, modified=mtime(p)))
    return out


def upload_target(root: Path, *, category: str | None, name: str | None, path: str | None) -> Path:
    """Where an uploaded file goes: `category` + `name` (may hold sub-folders) or `path`."""
    if path:
        if category:
            raise InvalidInput("Give either ?category=&name= or ?path=, not both.")
        target = resolve_inside(root, path)
    else:
        if not category or not name:
            raise InvalidInput("An upload needs ?category=…&name=… or ?path=…")
        cat = parse_category(category)
        parts = split_relative(name)
        target = resolve_inside(root, "/".join([ASSETS, cat.folder, *parts]))
    rel = target.relative_to(root.resolve()).as_posix()
    if rel in _PROTECTED or rel.startswith(f"{CACHE}/"):
        raise InvalidInput(f"{rel!r} is managed by the studio and cannot be uploaded.")
    check_name(target.name, what="file name")
    if target.is_dir():
        raise InvalidInput(f"{rel!r} is a folder.", {"path": rel})
    return target


def preview_png(path: Path, size: int) -> bytes | None:
    """A small PNG of an image file (for inline previews); None for other kinds of file."""
    if media_kind(path.name) != "image" or not path.is_file():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.thumbnail((size, size))
            buf = io.BytesIO()
            image.convert("RGB").save(buf, "PNG")
    except (OSError, UnidentifiedImageError):
        return None
    return buf.getvalue()
