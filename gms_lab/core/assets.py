"""The asset library of a project (01_Assets/<Category>/…) and its other files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..models import Asset, AssetCategory, FileEntry, Project
from . import hierarchy
from .errors import Conflict, InvalidInput, NotFound, UnsafePath
from .files import (
    atomic_write,
    fsync_dir,
    is_temp_name,
    link_or_write,
    making_folder,
    media_kind,
    mtime,
)
from .manifest import ManifestStore
from .paths import check_name, resolve_inside, split_relative
from .projects import ASSETS, CACHE

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

log = logging.getLogger(__name__)
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


def _listable(name: str) -> bool:
    """Whether a name found on disk is shown: not hidden, not a temp file, valid Unicode."""
    if name.startswith(".") or is_temp_name(name):
        return False
    try:
        name.encode("utf-8")  # names in another encoding arrive with lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def _leads_out(root: Path, path: Path) -> bool:
    """Whether `path` is a symlink that leads outside the project (or nowhere)."""
    if not path.is_symlink():
        return False
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # broken, or a loop
        return True
    base = root.resolve()
    return target != base and base not in target.parents


def _visible_files(root: Path, folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if _listable(d))
        here = Path(dirpath)
        out += [
            here / f
            for f in sorted(filenames)
            if _listable(f) and not _leads_out(root, here / f) and (here / f).is_file()
        ]
    return out


def list_assets(project_id: str, root: Path, thumb_size: int) -> dict[str, list[Asset]]:
    """Every asset by category (every category present, even when empty).

    Symlinks that lead outside the project are not assets (they are never followed).
    """
    out: dict[str, list[Asset]] = {}
    for category in AssetCategory:
        folder = root / ASSETS / category.folder
        files = _visible_files(root, folder) if folder.is_dir() else []
        found = out[category.value] = []
        for path in files:
            with contextlib.suppress(FileNotFoundError):  # removed while we looked
                found.append(describe(project_id, root, path, thumb_size))
    return out


def list_folders(root: Path) -> dict[str, list[str]]:
    """Every folder of each category (relative to the category, parents first), empty or not."""
    out: dict[str, list[str]] = {}
    for category in AssetCategory:
        base = root / ASSETS / category.folder
        found: list[str] = []
        if base.is_dir():
            for dirpath, dirnames, _ in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                here = Path(dirpath)
                found += [(here / d).relative_to(base).as_posix() for d in dirnames]
        out[category.value] = sorted(found)
    return out


def _folder_parts(folder: str) -> list[str]:
    return split_relative(folder) if folder.strip("/") else []


def make_folder(root: Path, category: str, folder: str) -> str:
    """Create a folder in a category of the library (parents too); its project-relative path."""
    cat = parse_category(category)
    parts = _folder_parts(folder)
    if not parts:
        raise InvalidInput("Name the new folder.", {"folder": folder})
    target = resolve_inside(root, "/".join([ASSETS, cat.folder, *parts]))
    if target.exists():
        raise Conflict(f"{'/'.join(parts)!r} already exists in {cat.folder}.", {"folder": folder})
    target.mkdir(parents=True)
    fsync_dir(target.parent)
    return target.relative_to(root.resolve()).as_posix()


def not_an_asset(relpath: str) -> NotFound:
    """The 404 for a path outside the asset library: no asset is there (a route's own path)."""
    return NotFound(
        f"No asset at {relpath!r}: assets live in {ASSETS}/<Category>/….", {"path": relpath}
    )


def _library_file(root: Path, relpath: str) -> tuple[Path, AssetCategory]:
    path = resolve_inside(root, relpath)
    rel = path.relative_to(root.resolve()).as_posix()
    category = category_of(rel)
    if category is None:
        raise not_an_asset(relpath)
    if not path.is_file():
        raise NotFound(f"No asset {rel!r} in the project.", {"path": rel})
    return path, category


def move(
    root: Path,
    relpath: str,
    *,
    name: str | None = None,
    category: str | None = None,
    folder: str | None = None,
) -> tuple[str, str]:
    """Rename an asset, or move it to another category or folder; (old, new) relative paths.

    What is not given stays; a name without an extension keeps the file's. The target folder
    is created when missing; an existing file there is never replaced (409).
    """
    path, current = _library_file(root, relpath)
    old = path.relative_to(root.resolve()).as_posix()
    cat = parse_category(category) if category else current
    parts = old.split("/")[2:-1] if folder is None else _folder_parts(folder)
    new_name = check_name(name.strip(), what="file name") if name else path.name
    if "." not in new_name and path.suffix:
        new_name += path.suffix
    target = resolve_inside(root, "/".join([ASSETS, cat.folder, *parts, new_name]))
    new = target.relative_to(root.resolve()).as_posix()
    if new == old:
        return old, new
    if target.exists() and not (target.samefile(path) and new.lower() == old.lower()):
        raise Conflict(f"{new!r} already exists.", {"path": new})
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, target)
    fsync_dir(target.parent)
    if target.parent != path.parent:
        fsync_dir(path.parent)
    return old, new


