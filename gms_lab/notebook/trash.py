"""The workspace trash from a notebook: `studio.trash()` lists, restores, erases and empties."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

from ..core.trash import Trash
from ..models import TrashItem

#: Something that names a trash item: the item itself or its id.
ItemRef = TrashItem | str


def _id(item: ItemRef) -> str:
    return item if isinstance(item, str) else item.id


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


class TrashBin:
    """What was deleted in the workspace (projects, chapters, scenes, shots, takes, assets).

    `TrashBin` is a view: every call reads the trash as it is now. Restoring puts files and
    manifest entries back where they were; a clear `Conflict` says when that cannot be done.
    """

    def __init__(self, trash: Trash, connect: Callable[[], None], project: str | None = None):
        self._trash = trash
        # tasks must hear of deletions and restores (cancelled, records kept with the project)
        self._connect = connect
        self.project = project

    def items(self) -> list[TrashItem]:
        """The items, newest first (only this project's, if the bin was made for one)."""
        return self._trash.items(self.project)

    def restore(self, item: ItemRef) -> TrashItem:
        """Put an item back where it was; the item restored."""
        self._connect()
        record, _ = self._trash.restore(_id(item))
        return self._trash.public(record)

    def erase(self, item: ItemRef) -> None:
        """Erase an item for good."""
        self._connect()
        self._trash.erase(_id(item))

    def empty(self) -> list[str]:
        """Erase every item (of this project, if the bin was made for one); the ids erased."""
        self._connect()
        return self._trash.empty(self.project)

    def __iter__(self) -> Iterator[TrashItem]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.items())

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        items = self.items()
        rows = "".join(
            "<tr>"
            f"<td><code>{html.escape(i.id)}</code></td><td>{i.node_kind or i.kind}</td>"
            f"<td>{html.escape(i.name)}</td>"
            f"<td>{html.escape(' / '.join([i.project_name, *i.where]))}</td>"
            f"<td>{i.deleted:%Y-%m-%d %H:%M}</td><td>{_size(i.size)}</td>"
            "</tr>"
            for i in items
        )
        head = "<tr><th>id</th><th>kind</th><th>name</th><th>where</th><th>deleted</th>"
        body = (
            f"<div><b>Trash</b> · {len(items)} item{'s' if len(items) != 1 else ''}"
            f"<table>{head}<th>size</th></tr>{rows}</table></div>"
            if items
            else "<div><b>Trash</b> · empty</div>"
        )
        return {"text/html": body, "text/plain": repr(self)}

    def __repr__(self) -> str:
        lines = [f"<Trash: {len(self)} items>"]
        for i in self.items():
            where = " / ".join([i.project_name, *i.where])
            lines.append(f"  {i.id}  {i.node_kind or i.kind:<7} {i.name!r} in {where}")
        return "\n".join(lines)
