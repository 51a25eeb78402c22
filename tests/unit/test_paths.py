"""The one path resolver refuses every way out of a project and every name unsafe somewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gms_lab.core.errors import UnsafePath
from gms_lab.core.paths import check_name, public_text, resolve_inside, slug_for


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "..",
        "../outside.png",
        "a/../../outside.png",
        "/etc/passwd",
        "C:/Windows/x.png",
        "c:x.png",
        "a\\b.png",
        "nul\x00.png",
        "bell\x07.png",
        "line\nbreak.png",
        ".hidden",
        "folder/.git/config",
        "CON",
        "con.png",
        "Lpt1.txt",
        "aux",
        "what?.png",
        "star*.png",
        "pipe|.png",
        'quote".png',
        "trailing.",
        "trailing ",
        "x" * 300,
    ],
)
def test_bad_paths_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafePath):
        resolve_inside(tmp_path, bad)


def test_good_paths_resolve_inside(tmp_path: Path) -> None:
    target = resolve_inside(tmp_path, "01_Assets/Characters/héro 1.png")
    assert target == tmp_path.resolve() / "01_Assets" / "Characters" / "héro 1.png"
    assert resolve_inside(tmp_path, "./a//b.png") == tmp_path.resolve() / "a" / "b.png"


def test_symlink_leaving_the_project_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "escape")
    os.symlink(outside / "secret.txt", root / "file-link.txt")
    with pytest.raises(UnsafePath):
        resolve_inside(root, "escape/new.png")
    with pytest.raises(UnsafePath):
        resolve_inside(root, "file-link.txt")
    # a symlink that stays inside is fine
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    assert resolve_inside(root, "alias/x.png").parent.resolve() == (root / "real").resolve()


def test_names_are_nfc_normalised() -> None:
    decomposed = "e\u0301tude.png"
    assert check_name(decomposed) == "\u00e9tude.png"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Harbour", "harbour"),
        ("The Harbour: Act I?", "the-harbour-act-i"),
        ("Über Straße", "uber-strasse"),
        ("港口", "gang-kou"),
        ("CON", "con-project"),
        ("!!!", "project"),
        ("a" * 200, "a" * 64),
    ],
)
def test_slugs_are_safe_everywhere(name: str, slug: str) -> None:
    assert slug_for(name) == slug
    check_name(slug_for(name))


def test_public_text_shows_no_server_path(tmp_path: Path) -> None:
    root = tmp_path / "Projects" / "harbour"
    text = (
        f'cannot write {root}/03_Renders/a.png: File "/usr/lib/python3.11/json/decoder.py", '
        f"line 3 in {tmp_path}/x; see http://localhost:8888/lab and 1/2 of {root}"
    )
    shown = public_text(text, root)
    assert "03_Renders/a.png" in shown and '"decoder.py"' in shown
    assert str(tmp_path) not in shown and "/usr/" not in shown
    assert "http://localhost:8888/lab" in shown and "1/2" in shown
    assert shown.endswith("of .")
