"""The boards pipeline: a storyboard sheet of the cut, as a printable PDF and a PNG.

One panel per shot, in story order: its frame (the selected take's picture, the middle frame of
a video take, or a card saying the shot has no picture yet), its number and name, duration,
take, prompt and notes. The PDF is A4 landscape with six panels a page; the PNG is the whole
sheet as one picture, for a chat or a wiki.
"""

from __future__ import annotations

import io
import math
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

# Run as `python boards/main.py` from pipelines/: the shared modules sit one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_ffmpeg import stream_output
from gms_pipeline import Job, PipelineError, Progress, Result, serve

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"}
#: Pixels of a panel's frame on the long side: sharp on paper, small in the PDF.
FRAME_PIXELS = 640
PAGE_COLUMNS, PAGE_ROWS = 3, 2
INK, MUTED, RULE = (30, 30, 34), (100, 100, 110), (200, 200, 205)
#: Typographic characters the PDF's standard fonts lack, and what stands in for them.
PLAIN = str.maketrans(
    {
        "\u2014": "-",  # em dash
        "\u2013": "-",  # en dash
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u2026": "...",
        "\u2022": "\u00b7",  # bullet → middle dot
    }
)


@dataclass(frozen=True)
class Panel:
    """One shot on the sheet."""

    number: int
    name: str
    seconds: float
    take: str
    prompt: str
    notes: str
    frame: Image.Image
    missing: str | None


#: A Unicode font looked up where the system keeps fonts (regular, bold, italic), by file name.
UNICODE_FONT = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf")


@dataclass(frozen=True)
class Fonts:
    """The sheet's fonts: a Unicode TrueType family when the system has one, else built-ins."""

    paths: tuple[str, str, str] | None

    @staticmethod
    def find() -> Fonts:
        """Look the Unicode family up (Pillow searches the system's font folders)."""
        try:
            found = tuple(str(ImageFont.truetype(name, 10).path) for name in UNICODE_FONT)
        except OSError:
            return Fonts(None)
        return Fonts((found[0], found[1], found[2]))

    def pillow(self, size: int, bold: bool = False) -> Any:
        """A Pillow font of ``size`` pixels."""
        if self.paths is None:
            return ImageFont.load_default(size=size)
        return ImageFont.truetype(self.paths[1 if bold else 0], size)

    def text(self, text: str) -> str:
        """Text as the fonts can draw it (the built-in ones lack most typography)."""
        return text if self.paths is not None else latin(text)


def latin(text: str) -> str:
    """Text the PDF's standard fonts can print: accents kept, other scripts as `?`."""
    text = text.translate(PLAIN)
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


