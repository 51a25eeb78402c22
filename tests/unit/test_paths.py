"""The one path resolver refuses every way out of a project and every name unsafe somewhere."""

from __future__ import annotations

import os
import shutil
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


def _resolved_the_long_way(root: Path, relpath: str) -> Path | None:
    """What `resolve_inside` answered when it resolved the whole path every time (None: refused)."""
    base = root.resolve()
    target = base.joinpath(*[p for p in relpath.split("/") if p])
    try:
        resolved = target.resolve()
    except RuntimeError:  # a loop of links
        return None
    return target if resolved == base or base in resolved.parents else None


def test_the_resolver_agrees_with_resolving_the_whole_path(tmp_path: Path) -> None:
    """Symlinks at every depth (in, out, to the root, chains, dangling, a loop), roots reached
    through a link and roots made after a first look: the answer is the full resolution's."""
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.txt").write_text("no")
    real_root = tmp_path / "real-root"
    (real_root / "a" / "b").mkdir(parents=True)
    (real_root / "a" / "b" / "f.png").write_bytes(b"x")
    os.symlink(real_root, tmp_path / "root-link")
    links = {
        "a/in": real_root / "a" / "b",
        "a/out": outside / "deep",
        "a/b/out-file.png": outside / "secret.txt",
        "up": real_root,
        "chain": real_root / "a" / "in",
        "chain-out": real_root / "a" / "out",
        "dangling": real_root / "nowhere" / "x",
        "dangling-out": outside / "nowhere",
        "loop1": real_root / "loop2",
        "loop2": real_root / "loop1",
        "rel-out": Path("..") / "outside",
    }
    for name, to in links.items():
        os.symlink(to, real_root / name)
    paths = [
        "a",
        "a/b/f.png",
        "a/b/new/deeper.png",
        "a/b/f.png/under-a-file",
        "a/in/f.png",
        "a/in/new.png",
        "a/out/x.png",
        "a/out",
        "a/b/out-file.png",
        "up/a/b/f.png",
        "up",
        "chain/f.png",
        "chain-out/y",
        "dangling",
        "dangling/z",
        "dangling-out",
        "loop1",
        "loop1/x",
        "rel-out/secret.txt",
        "nothing/here.png",
    ]
    for root in (real_root, tmp_path / "root-link", tmp_path / "later"):
        if root.name == "later":
            assert resolve_inside(root, "x.png") == root / "x.png"  # looked at before it exists
            shutil.copytree(real_root, root, symlinks=True)
        for relpath in paths:
            expected = _resolved_the_long_way(root, relpath)
            if expected is None:
                with pytest.raises(UnsafePath):
                    resolve_inside(root, relpath)
            else:
                assert resolve_inside(root, relpath) == expected, (root.name, relpath)
