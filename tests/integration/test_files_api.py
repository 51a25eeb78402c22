"""Assets arrive by streamed upload, leave by ranged download, and never escape the project."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gms_lab.config import StudioConfig
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import ProjectCreate
from tests.conftest import Api

LIMIT = 2 * 1024 * 1024


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    return {"max_upload_bytes": LIMIT}


def png(colour: str = "teal", size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def multipart(files: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    boundary = "gms-boundary-7d1f"
    out = io.BytesIO()
    for name, data in files:
        out.write(f"--{boundary}\r\n".encode())
        out.write(
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


@pytest.fixture
def project(jp_serverapp: Any, workspace: Path) -> Path:
    """Project "Harbour", made by the same core services the server uses."""
    core = StudioCore(StudioConfig.from_env({"workspace": workspace}, env={}))
    core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR)
    return workspace / "Projects" / "harbour"


def leftovers(project: Path) -> list[Path]:
    uploads = project / "05_Cache" / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


async def test_upload_raw_then_list_and_download(api: Api, project: Path) -> None:
    data = png()
    status, body = await api.call(
        "POST",
        "projects/harbour/files",
        raw=data,
        params={"category": "characters", "name": "hero.png"},
    )
    assert status == 201, body
    [asset] = body["assets"]
    assert asset["path"] == "01_Assets/Characters/hero.png"
    assert asset["category"] == "characters" and asset["kind"] == "image"
    assert asset["size"] == len(data)
    assert (project / "01_Assets/Characters/hero.png").read_bytes() == data

    # the same name again is not overwritten
    status, body = await api.call(
        "POST",
        "projects/harbour/files",
        raw=png("red"),
        params={"category": "Characters", "name": "hero.png"},
    )
    assert status == 201 and body["assets"][0]["name"] == "hero-2.png"
    assert (project / "01_Assets/Characters/hero.png").read_bytes() == data

    status, listing = await api.call("GET", "projects/harbour/assets")
    assert status == 200
    assert set(listing["categories"]) == {"locations", "characters", "music", "styles"}
    names = [a["name"] for a in listing["categories"]["characters"]]
    assert names == ["hero-2.png", "hero.png"]
    assert listing["categories"]["locations"] == []

    url = asset["url"]
    assert url == "gms/api/projects/harbour/files/01_Assets/Characters/hero.png"
    status, got = await api.call("GET", url.removeprefix("gms/api/"))
    assert status == 200 and got == data
    status, part = await api.call(
        "GET", url.removeprefix("gms/api/"), headers={"Range": "bytes=10-19"}
    )
    assert status == 206 and part == data[10:20]
    status, tail = await api.call(
        "GET", url.removeprefix("gms/api/"), headers={"Range": "bytes=-5"}
    )
    assert status == 206 and tail == data[-5:]
    status, body = await api.call(
        "GET", url.removeprefix("gms/api/"), headers={"Range": f"bytes={len(data) + 10}-"}
    )
    assert status == 416
    status, body = await api.call("GET", "projects/harbour/files/01_Assets/Characters/nope.png")
    assert status == 404 and body["error"]["code"] == "not_found"

    status, files = await api.call("GET", "projects/harbour/files", params={"under": "01_Assets"})
    paths = [f["path"] for f in files["files"]]
    assert "01_Assets/Characters/hero.png" in paths and "01_Assets/Music" in paths
    assert not any("/." in p for p in paths)


async def test_multipart_upload_of_several_files(api: Api, project: Path) -> None:
    ctype, body = multipart([("a.png", png("red")), ("b.png", png("blue")), ("song.wav", b"RIFF")])
    status, answer = await api.call(
        "POST",
        "projects/harbour/files",
        raw=body,
        headers={"Content-Type": ctype},
        params={"category": "locations"},
    )
    assert status == 201, answer
    assert [a["name"] for a in answer["assets"]] == ["a.png", "b.png", "song.wav"]
    assert (project / "01_Assets/Locations/b.png").read_bytes() == png("blue")
    assert leftovers(project) == []


async def test_upload_to_a_path_and_into_a_folder(api: Api, project: Path) -> None:
    status, answer = await api.call(
        "POST",
        "projects/harbour/files",
        raw=b"INT. HARBOUR - DAWN",
        params={"path": "02_Source_Creative/scripts/dawn.fountain"},
    )
    assert status == 201, answer
    assert (project / "02_Source_Creative/scripts/dawn.fountain").is_file()
    status, answer = await api.call(
        "POST",
        "projects/harbour/files",
        raw=png(),
        params={"category": "styles", "name": "moodboard/fog.png"},
    )
    assert status == 201 and answer["assets"][0]["folder"] == "moodboard"


@pytest.mark.parametrize(
    "params",
    [
        {"category": "characters", "name": "../escape.png"},
        {"category": "characters", "name": "../../../../escape.png"},
        {"category": "characters", "name": "/etc/escape.png"},
        {"category": "characters", "name": "C:/escape.png"},
        {"category": "characters", "name": "a\\..\\escape.png"},
        {"category": "characters", "name": "nul\x00.png"},
        {"category": "characters", "name": "tab\t.png"},
        {"category": "characters", "name": ".hidden.png"},
        {"category": "characters", "name": "CON.png"},
        {"category": "characters", "name": "what?.png"},
        {"category": "villains", "name": "x.png"},
        {"category": "characters"},
        {"path": "../outside.png"},
        {"path": "/tmp/outside.png"},
        {"path": ".git/config"},
        {"path": "project.json"},
        {"path": "05_Cache/thumbnails/x.png"},
        {"path": "01_Assets/link/escape.png"},
        {},
    ],
)
async def test_bad_upload_targets_are_refused(
    api: Api, project: Path, tmp_path: Path, params: dict[str, str]
) -> None:
    outside = tmp_path / "outside-dir"
    outside.mkdir(exist_ok=True)
    (project / "01_Assets" / "link").symlink_to(outside)
    before = sorted(p for p in project.rglob("*") if ".git/" not in str(p))
    status, body = await api.call("POST", "projects/harbour/files", raw=b"data", params=params)
    assert status == 400, (params, body)
    assert body["error"]["code"] in ("unsafe_path", "invalid_input")
    assert sorted(p for p in project.rglob("*") if ".git/" not in str(p)) == before
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.png").exists()


async def test_bad_download_paths_are_refused(api: Api, project: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (project / "02_Source_Creative" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    for path in (
        "..%2F..%2Fsecret.txt",
        "02_Source_Creative/leak.txt",
        ".git/config",
        "%2Fetc%2Fpasswd",
    ):
        status, body = await api.call("GET", f"projects/harbour/files/{path}")
        assert status in (400, 404), path
        assert b"secret" not in (body if isinstance(body, bytes) else b"")


async def test_upload_over_the_limit_is_413_and_leaves_nothing(api: Api, project: Path) -> None:
    big = b"x" * (LIMIT + 1)
    status, body = await api.call(
        "POST", "projects/harbour/files", raw=big, params={"category": "music", "name": "big.wav"}
    )
    assert status == 413 and body["error"]["code"] == "too_large"
    assert list((project / "01_Assets/Music").iterdir()) == [project / "01_Assets/Music/.gitkeep"]
    assert leftovers(project) == []
    # chunked (no Content-Length): counted as it streams
    ctype, body_bytes = multipart([("big.wav", big)])
    status, body = await api.call(
        "POST",
        "projects/harbour/files",
        raw=body_bytes,
        headers={"Content-Type": ctype},
        params={"category": "music"},
    )
    assert status == 413
    assert leftovers(project) == []


async def test_cut_off_upload_leaves_nothing(
    project: Path,
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    path = f"{jp_base_url}gms/api/projects/harbour/files?category=characters&name=cut.png"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {LIMIT}\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n"
    )
    writer.write(head.encode() + b"y" * (LIMIT // 2))
    await writer.drain()
    uploads = project / "05_Cache" / "uploads"
    deadline = time.monotonic() + 10
    while not (uploads.exists() and list(uploads.iterdir())) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert list(uploads.iterdir()), "the upload should be in progress as a temp file"
    writer.close()
    await writer.wait_closed()
    deadline = time.monotonic() + 10
    while leftovers(project) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert leftovers(project) == []
    assert not (project / "01_Assets/Characters/cut.png").exists()


async def test_assets_renamed_moved_and_foldered_refuse_bad_requests_and_change_nothing(
    api: Api, project: Path, tmp_path: Path
) -> None:
    for name, colour in (("mara.png", "peru"), ("tom.png", "navy")):
        status, _ = await api.call(
            "POST",
            "projects/harbour/files",
            raw=png(colour),
            params={"category": "characters", "name": name},
        )
        assert status in (200, 201)
    (tmp_path / "outside").mkdir()
    (project / "01_Assets" / "Characters" / "away").symlink_to(tmp_path / "outside")
    mara = "01_Assets/Characters/mara.png"

    def files() -> list[str]:
        return sorted(
            p.relative_to(project).as_posix()
            for p in project.rglob("*")
            if ".git" not in p.parts and "05_Cache" not in p.parts
        )

    before = files()
    bad: list[tuple[str, str, dict[str, Any], tuple[int, ...]]] = [
        ("PATCH", mara, {"name": "../../escape.png"}, (400,)),
        ("PATCH", mara, {"name": "a/b.png"}, (400,)),
        ("PATCH", mara, {"name": ""}, (400,)),
        ("PATCH", mara, {"name": "tom.png"}, (409,)),
        ("PATCH", mara, {"category": "nowhere"}, (400,)),
        ("PATCH", mara, {"folder": "../../../.."}, (400,)),
        ("PATCH", mara, {"folder": "away"}, (400, 403)),
        ("PATCH", mara, {"colour": "red"}, (400,)),
        ("PATCH", "01_Assets/Characters/nobody.png", {"name": "x.png"}, (404,)),
        ("PATCH", "..%2F..%2Fescape.png", {"name": "x.png"}, (400, 404)),
        ("PATCH", "project.json", {"name": "x.json"}, (400, 404)),
        ("DELETE", "01_Assets/Characters/nobody.png", {}, (404,)),
        ("DELETE", "project.json", {}, (400, 404)),
    ]
    for method, path, body, wanted in bad:
        status, answer = await api.call(
            method, f"projects/harbour/assets/{path}", body if method == "PATCH" else None
        )
        assert status in wanted, (method, path, body, status, answer)
        assert answer["error"]["message"], answer
    for body in (
        {"category": "characters", "folder": "../escape"},
        {"category": "characters", "folder": ""},
        {"category": "nowhere", "folder": "x"},
        {"category": "characters", "folder": "away/inside"},
    ):
        status, answer = await api.call("POST", "projects/harbour/assets/folders", body)
        assert status in (400, 403, 409), (body, status, answer)
    assert files() == before
    assert list((tmp_path / "outside").iterdir()) == []

    # the same requests, well formed, do what they say
    status, folder = await api.call(
        "POST", "projects/harbour/assets/folders", {"category": "characters", "folder": "Crew"}
    )
    assert status == 201 and folder["path"] == "01_Assets/Characters/Crew", folder
    status, moved = await api.call(
        "PATCH", f"projects/harbour/assets/{mara}", {"name": "mara-v2.png", "folder": "Crew"}
    )
    assert status == 200 and moved["path"] == "01_Assets/Characters/Crew/mara-v2.png", moved
    assert (project / moved["path"]).read_bytes() == png("peru")


async def test_a_download_says_the_files_own_type_even_when_it_is_empty(
    api: Api, jp_fetch: Any, project: Path
) -> None:
    """Jupyter's API handler makes a header JSON when it finishes: an empty file, or any HEAD,
    answered `application/json` (found by the API fuzz run)."""
    files = {"notes.txt": b"", "blank": b"", "hero.png": png(), "hero.json": b"{}"}
    for name, data in files.items():
        status, body = await api.call(
            "POST", "projects/harbour/files", raw=data, params={"path": name}
        )
        assert status == 201, body
    wanted = {
        "notes.txt": "text/plain",
        "blank": "application/octet-stream",
        "hero.png": "image/png",
        "hero.json": "application/json",
    }
    for name, ctype in wanted.items():
        for method in ("GET", "HEAD"):
            response = await jp_fetch(
                "gms", "api", "projects", "harbour", "files", name, method=method
            )
            assert response.code == 200
            assert response.headers["Content-Type"].split(";")[0] == ctype, (name, method)
            assert response.headers["Content-Length"] == str(len(files[name]))