def fit(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The picture letterboxed into ``size`` (the project's frame shape)."""
    picture = ImageOps.exif_transpose(picture).convert("RGB")
    picture = ImageOps.contain(picture, size, Image.Resampling.LANCZOS)
    frame = Image.new("RGB", size, (0, 0, 0))
    frame.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    return frame


def video_frame(path: Path, seconds: float) -> Image.Image:
    """The frame in the middle of a video (its first, when the middle cannot be reached)."""
    grab = ["-an", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"]
    data = b"".join(stream_output(["-ss", f"{max(0.0, seconds / 2):.3f}", "-i", str(path), *grab]))
    if not data:
        data = b"".join(stream_output(["-i", str(path), *grab]))
    if not data:
        raise PipelineError(f"{path.name} has no video frame")
    return Image.open(io.BytesIO(data))


def card(size: tuple[int, int], name: str, reason: str, fonts: Fonts) -> Image.Image:
    """The frame of a shot with no picture: its name and why, on grey."""
    width, height = size
    picture = Image.new("RGB", size, (228, 228, 232))
    pen = ImageDraw.Draw(picture)
    step = max(8, width // 24)
    for x in range(-height, width, step):  # hatching, so an empty frame reads as empty
        pen.line((x, height, x + height, 0), fill=(214, 214, 220), width=1)
    big, small = fonts.pillow(max(8, height // 9)), fonts.pillow(max(6, height // 16))
    pen.text((width / 2, height * 0.42), fonts.text(name), fill=INK, font=big, anchor="mm")
    pen.text((width / 2, height * 0.6), fonts.text(reason), fill=MUTED, font=small, anchor="mm")
    return picture


def frame_size(width: int, height: int) -> tuple[int, int]:
    """A panel frame of the project's shape, FRAME_PIXELS on its long side."""
    scale = FRAME_PIXELS / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def read_panels(job: Job, size: tuple[int, int], fonts: Fonts, progress: Progress) -> list[Panel]:
    """Every clip of the job as a panel, its frame read from the take's file."""
    clips: Any = job.parameters.get("clips")
    if not isinstance(clips, list) or not clips:
        raise PipelineError("the boards have no clips")
    panels = []
    for number, clip in enumerate(clips, start=1):
        if not isinstance(clip, dict) or not isinstance(clip.get("path", 0), str | None):
            raise PipelineError(f"clip {number} needs a path (null for a shot with no picture)")
        name = str(clip.get("name") or clip["path"] or f"Shot {number}")
        seconds = clip.get("duration")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise PipelineError(f"clip {name} needs a duration in seconds above 0")
        progress(0.7 * (number - 1) / len(clips), f"framing {number}/{len(clips)}: {name}")
        missing = None
        if clip["path"] is None:
            missing = str(clip.get("missing") or "no picture")
            frame = card(size, name, missing, fonts)
        else:
            path = job.input_path(clip["path"])
            try:
                if path.suffix.lower() in VIDEO_SUFFIXES:
                    frame = fit(video_frame(path, float(seconds)), size)
                else:
                    with Image.open(path) as opened:
                        frame = fit(opened, size)
            except (UnidentifiedImageError, OSError) as exc:
                raise PipelineError(f"cannot read the picture of {name}: {exc}") from None
        panels.append(
            Panel(
                number=number,
                name=name,
                seconds=float(seconds),
                take=str(clip.get("takeId") or ""),
                prompt=str(clip.get("prompt") or ""),
                notes=str(clip.get("notes") or ""),
                frame=frame,
                missing=missing,
            )
        )
    return panels


def seconds_label(seconds: float) -> str:
    """`2.5 s`, `1:04.0`."""
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def caption(panel: Panel) -> str:
    """The line under a panel's name: duration and take (or what is missing)."""
    source = panel.take or panel.missing or ""
    return f"{seconds_label(panel.seconds)} · {source}" if source else seconds_label(panel.seconds)


class Sheet(FPDF):
    """The PDF: a header with the title on each page, a footer with the page number."""

    def __init__(self, title: str, subtitle: str, fonts: Fonts) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.sheet_fonts = fonts
        self.family_name = "helvetica"
        if fonts.paths is not None:
            self.family_name = "sheet"
            for style, path in zip(("", "B", "I"), fonts.paths, strict=True):
                self.add_font(self.family_name, style, path)
        self.title_text, self.subtitle = fonts.text(title), fonts.text(subtitle)
        self.set_auto_page_break(False)
        self.set_margins(10, 10, 10)
        self.set_title(self.title_text)
        self.set_creator("Generative Media Studio")

    def header(self) -> None:
        self.set_font(self.family_name, "B", 14)
        self.set_text_color(*INK)
        self.cell(0, 7, self.title_text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family_name, "", 9)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.subtitle, new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(self.family_name, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{self.page_no()} / {{nb}}", align="R")

    def lines(self, x: float, y: float, width: float, text: str, most: int, height: float) -> float:
        """Print at most ``most`` wrapped lines (the last cut with an ellipsis); the new y."""
        if not text:
            return y
        wrapped = self.multi_cell(
            width, height, self.sheet_fonts.text(text), dry_run=True, output="LINES"
        )
        if len(wrapped) > most:
            wrapped = wrapped[:most]
            wrapped[-1] = wrapped[-1].rstrip()[: max(0, len(wrapped[-1]) - 3)] + "..."
        for line in wrapped:
            self.set_xy(x, y)
            self.cell(width, height, line)
            y += height
        return y


def write_pdf(panels: list[Panel], title: str, subtitle: str, fonts: Fonts, target: Path) -> int:
    """Lay the panels out six to an A4 landscape page; the number of pages."""
    pdf = Sheet(title, subtitle, fonts)
    gutter = 6.0
    left, top = 10.0, 24.0
    usable_width = pdf.w - 20
    column = (usable_width - gutter * (PAGE_COLUMNS - 1)) / PAGE_COLUMNS
    aspect = panels[0].frame.height / panels[0].frame.width
    frame_height = column * aspect
    row = (pdf.h - top - 12) / PAGE_ROWS
    per_page = PAGE_COLUMNS * PAGE_ROWS
    for index, panel in enumerate(panels):
        if index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = left + (slot % PAGE_COLUMNS) * (column + gutter)
        y = top + (slot // PAGE_COLUMNS) * row
        room = row - 31  # what is left for the frame above the text
        height = min(frame_height, room)
        width = height / aspect
        pdf.image(panel.frame, x=x + (column - width) / 2, y=y, w=width, h=height)
        pdf.set_draw_color(*RULE)
        pdf.rect(x + (column - width) / 2, y, width, height)
        y += height + 2
        pdf.set_xy(x, y)
        pdf.set_font(pdf.family_name, "B", 10)
        pdf.set_text_color(*INK)
        pdf.cell(column, 5, fonts.text(f"{panel.number}  {panel.name}"))
        y += 5
        pdf.set_font(pdf.family_name, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(x, y)
        pdf.cell(column, 4, fonts.text(caption(panel)))
        y += 4.5
        pdf.set_font(pdf.family_name, "I", 8)
        pdf.set_text_color(*INK)
        y = pdf.lines(x, y, column, panel.prompt, 3, 3.6)
        pdf.set_font(pdf.family_name, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.lines(x, y + 0.5, column, panel.notes, 2, 3.6)
    pdf.output(str(target))
    return pdf.pages_count


def wrap(pen: ImageDraw.ImageDraw, text: str, font: Any, width: int, most: int) -> list[str]:
    """Words wrapped to ``width`` pixels, at most ``most`` lines (the last with an ellipsis)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if pen.textlength(trial, font=font) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1].rstrip(" .,;") + "…"
    return lines


def write_png(
    panels: list[Panel], title: str, subtitle: str, fonts: Fonts, target: Path
) -> tuple[int, int]:
    """The whole sheet as one picture, four panels a row; its size."""
    columns = min(4, len(panels))
    frame_w, frame_h = 360, round(360 * panels[0].frame.height / panels[0].frame.width)
    gutter, margin, text_h, head_h = 24, 32, 96, 72
    rows = math.ceil(len(panels) / columns)
    width = margin * 2 + columns * frame_w + (columns - 1) * gutter
    height = margin * 2 + head_h + rows * (frame_h + text_h) + (rows - 1) * gutter
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    big, bold, small = fonts.pillow(26, bold=True), fonts.pillow(16, bold=True), fonts.pillow(13)
    pen.text((margin, margin), fonts.text(title), fill=INK, font=big)
    pen.text((margin, margin + 36), fonts.text(subtitle), fill=MUTED, font=small)
    for index, panel in enumerate(panels):
        x = margin + (index % columns) * (frame_w + gutter)
        y = margin + head_h + (index // columns) * (frame_h + text_h + gutter)
        sheet.paste(panel.frame.resize((frame_w, frame_h), Image.Resampling.LANCZOS), (x, y))
        pen.rectangle((x, y, x + frame_w - 1, y + frame_h - 1), outline=RULE)
        y += frame_h + 6
        pen.text((x, y), fonts.text(f"{panel.number}  {panel.name}"), fill=INK, font=bold)
        y += 21
        pen.text((x, y), fonts.text(caption(panel)), fill=MUTED, font=small)
        y += 18
        for line in wrap(pen, fonts.text(panel.prompt), small, frame_w, 2):
            pen.text((x, y), line, fill=INK, font=small)
            y += 16
        for line in wrap(pen, fonts.text(panel.notes), small, frame_w, 1):
            pen.text((x, y), line, fill=MUTED, font=small)
    sheet.save(target, optimize=True)
    return sheet.size


def boards(job: Job, progress: Progress) -> Result:
    """Write the sheet as ``output`` (PDF) and the same name with `.png`."""
    params = job.parameters
    output = str(params.get("output", "boards.pdf"))
    if not output.lower().endswith(".pdf"):
        raise PipelineError(f"output {output} must be a .pdf file name")
    picture = str(Path(output).with_suffix(".png"))
    size = frame_size(int(params.get("width", 1280)), int(params.get("height", 720)))
    fonts = Fonts.find()
    panels = read_panels(job, size, fonts, progress)
    title = str(params.get("title") or Path(output).stem)
    total = sum(panel.seconds for panel in panels)
    gaps = sum(1 for panel in panels if panel.missing)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (
        f"{len(panels)} shot{'s' if len(panels) != 1 else ''} · {seconds_label(round(total, 2))}"
        + (f" · {gaps} without a picture" if gaps else "")
        + f" · {made}"
    )
    progress(0.75, "laying out the PDF")
    with job.writing(output) as path:
        pages = write_pdf(panels, title, subtitle, fonts, path)
    progress(0.9, "drawing the PNG")
    with job.writing(picture) as path:
        png_size = write_png(panels, title, subtitle, fonts, path)
    metadata = {
        "pages": pages,
        "panels": len(panels),
        "gaps": gaps,
        "duration": total,
        "pngWidth": png_size[0],
        "pngHeight": png_size[1],
    }
    return Result(outputs=[output, picture], metadata=metadata)


if __name__ == "__main__":
    serve(boards, manifest=Path(__file__).with_name("pipeline.toml"))
