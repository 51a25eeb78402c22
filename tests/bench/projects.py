"""Projects through the REST API at scale: list 1,000, read and change one of 10,000 takes,
create; each against a baseline measured in the same run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from gms_lab.core import takes
from gms_lab.core.files import atomic_write
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import GITIGNORE, gitattributes
from gms_lab.models import Project

from .film import big_film
from .server import Server
from .table import Row, Table, ms


def bench_list(server: Server, core: StudioCore, table: Table, count: int = 1000) -> None:
    """`GET /gms/api/projects` with 1,000 projects vs reading and parsing every manifest."""
    print(f"project list, {count} projects")
    for i in range(count):  # manifests only: the list reads nothing else
        folder = core.workspace.projects_dir / f"film-{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        core.manifests.write_new(folder, Project(id=folder.name, name=f"Film {i:04d}"))
    server.get("/gms/api/projects")  # the server's first look parses each once
    samples = []
    for _ in range(40):
        start = time.perf_counter()
        answer = server.get("/gms/api/projects")
        samples.append(time.perf_counter() - start)
    assert len(answer.json()["projects"]) >= count
    naive = []
    for _ in range(5):
        start = time.perf_counter()
        for path in core.workspace.projects_dir.glob("*/project.json"):
            Project.model_validate_json(path.read_bytes())
        naive.append(time.perf_counter() - start)
    table.add(
        _fast_row(
            f"list {count:,} projects, p50 (p99)",
            ms(samples),
            "parse every project.json",
            ms(naive),
            "< 50 ms (p99 < 200 ms)",
        )
    )


def _fast_row(
    title: str,
    ours: dict[str, float],
    baseline: str,
    base: dict[str, float],
    target: str = "< 50 ms p50, p99 < 200 ms",
) -> Row:
    """A row whose target is p50 < 50 ms and p99 < 200 ms."""
    return Row(
        title,
        ours["p50"],
        "ms",
        baseline,
        base["p50"],
        target,
        ratio=ours["p50"] / base["p50"],
        meets=ours["p50"] < 50 and ours["p99"] < 200,
        notes=f"p99 {ours['p99']:.0f} ms",
        extra={"studio": ours, "baseline": base},
    )


def bench_big_project(server: Server, core: StudioCore, table: Table, root: Path) -> None:
    """Read and change a project of 10,000 takes through the API."""
    project_id, shot = big_film(core, "Epic", 10_000)
    path = core.workspace.project_dir(project_id) / "project.json"
    size = path.stat().st_size
    print(f"a project of 10,000 takes ({size / 1e6:.1f} MB manifest)")
    # the baseline: Jupyter's contents API answering the same file
    shutil.copyfile(path, root / "epic.json")
    server.get(f"/gms/api/projects/{project_id}")
    reads, contents = [], []
    for _ in range(30):
        start = time.perf_counter()
        answer = server.get(f"/gms/api/projects/{project_id}")
        reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        server.get("/api/contents/epic.json", params={"content": "1", "format": "text"})
        contents.append(time.perf_counter() - start)
    body = answer.json()
    assert (
        sum(len(s["takes"]) for c in body["chapters"] for sc in c["scenes"] for s in sc["shots"])
        == 10_000
    )
    base = ms(contents)
    row = _fast_row(
        f"read a project of 10,000 takes ({size / 1e6:.1f} MB), p50 (p90, p99)",
        ms(reads),
        "contents API GET of the same file",
        base,
    )
    row.notes = f"p90 {row.extra['studio']['p90']:.0f}, {row.notes}"
    row.extra["bytes"] = size
    table.add(row)
    # the same read right after another process (a worker finishing a take) wrote the file
    fresh = []
    film = core.manifests.read(project_id)
    done = [t.id for c in film.chapters[:3] for sc in c.scenes for sh in sc.shots for t in sh.takes]
    for i in range(30):
        core.manifests.update(
            project_id, lambda p, i=i: takes.complete(p, done[i], f"03_Renders/r{i}.png")
        )
        start = time.perf_counter()
        answer = server.get(f"/gms/api/projects/{project_id}")
        fresh.append(time.perf_counter() - start)
    table.add(
        _fast_row(
            "the same read right after a worker's write (a take done), p50 (p99)",
            ms(fresh),
            "contents API GET of the same file",
            base,
        )
    )
    # change one shot's property: answered only once it is on disk (fsynced)
    version = answer.json()["version"]
    patches = []
    for i in range(30):
        start = time.perf_counter()
        answer = server.request(
            "PATCH",
            f"/gms/api/projects/{project_id}/nodes/{shot}",
            json={"properties": {"lens": f"{i}mm"}},
            headers={"If-Match": str(version)},
        )
        patches.append(time.perf_counter() - start)
        assert answer.status_code == 200, answer.text
        version = int(answer.headers["ETag"])
    data = path.read_bytes()
    plain = []
    for _ in range(30):
        start = time.perf_counter()
        atomic_write(root / "plain.json", data)
        plain.append(time.perf_counter() - start)
    ours, base = ms(patches), ms(plain)
    table.add(
        Row(
            "change one shot's property in that project, p50 (p99)",
            ours["p50"],
            "ms",
            "fsynced write of the same bytes",
            base["p50"],
            "< 50 ms p50 (durable when it answers)",
            ratio=ours["p50"] / base["p50"],
            meets=ours["p50"] < 50,
            notes=f"p99 {ours['p99']:.0f} ms",
            extra={"studio": ours, "baseline": base},
        )
    )


def bench_create(server: Server, table: Table, n: int = 8) -> None:
    """Project create (folders, manifest, git + LFS, first commit) vs the git CLI alone."""
    print("project create")
    ours = []
    for i in range(n):
        start = time.perf_counter()
        answer = server.request("POST", "/gms/api/projects", json={"name": f"Create {i}"})
        ours.append(time.perf_counter() - start)
        assert answer.status_code == 201, answer.text
    cli = []
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    for _ in range(n):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            start = time.perf_counter()
            for sub in ("01_Assets/Characters", "02_Source_Creative", "03_Renders"):
                (folder / sub).mkdir(parents=True)
                (folder / sub / ".gitkeep").touch()
            (folder / "project.json").write_text(json.dumps({"id": "x"}))
            (folder / ".gitignore").write_text(GITIGNORE)
            (folder / ".gitattributes").write_text(gitattributes())
            for argv in (
                ["git", "init", "-q", "-b", "main"],
                ["git", "lfs", "install", "--local"],
                ["git", "add", "--all"],
                ["git", "commit", "-q", "-m", "Create project"],
            ):
                subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
            cli.append(time.perf_counter() - start)
    o, b = ms(ours), ms(cli)
    table.add(
        Row(
            "project create, p50",
            o["p50"],
            "ms",
            "git init + LFS + add + commit (CLI)",
            b["p50"],
            "≤ 1.5x the git CLI",
            ratio=o["p50"] / b["p50"],
            meets=o["p50"] / b["p50"] <= 1.5,
            extra={"studio": o, "baseline": b},
        )
    )


__all__ = ["bench_big_project", "bench_create", "bench_list", "requests"]
