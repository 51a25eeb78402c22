"""Projects are git repositories whose media goes through git-lfs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from gms_lab.config import StudioConfig
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import Author, gitattributes
from gms_lab.models import ProjectCreate


@pytest.fixture
def core(tmp_path: Path) -> StudioCore:
    return StudioCore(StudioConfig.from_env({"workspace": tmp_path / "ws"}, env={}))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_new_project_is_a_repo_with_lfs_and_a_first_commit(core: StudioCore) -> None:
    assert core.health["git"].ok and core.health["gitLfs"].ok, core.health
    author = Author("Ada Lovelace", "ada@users.gms.local")
    core.projects.create(ProjectCreate(name="Harbour"), author)
    folder = core.workspace.project_dir("harbour")
    assert git(folder, "log", "--format=%an <%ae>|%s").strip() == (
        "Ada Lovelace <ada@users.gms.local>|Create project"
    )
    assert "filter.lfs.clean" in git(folder, "config", "--local", "--list")
    tracked = git(folder, "ls-files").split()
    assert "project.json" in tracked and ".gitattributes" in tracked
    assert "01_Assets/Characters/.gitkeep" in tracked
    ignored = (folder / ".gitignore").read_text()
    assert "/05_Cache/" in ignored and "/06_Exports/" in ignored


def test_committed_png_is_an_lfs_pointer(core: StudioCore) -> None:
    author = Author("Ada", "ada@users.gms.local")
    core.projects.create(ProjectCreate(name="Harbour"), author)
    folder = core.workspace.project_dir("harbour")
    Image.new("RGB", (64, 64), "teal").save(folder / "01_Assets/Characters/Hero.PNG")
    (folder / "05_Cache" / "junk.bin").write_bytes(b"cache")
    repo = core.projects.repo("harbour")
    status = repo.status()
    assert [f.path for f in status.files] == ["01_Assets/Characters/Hero.PNG"]
    sha = repo.commit("Add hero", author)
    assert sha
    blob = git(folder, "cat-file", "-p", "HEAD:01_Assets/Characters/Hero.PNG")
    assert blob.startswith("version https://git-lfs.github.com/spec/v1")
    assert repo.lfs_files() == ["01_Assets/Characters/Hero.PNG"]
    assert repo.status().clean
    assert repo.commit("Nothing", author) is None
    assert [c.message for c in repo.log()] == ["Add hero", "Create project"]


def test_gitattributes_cover_media_in_any_case() -> None:
    text = gitattributes()
    for ext in ("png", "exr", "mp4", "wav", "glb", "blend", "zip", "safetensors", "ckpt"):
        pattern = "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in ext)
        assert f"*.{pattern} filter=lfs diff=lfs merge=lfs -text" in text


def test_commits_have_a_stable_author_never_a_guest_name() -> None:
    """The setting wins; then git's identity; a token login's random guest is never used."""
    from types import SimpleNamespace

    from gms_lab.core.vcs import git_identity, stable_author
    from gms_lab.handlers.base import author_of

    config = StudioConfig.from_env({"author_name": "Harbour Films"}, env={})
    guest = SimpleNamespace(username="0f" * 16, name="Anonymous Sinope", display_name="")
    other_guest = SimpleNamespace(username="1e" * 16, name="Anonymous Hegemone", display_name="")
    first, second = author_of(guest, config), author_of(other_guest, config)
    assert first == second and first.name == "Harbour Films"
    by_env = StudioConfig.from_env(
        env={"GMS_AUTHOR_NAME": "Dawn Unit", "GMS_AUTHOR_EMAIL": "dawn@example.org"}
    )
    assert author_of(guest, by_env) == Author("Dawn Unit", "dawn@example.org")

    # without a setting: git's identity (configured on this machine), never the guest's name
    unset = StudioConfig.from_env(env={})
    name, _ = git_identity()
    assert author_of(guest, unset).name == (name or "Generative Media Studio")
    # a signed-in user with a real identity is used only when git has none
    ada = SimpleNamespace(username="ada", name="Ada Lovelace", display_name="Ada Lovelace")
    assert author_of(ada, unset) == stable_author(
        person=Author("Ada Lovelace", "ada@users.gms.local")
    )


def test_a_file_being_written_is_never_seen_or_committed_by_git(core: StudioCore) -> None:
    """An atomic write's temp file (there for the moment of a write) is not in the status and
    not staged by a commit of everything; projects made before the rule get it at their next
    status or commit."""
    author = Author("Ada", "ada@users.gms.local")
    core.projects.create(ProjectCreate(name="Harbour"), author)
    folder = core.workspace.project_dir("harbour")
    exclude = folder / ".git" / "info" / "exclude"
    assert ".*.tmp" in exclude.read_text().splitlines()
    exclude.write_text("# an older project\n")  # as a project made before the rule
    writing = [
        folder / ".project.json.4242.0badc0de.tmp",
        folder / "03_Renders" / ".x.1.ab12cd34.tmp",
    ]
    for path in writing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half of a file")
    Image.new("RGB", (8, 8), "teal").save(folder / "01_Assets/Characters/Hero.png")
    repo = core.projects.repo("harbour")
    assert [f.path for f in repo.status().files] == ["01_Assets/Characters/Hero.png"]
    lines = exclude.read_text().splitlines()  # added to what was there
    assert lines[0] == "# an older project" and lines[-1] == ".*.tmp"
    assert repo.commit("Add hero", author)
    tracked = git(folder, "ls-files").split()
    assert "01_Assets/Characters/Hero.png" in tracked
    assert not [p for p in tracked if p.endswith(".tmp")]
    repo.commit("Again", author)  # the rule is written once
    assert exclude.read_text().count(".*.tmp") == 1
