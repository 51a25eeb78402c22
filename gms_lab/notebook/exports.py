"""An export seen from a notebook: its files, what it holds, and a look at it in the output."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from ..core.exports import KINDS
from ..models import ExportInfo

#: Larger animatics are not inlined in the notebook (the file stays a click away).
INLINE_VIDEO_BYTES = 24 * 1024 * 1024


class Export:
    """One export of a film: `path` is its main file, `files` all of them, `gaps` the shots
    that had no picture."""

    def __init__(self, root: Path, info: ExportInfo) -> None:
        self.root = root
        self.info = info

    @property
    def kind(self) -> str:
        """animatic, otio, edl, fcpxml or boards."""
        return self.info.kind

    @property
    def path(self) -> Path:
        """The main file (the MP4, the timeline, the PDF)."""
        return self.root / self.info.path

    @property
    def files(self) -> list[Path]:
        """Every file of the export (the boards' PDF and PNG)."""
        return [self.root / f for f in self.info.files]

    @property
    def gaps(self) -> list[str]:
        """The names of the shots held as gaps, for want of a selected take."""
        return [gap.name for gap in self.info.gaps]

    def _preview(self) -> str:
        if self.info.kind == "animatic" and self.path.stat().st_size <= INLINE_VIDEO_BYTES:
            data = base64.b64encode(self.path.read_bytes()).decode()
            return (
                f'<video controls style="max-width:480px" '
                f'src="data:video/mp4;base64,{data}"></video>'
            )
        png = next((f for f in self.files if f.suffix == ".png"), None)
        if self.info.kind == "boards" and png is not None and png.is_file():
            data = base64.b64encode(png.read_bytes()).decode()
            return f'<img style="max-width:100%" src="data:image/png;base64,{data}">'
        return ""

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        info = self.info
        label = KINDS[info.kind].label if info.kind in KINDS else "File"
        gaps = ""
        if info.gaps:
            names = ", ".join(html.escape(g.name) for g in info.gaps)
            gaps = f"<br>No picture (held as gaps): {names}"
        files = " · ".join(f"<code>{html.escape(f)}</code>" for f in info.files)
        body = (
            f"<div><b>{html.escape(label)}</b> of {html.escape(info.scope_name or '')} · "
            f"{info.shots or 0} shots · {info.duration or 0:g} s<br>{files}{gaps}"
            f"<div>{self._preview()}</div></div>"
        )
        return {"text/html": body, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<Export {self.info.kind} {self.info.path}>"
