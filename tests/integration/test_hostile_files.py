"""Uploads, downloads and commits that used to answer 500: each is now a 4xx or just works.

Names in any script upload as `curl -F` and Python clients send them; malformed multipart
bodies, absurd Range headers and commits of paths git cannot take get a clear JSON error, and
nothing half-written is ever listed or served.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from gms_lab.config import StudioConfig
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import ProjectCreate
from tests.conftest import Api
from tests.integration.test_files_api import leftovers, png, project  # noqa: F401 - fixture

NAMES = ["セット.png", "🎬 take.png", "café.png"]


def assets_in(folder: Path) -> list[str]:
    """The character files of the project in `folder`."""
    characters = folder / "01_Assets" / "Characters"
    return sorted(p.name for p in characters.iterdir() if p.name != ".gitkeep")


async def test_names_in_any_script_upload_as_requests_sends_them(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
) -> None:
    for name in NAMES:
        prepared = requests.Request(
            "POST", "http://studio/", files={"file": (name, png("olive"))}
        ).prepare()
        assert name.encode() in (prepared.body or b"")  # raw UTF-8 in the part header
        status, answer = await api.call(
            "POST",
            "projects/harbour/files",
            raw=prepared.body,
            headers={"Content-Type": prepared.headers["Content-Type"]},
            params={"category": "characters"},
        )
        assert status == 201, (name, answer)
        assert answer["assets"][0]["name"] == name
        assert (project / "01_Assets/Characters" / name).read_bytes() == png("olive")
    assert assets_in(project) == sorted(NAMES)
    assert leftovers(project) == []


async def test_names_in_any_script_upload_as_curl_sends_them(
    api: Api,  # serves the app on jp_http_port
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    project: Path,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    source = tmp_path / "still.png"
    source.write_bytes(png("navy"))
    for name in NAMES:
        # a thread: the server under test answers on this event loop meanwhile
        curl = await asyncio.to_thread(
            subprocess.run,
            [
                "curl",
                "-sS",
                "--max-time",
                "20",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                f"Authorization: token {token}",
                "-F",
                f"file=@{source};filename={name}",
                f"{base}gms/api/projects/harbour/files?category=characters",
            ],
            capture_output=True,
            check=False,
        )
        out, err = curl.stdout, curl.stderr
        assert out == b"201", (name, out, err)
    assert assets_in(project) == sorted(NAMES)


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a\rb.png"\r\n\r\n'
            b"data\r\n--zz--\r\n",
            "malformed",
        ),
        ("multipart/form-data; boundary=zz", b"no boundary anywhere in here", "malformed"),
        ("multipart/form-data", b"--zz\r\n\r\ndata\r\n--zz--\r\n", "without a boundary"),
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="cut.png"\r\n\r\n'
            b"half a file",
            "ended in the middle",
        ),
    ],
    ids=["cr-in-header", "no-boundary-in-body", "no-boundary-parameter", "cut-off"],
)
async def test_malformed_multipart_bodies_are_refused(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
    content_type: str,
    body: bytes,
    words: str,
) -> None:
    status, answer = await api.call(
        "POST",
        "projects/harbour/files",
        raw=body,
        headers={"Content-Type": content_type},
        params={"category": "characters"},
    )
    assert status == 400, answer
    assert words in answer["error"]["message"], answer
    assert assets_in(project) == [] and leftovers(project) == []


async def test_range_numbers_of_thousands_of_digits(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
) -> None:
    script = b"INT. HARBOUR - DAWN\n" * 10
    (project / "02_Source_Creative" / "dawn.fountain").write_bytes(script)
    url = "projects/harbour/files/02_Source_Creative/dawn.fountain"
    huge = "9" * 5000
    status, _ = await api.call("GET", url, headers={"Range": f"bytes={huge}-"})
    assert status == 416
    status, whole = await api.call("GET", url, headers={"Range": f"bytes=0-{huge}"})
    assert status == 206 and whole == script
    status, whole = await api.call("GET", url, headers={"Range": f"bytes=-{huge}"})
    assert status == 206 and whole == script


async def test_commit_of_paths_git_cannot_take(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
) -> None:
    (project / "02_Source_Creative" / "dawn [v2].fountain").write_text("INT. HARBOUR - DAWN")
    (project / "05_Cache" / "notes.txt").write_text("cached")
    cases = [
        (["02_Source_Creative/nope.fountain"], "not in the project", "missing", 409),
        (["05_Cache/notes.txt"], "ignored by git", "ignored", 409),
        (["06_Exports"], "ignored by git", "ignored", 409),
        (["04_Project_Files/nope/deeper.txt"], "not in the project", "missing", 409),
        (["../outside.txt"], "not in the project", "missing", 409),
    ]
    for paths, words, key, expected in cases:
        status, answer = await api.call(
            "POST", "projects/harbour/git/commit", {"message": "Dawn", "paths": paths}
        )
        assert status == expected, (paths, answer)
        assert words in answer["error"]["message"], answer
        assert answer["error"]["details"][key] == paths
    # a name that looks like a glob is taken literally
    status, commit = await api.call(
        "POST",
        "projects/harbour/git/commit",
        {"message": "Dawn", "paths": ["02_Source_Creative/dawn [v2].fountain"]},
    )
    assert status == 201, commit
    assert commit["files"] == ["02_Source_Creative/dawn [v2].fountain"]
    # a deleted file's path commits its deletion
    (project / "02_Source_Creative" / "dawn [v2].fountain").unlink()
    status, commit = await api.call(
        "POST",
        "projects/harbour/git/commit",
        {"message": "Cut", "paths": ["02_Source_Creative/dawn [v2].fountain"]},
    )
    assert status == 201, commit


async def test_commit_messages_git_cannot_take(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
) -> None:
    import git

    (project / "02_Source_Creative" / "dawn.fountain").write_text("INT. HARBOUR - DAWN")
    head = git.Repo(project).head.commit.hexsha
    # a NUL cannot go to git (it answered 500: the argument could not even be passed)
    for message in ("Dawn\u0000 scene", "\u0000"):
        status, answer = await api.call("POST", "projects/harbour/git/commit", {"message": message})
        assert status == 400 and answer["error"]["code"] == "invalid_input", answer
        assert "NUL" in answer["error"]["message"]
    status, answer = await api.call("POST", "projects/harbour/git/commit", {"message": " \n "})
    assert status == 400, answer
    assert git.Repo(project).head.commit.hexsha == head  # nothing was committed
    # a line that starts with '#' is the user's text, kept (git's default clean-up drops it)
    status, commit = await api.call(
        "POST", "projects/harbour/git/commit", {"message": "#12 dawn\n\n# take 3 chosen"}
    )
    assert status == 201, commit
    assert git.Repo(project).head.commit.message.strip() == "#12 dawn\n\n# take 3 chosen"


@pytest.fixture
def crashed_upload(workspace: Path) -> Path:
    """A project where a server died mid-upload: partial files in its upload area."""
    core = StudioCore(StudioConfig.from_env({"workspace": workspace}, env={}))
    core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR)
    uploads = workspace / "Projects" / "harbour" / "05_Cache" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "upload-0123456789abcdef.part").write_bytes(b"half a hero")  # older servers
    (uploads / ".upload-fedcba9876543210.part").write_bytes(b"half a song")
    (workspace / "Projects" / "harbour" / ".project.json.4242.0badf00d.tmp").write_text("{")
    return workspace / "Projects" / "harbour"


async def test_partial_files_of_a_crash_are_gone_after_restart(
    crashed_upload: Path, api: Api
) -> None:
    # the server under test started after the "crash": it swept what was left
    assert leftovers(crashed_upload) == []
    assert not list(crashed_upload.glob(".*.tmp"))
    status, files = await api.call("GET", "projects/harbour/files")
    assert status == 200
    assert not [f for f in files["files"] if f["path"].endswith((".part", ".tmp"))]


async def test_partial_uploads_are_never_listed_or_served(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
) -> None:
    uploads = project / "05_Cache" / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "upload-0123456789abcdef.part").write_bytes(b"half a hero")
    status, files = await api.call("GET", "projects/harbour/files")
    assert not [f for f in files["files"] if f["path"].endswith(".part")], files
    status, answer = await api.call(
        "GET", "projects/harbour/files/05_Cache/uploads/upload-0123456789abcdef.part"
    )
    assert status == 404, answer
    status, answer = await api.call(
        "GET", "projects/harbour/files/05_Cache/uploads/.upload-0123456789abcdef.part"
    )
    assert status in (400, 404), answer


async def test_listings_show_links_out_of_the_project_without_following_them(
    api: Api,
    project: Path,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the studio's business" * 100)
    source = project / "02_Source_Creative"
    (source / "secret.txt").symlink_to(outside / "secret.txt")
    (source / "away").symlink_to(outside)
    (source / "gone.txt").symlink_to(tmp_path / "nothing-here")
    (source / "dawn.fountain").write_text("INT. HARBOUR - DAWN")
    (source / "dawn-link.fountain").symlink_to("dawn.fountain")  # inside: a file like any
    (project / "01_Assets" / "Characters" / "hero.png").symlink_to(outside / "secret.txt")
    os.mkdir(source / "raw")
    (source / "raw" / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")  # not UTF-8

    status, listing = await api.call(
        "GET", "projects/harbour/files", params={"under": "02_Source_Creative"}
    )
    assert status == 200, listing
    rows = {f["path"].removeprefix("02_Source_Creative/"): f for f in listing["files"]}
    for name in ("secret.txt", "away", "gone.txt"):
        assert rows[name]["kind"] == "symlink" and rows[name]["size"] == 0, rows[name]
    assert rows["dawn-link.fountain"]["kind"] == "document"
    assert rows["dawn-link.fountain"]["size"] == len("INT. HARBOUR - DAWN")
    assert "away/secret.txt" not in rows  # never walked into
    assert "raw" in rows and not [r for r in rows if r.startswith("raw/")]
    status, assets = await api.call("GET", "projects/harbour/assets")
    assert status == 200 and assets["categories"]["characters"] == []
    status, answer = await api.call("GET", "projects/harbour/files/02_Source_Creative/secret.txt")
    assert status == 404 and answer["error"]["code"] == "not_found"
    assert str(tmp_path) not in json.dumps(listing) + json.dumps(answer)
