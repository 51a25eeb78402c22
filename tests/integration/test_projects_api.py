"""A user drives projects and their hierarchy through the REST API of a real Jupyter server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gms_lab.core.vcs import stable_author
from tests.conftest import Api


async def test_workspace_is_scaffolded_and_reports_health(api: Api, workspace: Path) -> None:
    status, config = await api.call("GET", "workspace/config")
    assert status == 200
    assert config["workspace"] == str(workspace.resolve())
    assert config["qualities"] == ["low", "standard", "high"]
    assert config["categories"] == ["locations", "characters", "music", "styles"]
    assert config["health"]["git"]["ok"] and config["health"]["gitLfs"]["ok"]
    assert config["health"]["gitLfs"]["version"].startswith("git-lfs/")
    for name in (
        "Pipeline_Templates",
        "Stock_Media",
        "Characters",
        "Styles",
        "Locations",
        "AI_Models",
    ):
        assert (workspace / "Library" / name).is_dir()
    assert (workspace / "Projects").is_dir()


async def test_create_read_list_update_delete(api: Api, workspace: Path) -> None:
    status, project = await api.call("POST", "projects", {"name": "Harbour", "quality": "high"})
    assert status == 201, project
    assert project["id"] == "harbour" and project["quality"] == "high"
    assert project["version"] == 1 and project["chapters"] == []
    assert project["settings"] == {"fps": 24.0, "resolution": {"width": 1280, "height": 720}}
    folder = workspace / "Projects" / "harbour"
    for sub in (
        "01_Assets/Locations",
        "01_Assets/Characters",
        "01_Assets/Music",
        "01_Assets/Styles",
        "02_Source_Creative",
        "03_Renders",
        "04_Project_Files",
        "05_Cache",
        "06_Exports",
    ):
        assert (folder / sub).is_dir(), sub
    on_disk = json.loads((folder / "project.json").read_text())
    assert on_disk["id"] == "harbour" and "selectedTake" not in on_disk  # camelCase manifest

    status, listing = await api.call("GET", "projects")
    assert status == 200
    assert [p["id"] for p in listing["projects"]] == ["harbour"]

    status, body = await api.call("POST", "projects", {"name": "harbour"})
    assert status == 409 and body["error"]["code"] == "project_exists"

    status, body = await api.call(
        "PATCH",
        "projects/harbour",
        {"name": "Harbour Lights", "quality": "low"},
        headers={"If-Match": "1"},
    )
    assert status == 200 and body["name"] == "Harbour Lights" and body["version"] == 2
    assert body["id"] == "harbour"

    status, body = await api.call(
        "PATCH", "projects/harbour", {"quality": "standard"}, headers={"If-Match": "1"}
    )
    assert status == 409 and body["error"]["code"] == "version_conflict"
    assert body["error"]["details"] == {"current": 2, "expected": 1}

    status, body = await api.call("PATCH", "projects/harbour", {"settings": {"fps": 0}})
    assert status == 400 and body["error"]["code"] == "invalid_input"
    status, _ = await api.call("GET", "projects/harbour")
    assert status == 200

    status, body = await api.call("DELETE", "projects/harbour")
    assert status == 200 and body["deleted"] == "harbour" and body["trashId"].startswith("tr_")
    assert not folder.exists()
    status, body = await api.call("GET", "projects/harbour")
    assert status == 404 and body["error"]["code"] == "project_not_found"


async def test_unicode_names_make_safe_slugs(api: Api, workspace: Path) -> None:
    status, project = await api.call("POST", "projects", {"name": "港口 — Überfahrt"})
    assert status == 201
    assert project["name"] == "港口 — Überfahrt"
    assert project["id"] == "gang-kou-uberfahrt"
    assert (workspace / "Projects" / "gang-kou-uberfahrt" / "project.json").is_file()
    status, body = await api.call("POST", "projects", {"name": "CON"})
    assert status == 201 and body["id"] == "con-project"


async def test_bad_project_requests_get_clear_errors(api: Api, workspace: Path) -> None:
    cases = [
        ({"name": ""}, 400),
        ({"name": "x", "quality": "ultra"}, 400),
        ({"name": "x", "colour": "red"}, 400),
        ([1, 2], 400),
    ]
    for body, expected in cases:
        status, answer = await api.call("POST", "projects", body)
        assert status == expected, (body, answer)
        assert answer["error"]["message"]
    status, answer = await api.call("POST", "projects", raw=b"{not json")
    assert status == 400 and "JSON" in answer["error"]["message"]
    for bad_id in ("..", "nope", "%2E%2E", ".git"):
        status, answer = await api.call("GET", f"projects/{bad_id}")
        assert status == 404, bad_id
    assert list((workspace / "Projects").iterdir()) == []


async def test_hierarchy_of_chapters_scenes_shots(api: Api, workspace: Path) -> None:
    await api.call("POST", "projects", {"name": "Harbour"})
    status, ch = await api.call(
        "POST", "projects/harbour/nodes", {"kind": "chapter", "parentId": None, "name": "Act 1"}
    )
    assert status == 201 and ch["kind"] == "chapter" and ch["id"].startswith("ch_")
    status, sc = await api.call(
        "POST", "projects/harbour/nodes", {"kind": "scene", "parentId": ch["id"], "name": "Dawn"}
    )
    assert status == 201 and sc["parentId"] == ch["id"]
    shots = []
    for name in ("Wide", "Close", "Insert"):
        status, shot = await api.call(
            "POST",
            "projects/harbour/nodes",
            {"kind": "shot", "parentId": sc["id"], "name": name, "properties": {"lens": "35mm"}},
        )
        assert status == 201
        shots.append(shot)
    assert shots[0]["node"]["duration"] == 3.0
    assert shots[0]["node"]["properties"] == {"lens": "35mm"}

    # rename, change duration, reorder (Insert first)
    status, body = await api.call(
        "PATCH", f"projects/harbour/nodes/{shots[0]['id']}", {"name": "Wide est.", "duration": 4.5}
    )
    assert status == 200 and body["name"] == "Wide est." and body["node"]["duration"] == 4.5
    status, body = await api.call("PATCH", f"projects/harbour/nodes/{shots[2]['id']}", {"index": 0})
    assert status == 200 and body["index"] == 0
    _, project = await api.call("GET", "projects/harbour")
    order = [s["name"] for s in project["chapters"][0]["scenes"][0]["shots"]]
    assert order == ["Insert", "Wide est.", "Close"]
    ids_before = {s["id"] for s in project["chapters"][0]["scenes"][0]["shots"]}
    assert ids_before == {s["id"] for s in shots}

    # stale If-Match is refused
    status, body = await api.call(
        "PATCH",
        f"projects/harbour/nodes/{shots[1]['id']}",
        {"name": "x"},
        headers={"If-Match": "1"},
    )
    assert status == 409

    # wrong parents and unknown nodes
    status, body = await api.call(
        "POST", "projects/harbour/nodes", {"kind": "shot", "parentId": ch["id"], "name": "x"}
    )
    assert status == 400 and "scene" in body["error"]["message"]
    status, body = await api.call(
        "POST", "projects/harbour/nodes", {"kind": "scene", "parentId": None, "name": "x"}
    )
    assert status == 400
    status, body = await api.call("PATCH", "projects/harbour/nodes/sh_missing", {"name": "x"})
    assert status == 404 and body["error"]["code"] == "node_not_found"
    status, body = await api.call("PATCH", f"projects/harbour/nodes/{sc['id']}", {"duration": 2})
    assert status == 400

    # remove the scene with its shots
    status, body = await api.call("DELETE", f"projects/harbour/nodes/{sc['id']}")
    assert status == 200
    _, project = await api.call("GET", "projects/harbour")
    assert project["chapters"][0]["scenes"] == []


async def test_git_status_commit_log_as_the_signed_in_user(api: Api, workspace: Path) -> None:
    await api.call("POST", "projects", {"name": "Harbour"})
    folder = workspace / "Projects" / "harbour"
    status, body = await api.call("GET", "projects/harbour/git/status")
    assert status == 200 and body["clean"] and body["branch"] == "main" and body["lfs"]
    await api.call(
        "POST", "projects/harbour/nodes", {"kind": "chapter", "parentId": None, "name": "Act 1"}
    )
    status, body = await api.call("GET", "projects/harbour/git/status")
    assert [f["path"] for f in body["files"]] == ["project.json"]
    status, commit = await api.call("POST", "projects/harbour/git/commit", {"message": "Act 1"})
    assert status == 201 and commit["message"] == "Act 1"
    # a token login is a new random guest on every request ("Anonymous Sinope"…): commits are
    # by the studio's stable author instead (no setting here: git's configured identity)
    expected = stable_author()
    assert (commit["author"], commit["email"]) == (expected.name, expected.email)
    assert not commit["author"].startswith("Anonymous")
    author = subprocess.run(
        ["git", "log", "-1", "--format=%an"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert author == commit["author"]
    status, body = await api.call("POST", "projects/harbour/git/commit", {"message": "again"})
    assert status == 409 and body["error"]["code"] == "nothing_to_commit"
    status, body = await api.call("POST", "projects/harbour/git/commit", {"message": "  "})
    assert status == 400
    status, log = await api.call("GET", "projects/harbour/git/log")
    assert [c["message"] for c in log["commits"]] == ["Act 1", "Create project"]
    assert {c["author"] for c in log["commits"]} == {expected.name}  # one author, every request
