"""A careless or hostile client gets a clear 4xx, and nothing it sent is written.

Free-form JSON (a shot's properties, the canvas, a task's parameters, WebSocket messages) is
read within limits before anything is written, so no request can make a project unreadable;
a manifest that is damaged anyway is shown as damaged, never hidden.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gms_lab.core.limits import whole_number
from tests.conftest import Api
from tests.integration.test_generation import make_shot, open_socket

LIMITS = {"max_json_bytes": 256 * 1024, "json_max_keys": 200, "json_max_string": 2000}


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    return LIMITS


def nested(depth: int, leaf: str = "1") -> str:
    """JSON text of objects nested `depth` deep (built as text: too deep for json.dumps)."""
    return '{"a":' * depth + leaf + "}" * depth


async def version_of(api: Api, pid: str) -> int:
    status, project = await api.call("GET", f"projects/{pid}")
    assert status == 200, project
    return int(project["version"])


async def test_deeply_nested_properties_are_refused_and_the_project_stays_readable(
    api: Api,
) -> None:
    pid, _, [shot] = await make_shot(api)
    before = await version_of(api, pid)
    for inner in (nested(195), nested(250), '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"):
        body = '{"properties":' + inner + "}"
        status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", raw=body.encode())
        assert status == 400, (body[:40], answer)
        assert answer["error"]["code"] == "invalid_input"
        assert "nest" in answer["error"]["message"], answer
    # the same through the canvas and a new shot's properties
    status, answer = await api.call(
        "PATCH", f"projects/{pid}", raw=('{"canvas":{"nodes":[' + nested(60) + "]}}").encode()
    )
    assert status == 400 and "deeper than 32" in answer["error"]["message"], answer
    # nothing was written, and the project reads and lists as before
    assert await version_of(api, pid) == before
    status, listing = await api.call("GET", "projects")
    assert [p["id"] for p in listing["projects"]] == [pid]
    # a sensible depth is fine
    status, node = await api.call(
        "PATCH", f"projects/{pid}/nodes/{shot}", raw=('{"properties":' + nested(20) + "}").encode()
    )
    assert status == 200, node


async def test_values_json_cannot_hold_are_refused(api: Api) -> None:
    pid, _, [shot] = await make_shot(api)
    before = await version_of(api, pid)
    cases = [
        ('{"properties":{"a":NaN}}', "not valid JSON"),
        ('{"properties":{"a":Infinity}}', "not valid JSON"),
        ('{"properties":{"a":1e999}}', "not a JSON number"),
        ('{"properties":{"a":' + "7" * 5000 + "}}", "out of range"),
        ('{"properties":{"a":' + "7" * 30 + "}}", "beyond 64 bits"),
        ('{"properties":{"a":"\\ud800"}}', "not valid JSON"),
        ('{"properties":{"\\ud800x":"a"}}', "not valid JSON"),
        ('{"properties":{"a":"\\udc00"}}', "surrogate"),
    ]
    for body, words in cases:
        status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", raw=body.encode())
        assert status == 400, (body[:40], answer)
        assert words in answer["error"]["message"], (body[:40], answer)
    assert await version_of(api, pid) == before


async def test_json_bodies_have_a_size_limit(api: Api) -> None:
    pid, _, [shot] = await make_shot(api)
    before = await version_of(api, pid)
    huge_canvas = {"canvas": {"nodes": [{"label": "x" * 1000} for _ in range(300)]}}
    status, answer = await api.call("PATCH", f"projects/{pid}", huge_canvas)
    assert status == 413, answer
    assert answer["error"]["code"] == "too_large"
    assert answer["error"]["details"]["limit"] == LIMITS["max_json_bytes"]
    # too many keys, too long a string: 413 as well
    many = {"properties": {f"k{i}": i for i in range(300)}}
    status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", many)
    assert status == 413 and "object keys" in answer["error"]["message"], answer
    long = {"properties": {"script": "y" * 3000}}
    status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", long)
    assert status == 413 and "3,000 characters" in answer["error"]["message"], answer
    assert await version_of(api, pid) == before


async def test_task_parameters_are_checked_before_anything_is_queued(api: Api) -> None:
    pid, _, [shot] = await make_shot(api)
    before = await version_of(api, pid)

    def submit(pipeline: str, node: str, parameters: str) -> bytes:
        return (
            f'{{"projectId":"{pid}","nodeId":"{node}","pipeline":"{pipeline}",'
            f'"parameters":{parameters}}}'
        ).encode()

    cases = [
        ("still", shot, '{"scale":NaN}', 400),
        ("still", shot, '{"seed":' + "9" * 5000 + "}", 400),
        ("still", shot, '{"prompt":"\\ud800"}', 400),
        ("still", shot, '{"prompt":' + nested(100, '"x"') + "}", 400),
        ("thumbnail", "project.json", '{"size":"abc"}', 400),
        ("thumbnail", "project.json", '{"size":[1]}', 400),
        ("thumbnail", "project.json", '{"size":Infinity}', 400),
        ("thumbnail", "project.json", '{"size":1e999}', 400),
    ]
    for pipeline, node, parameters, expected in cases:
        status, answer = await api.call(
            "POST", "tasks/submit", raw=submit(pipeline, node, parameters)
        )
        assert status == expected, (parameters[:40], answer)
        assert answer["error"]["message"], answer
    status, listing = await api.call("GET", "tasks", params={"projectId": pid})
    assert status == 200 and listing["tasks"] == []
    assert await version_of(api, pid) == before  # no phantom take


async def test_a_project_name_needs_visible_text(api: Api, workspace: Path) -> None:
    for name in ("\u0000", "\u0001\u0002", " \t\n ", "Harbour\u0000", "\u200b"):
        status, answer = await api.call("POST", "projects", {"name": name})
        assert status == 400, (name, answer)
        assert "name" in answer["error"]["message"], answer
    assert not [p for p in (workspace / "Projects").iterdir() if not p.name.startswith(".")]
    status, project = await api.call("POST", "projects", {"name": "港口"})
    assert status == 201, project
    status, answer = await api.call("PATCH", f"projects/{project['id']}", {"name": "\u0007"})
    assert status == 400, answer


async def test_a_chapter_scene_or_shot_name_needs_visible_text(api: Api) -> None:
    """Node names go into commit messages (a NUL there made every later auto-commit of the
    project fail), exports and file names: the same rule as project names."""
    status, project = await api.call("POST", "projects", {"name": "Quay"})
    assert status == 201, project
    pid = project["id"]
    before = await version_of(api, pid)
    for name in ("\u0000", "Dawn\u0000", "Act 1\nAct 2", " \t ", "\u200b"):
        status, answer = await api.call(
            "POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": name}
        )
        assert status == 400 and "name" in answer["error"]["message"], (name, answer)
    assert await version_of(api, pid) == before  # nothing was written
    status, chapter = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "  Act 1 "}
    )
    assert status == 201 and chapter["name"] == "Act 1", chapter
    status, answer = await api.call(
        "PATCH", f"projects/{pid}/nodes/{chapter['id']}", {"name": "Act\u00001"}
    )
    assert status == 400, answer


async def test_numbers_in_other_scripts_digits_are_not_numbers(api: Api) -> None:
    """'²' is a digit to `str.isdigit`, not to `int`: a `limit` of it answered 500."""
    status, project = await api.call("POST", "projects", {"name": "Quay"})
    assert status == 201, project
    pid = project["id"]
    for limit in ("²", "①", "٣", "99999999999999999999999999", "-1", "1e3"):
        query = {"limit": limit}
        status, log = await api.call("GET", f"projects/{pid}/git/log", params=query)
        assert status == 200 and len(log["commits"]) == 1, (limit, log)  # the default
        query["projectId"] = pid
        status, answer = await api.call("GET", "tasks", params=query)
        assert status == 400 and "limit" in answer["error"]["message"], (limit, answer)
    assert whole_number("²") is None and whole_number("0042") == 42
    assert whole_number("9" * 19) is None and whole_number("9" * 19, digits=30) == int("9" * 19)


async def test_a_number_is_a_json_number_not_true_or_text(api: Api) -> None:
    """`"fps": true` made a project of 1 fps (the fuzzer's find); "24" was read as 24. Both are
    400s now, and nothing is written; an integer still does where a float is asked for."""
    for bad in (True, "24", None, [24]):
        status, answer = await api.call(
            "POST", "projects", {"name": "Pier", "settings": {"fps": bad}}
        )
        assert status == 400 and "fps" in answer["error"]["message"], (bad, answer)
    status, listed = await api.call("GET", "projects")
    assert status == 200 and not listed["projects"], listed
    status, project = await api.call(
        "POST",
        "projects",
        {"name": "Pier", "settings": {"fps": 25, "resolution": {"width": 960, "height": 540}}},
    )
    assert status == 201 and project["settings"]["fps"] == 25.0, project
    pid = project["id"]
    version = await version_of(api, pid)
    for body in (
        {"settings": {"resolution": {"width": True, "height": 540}}},
        {"settings": {"resolution": {"width": "960", "height": 540}}},
        {"settings": {"resolution": {"width": 960.0, "height": 540}}},
    ):
        status, answer = await api.call("PATCH", f"projects/{pid}", body)
        assert status == 400 and "width" in answer["error"]["message"], (body, answer)
    status, chapter = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "A"}
    )
    assert status == 201, chapter
    status, scene = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "scene", "parentId": chapter["id"], "name": "B"}
    )
    assert status == 201, scene
    shot = {"kind": "shot", "parentId": scene["id"], "name": "C"}
    for body in ({**shot, "index": True}, {**shot, "duration": "3"}, {**shot, "duration": True}):
        status, answer = await api.call("POST", f"projects/{pid}/nodes", body)
        assert status == 400, (body, answer)
    status, made = await api.call(
        "POST", f"projects/{pid}/nodes", {**shot, "index": 0, "duration": 4}
    )
    assert status == 201 and made["node"]["duration"] == 4.0, made
    version = await version_of(api, pid)
    for body in ({"duration": True}, {"duration": "5"}, {"index": "0"}, {"index": 0.0}):
        status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{made['id']}", body)
        assert status == 400, (body, answer)
    assert await version_of(api, pid) == version


async def test_a_damaged_manifest_is_shown_not_hidden(
    api: Api, workspace: Path, jp_ws_fetch: Any
) -> None:
    pid, _, [shot] = await make_shot(api)
    status, _ = await api.call("POST", "projects", {"name": "Lighthouse"})
    manifest = workspace / "Projects" / pid / "project.json"
    # damaged by hand (or by an old version of the studio): nested past what the reader takes
    manifest.write_text(nested(300))

    status, listing = await api.call("GET", "projects")
    assert status == 200
    rows = {p["id"]: p for p in listing["projects"]}
    assert set(rows) == {pid, "lighthouse"}
    assert rows["lighthouse"]["damaged"] is None
    damaged = rows[pid]["damaged"]
    assert damaged["path"] == "project.json"
    assert "recursion limit" in damaged["reason"], damaged

    status, answer = await api.call("GET", f"projects/{pid}")
    assert status == 409, answer
    error = answer["error"]
    assert error["code"] == "project_damaged"
    assert error["details"]["path"] == "project.json" and error["details"]["projectId"] == pid
    assert "cannot be read" in error["message"] and str(workspace) not in error["message"]
    status, answer = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", {"name": "Wide"})
    assert status == 409 and answer["error"]["code"] == "project_damaged"
    # its name is taken, and the answer says why
    status, answer = await api.call("POST", "projects", {"name": pid})
    assert status == 409 and "cannot be read" in answer["error"]["message"], answer
    # a live client is told too
    conn = await jp_ws_fetch("gms", "ws", pid)
    event = json.loads(await conn.read_message())
    assert event["type"] == "error" and event["code"] == "project_damaged"
    # and it can still be deleted (to the trash), with the version the list shows
    status, answer = await api.call("DELETE", f"projects/{pid}", headers={"If-Match": "0"})
    assert status == 200, answer
    status, listing = await api.call("GET", "projects")
    assert [p["id"] for p in listing["projects"]] == ["lighthouse"]


async def test_websocket_messages_are_read_within_the_limits(api: Api, jp_ws_fetch: Any) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    hostile = [
        '{"type":"ping","time":' + "1" * 5000 + "}",
        '{"type":"start_generation","nodeId":"x","nodeType":"still","parameters":{"a":'
        + "1" * 5000
        + "}}",
        "[" * 100_000,
        '{"type":"ping","time":NaN}',
        '{"type":"panel_resize","panel":"a","size":1e999}',
        '{"type":"selection_change","selection":["\\ud800"]}',
        '{"type":"selection_change","selection":' + nested(40, "[]") + "}",
        '{"type":"start_generation","nodeId":"' + shot + '","nodeType":"still",'
        '"parameters":{"prompt":"' + "z" * 3000 + '"}}',
        json.dumps({"type": "ping", "pad": ["p" * 1000] * 300}),
    ]
    for message in hostile:
        socket.conn.write_message(message)
        error = await socket.until("error")
        assert error["code"] in ("bad_message", "too_large"), (message[:40], error)
    socket.send({"type": "ping", "time": 2.5})
    assert (await socket.until("pong"))["time"] == 2.5  # still connected