def move_referenced(
    manifests: ManifestStore,
    project_id: str,
    root: Path,
    relpath: str,
    **where: str | None,
) -> str:
    """`move` an asset, and point the shots that reference it at its new place; the new path."""
    old, new = move(root, relpath, **where)
    if new != old and _referenced(manifests.read(project_id), old):
        manifests.update(project_id, lambda p: hierarchy.replace_reference(p, old, new))
    return new


def _referenced(project: Project, relpath: str) -> bool:
    return any(
        relpath in shot.references
        for chapter in project.chapters
        for scene in chapter.scenes
        for shot in scene.shots
    )


def list_files(root: Path, under: str | None = None) -> list[FileEntry]:
    """Files and folders of the project (or of a folder in it), hidden ones and .git left out.

    A symlink that leads outside the project (or nowhere) is listed as a `symlink`, with its
    own time and no size: it is never followed, so nothing outside is looked at.
    """
    try:
        base = resolve_inside(root, under) if under else root
    except UnsafePath as exc:
        raise NotFound(f"No folder {under!r} in the project.", {"path": under}) from exc
    if not base.is_dir():
        raise NotFound(f"No folder {under!r} in the project.", {"path": under})
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if _listable(d))
        here = Path(dirpath)
        names = [(d, True) for d in dirnames] + [(f, False) for f in sorted(filenames)]
        for name, is_dir in names:
            if not _listable(name):
                continue
            entry = _file_entry(root, here / name, is_dir)
            if entry is not None:
                out.append(entry)
    return out


def _file_entry(root: Path, path: Path, is_dir: bool) -> FileEntry | None:
    rel = path.relative_to(root).as_posix()
    try:
        if _leads_out(root, path):
            when = datetime.fromtimestamp(path.lstat().st_mtime, UTC)
            return FileEntry(path=rel, kind="symlink", size=0, modified=when)
        stat = path.stat()
    except FileNotFoundError:  # removed while we looked
        return None
    when = datetime.fromtimestamp(stat.st_mtime, UTC)
    if is_dir:
        return FileEntry(path=rel, kind="directory", size=0, modified=when)
    return FileEntry(path=rel, kind=media_kind(path.name), size=stat.st_size, modified=when)


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


#: Images up to this size are read into memory whole to make their thumbnail.
_READ_WHOLE = 32 * 1024 * 1024


def make_thumbnail(root: Path, relpath: str, size: int) -> str | None:
    """Make the thumbnail of an image of the project now, where `describe` finds it (the
    image shrunk to `size` on its longest side, upright, as PNG); its project-relative path, or
    None when the file is not an image Pillow reads. (Videos and sounds, and assets, get theirs
    from the thumbnail pipeline.)"""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = root / relpath
    try:
        with open(path, "rb", buffering=0) as fh:
            version = os.fstat(fh.fileno())  # names the thumbnail's version
            # an image of usual size is read at once, so Pillow's seeks and small reads are not
            # system calls each (a worker makes the thumbnail of every take)
            whole = fh.readall() if version.st_size <= _READ_WHOLE else None
        with Image.open(io.BytesIO(whole) if whole is not None else path) as opened:
            own = whole is not None and _own_thumbnail(opened, size)
            if own:
                assert whole is not None
                data = whole  # the picture is its own thumbnail: no decoding, no encoding
            else:
                picture = ImageOps.exif_transpose(opened)
                picture.thumbnail((size, size), Image.Resampling.LANCZOS)
                if picture.mode not in _THUMBNAIL_MODES:
                    alpha = "transparency" in picture.info or picture.mode in {"P", "PA"}
                    picture = picture.convert("RGBA" if alpha else "RGB")
                buf = io.BytesIO()
                picture.save(buf, "PNG")
                data = buf.getvalue()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        log.warning("no thumbnail for %s: %s", relpath, exc)
        return None
    relative = thumbnail_relpath(relpath, size, version)
    target = root / relative
    if own:
        # the same bytes: a hard link to the picture (a take is never written in place)
        making_folder(target.parent, lambda: link_or_write(path, target, data))
    else:
        making_folder(target.parent, lambda: atomic_write(target, data))
    return relative


#: Pixel modes a thumbnail keeps as they are (others become RGB or RGBA).
_THUMBNAIL_MODES = {"RGB", "RGBA", "L", "LA"}


def _own_thumbnail(opened: PILImage, size: int) -> bool:
    """A PNG no bigger than a thumbnail, upright and in a mode thumbnails keep is its own
    thumbnail, byte for byte (Pillow has read its header only: nothing is decoded)."""
    return (
        opened.format == "PNG"
        and max(opened.size) <= size
        and opened.mode in _THUMBNAIL_MODES
        and opened.getexif().get(_ORIENTATION, 1) == 1
    )


#: The EXIF tag of a picture's orientation.
_ORIENTATION = 0x0112


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
