"""The thumbnail a worker makes with an image take (`gms_lab.core.assets.make_thumbnail`)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from gms_lab.core.assets import make_thumbnail

SIZE = 256


def _save(root: Path, name: str, image: Image.Image, **options: object) -> str:
    (root / "03_Renders").mkdir(parents=True, exist_ok=True)
    image.save(root / "03_Renders" / name, **options)
    return f"03_Renders/{name}"


def _gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(x * 255 // width, y * 255 // height, 90) for y in range(height) for x in range(width)]
    )
    return image.convert(mode)


def test_a_small_png_is_its_own_thumbnail_byte_for_byte(tmp_path: Path) -> None:
    for mode in ("RGB", "RGBA", "L", "LA"):
        relpath = _save(tmp_path, f"small-{mode}.png", _gradient(64, 40, mode))
        thumb = make_thumbnail(tmp_path, relpath, SIZE)
        assert thumb is not None and thumb.startswith("05_Cache/thumbnails/")
        assert (tmp_path / thumb).read_bytes() == (tmp_path / relpath).read_bytes()
        # ... and a hard link to it: no new file was written (a take is never written in place)
        assert (tmp_path / thumb).stat().st_ino == (tmp_path / relpath).stat().st_ino
    # made again (the take filed again by a redelivered task): the link is replaced whole
    again = make_thumbnail(tmp_path, relpath, SIZE)
    assert again == thumb and (tmp_path / thumb).stat().st_nlink == 2
    assert not [p for p in (tmp_path / thumb).parent.iterdir() if p.name.startswith(".")]


def test_a_bigger_png_is_shrunk_to_the_thumbnail_size(tmp_path: Path) -> None:
    relpath = _save(tmp_path, "big.png", _gradient(640, 360))
    thumb = make_thumbnail(tmp_path, relpath, SIZE)
    assert thumb is not None
    with Image.open(tmp_path / thumb) as made:
        assert made.format == "PNG" and made.size == (256, 144)


def test_small_pictures_that_are_not_thumbnails_as_they_are_are_made_again(
    tmp_path: Path,
) -> None:
    """A JPEG becomes a PNG, a palette picture RGBA (Pillow's shrinking converts it), and a
    picture whose EXIF says it is turned is stood upright: none of them is copied as it is."""
    exif = Image.Exif()
    exif[0x0112] = 6  # turned: shown rotated 90° clockwise
    cases = [
        ("small.jpg", _gradient(64, 40), {"format": "JPEG"}, (64, 40), "RGB"),
        ("palette.png", _gradient(64, 40).convert("P"), {}, (64, 40), "RGBA"),
        ("turned.png", _gradient(64, 40), {"exif": exif}, (40, 64), "RGB"),
    ]
    for name, image, options, size, mode in cases:
        relpath = _save(tmp_path, name, image, **options)
        thumb = make_thumbnail(tmp_path, relpath, SIZE)
        assert thumb is not None, name
        data = (tmp_path / thumb).read_bytes()
        assert data != (tmp_path / relpath).read_bytes(), name
        with Image.open(io.BytesIO(data)) as made:
            assert (made.format, made.size, made.mode) == ("PNG", size, mode), name


def test_a_file_that_is_no_picture_gets_no_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "03_Renders").mkdir()
    (tmp_path / "03_Renders" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert make_thumbnail(tmp_path, "03_Renders/broken.png", SIZE) is None
    assert not (tmp_path / "05_Cache").exists()
