"""Deleting a project while others write to it: every answer is a 2xx or a 404/409, never a 5xx."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests import figures
from tests.conftest import Api


async def test_delete_racing_writes_answers_404_never_500(api: Api, workspace: Path) -> None:
    rounds, writers = 6, 40
    statuses: Counter[int] = Counter()
    for round_ in range(rounds):
        name = f"Race {round_}"
        status, project = await api.call("POST", "projects", {"name": name})
        assert status == 201, project
        pid = project["id"]
        status, chapter = await api.call(
            "POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "One"}
        )
        assert status == 201

        async def write(i: int, pid: str = pid, chapter: str = chapter["id"]) -> int:
            kind = i % 4
            if kind == 0:
                code, _ = await api.call("PATCH", f"projects/{pid}", {"quality": "low"})
            elif kind == 1:
                code, _ = await api.call(
                    "POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": f"C{i}"}
                )
            elif kind == 2:
                code, _ = await api.call(
                    "PATCH", f"projects/{pid}/nodes/{chapter}", {"name": f"Renamed {i}"}
                )
            else:
                code, _ = await api.call("GET", f"projects/{pid}")
            return code

        async def delete(pid: str = pid, pause: float = 0.01 * (round_ % 3)) -> int:
            await asyncio.sleep(pause)
            code, _ = await api.call("DELETE", f"projects/{pid}")
            return code

        codes = await asyncio.gather(delete(), *(write(i) for i in range(writers)))
        assert codes[0] == 200, codes[0]
        statuses.update(codes)
        # whatever raced, the project is gone and its name is free again
        status, _ = await api.call("GET", f"projects/{pid}")
        assert status == 404
    fivexx = sum(n for code, n in statuses.items() if code >= 500)
    figures.count("delete-vs-write requests", rounds * (writers + 1))
    figures.count("5xx seen", fivexx)
    assert fivexx == 0, dict(statuses)
    assert set(statuses) <= {200, 201, 404}, dict(statuses)
