"""Fixtures shared by every test: a fresh workspace and a real Jupyter server with the studio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace root for one test."""
    return tmp_path / "workspace"


@pytest.fixture
def studio_config() -> dict[str, Any]:
    """Extra `c.GMSLab.*` settings a test module wants (override in the module)."""
    return {}


@pytest.fixture
def jp_server_config(workspace: Path, studio_config: dict[str, Any]) -> dict[str, Any]:
    """The Jupyter server under test loads the studio on a fresh workspace."""
    return {
        "ServerApp": {"jpserver_extensions": {"gms_lab": True}},
        "GMSLab": {"workspace": str(workspace), "watch": False, **studio_config},
    }


class Api:
    """A small client of the studio's REST API over `jp_fetch`: answers (status, JSON body)."""

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        parts = ["gms", "api", *[p for p in path.split("/") if p]]
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is None and method in ("POST", "PATCH", "PUT"):
            data = b""
        response = await self.fetch(
            *parts,
            method=method,
            body=data,
            headers=headers or {},
            params=params or {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        text = response.body or b""
        ctype = response.headers.get("Content-Type", "")
        return response.code, json.loads(text) if "json" in ctype and text else text


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """The studio's REST API of the server under test."""
    return Api(jp_fetch)
