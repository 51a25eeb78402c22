"""Benchmarks: `make bench` (`python -m tests.bench`). Not tests: they never fail on a time.

Every row has a baseline measured in the same run on the same machine, so the ratio is what
counts: the bare tornado upload handler, Jupyter's contents API, raw Redis pub/sub, inotify,
the git CLI, no-op Celery tasks, a plain fsynced write. Prints the table as Markdown (the
README shows the latest) and writes it as JSON (`--json`, default `test-results/bench.json`).

    python -m tests.bench                      # every row (≈ 5 min on 2 cores)
    python -m tests.bench --only list,watcher  # some rows
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from gms_lab.core.services import StudioCore
from tests.services import REPO, project_with_shot, redis_server, studio_config

from .diffusion import bench_diffusion
from .live import bench_events, bench_many_clients, bench_watcher
from .projects import bench_big_project, bench_create, bench_list
from .server import bare_tornado, studio_server
from .table import Table
from .tasks import bench_manifest_writes, bench_scaling, bench_submit, bench_takes
from .uploads import bench_uploads

GROUPS = (
    "upload",
    "events",
    "clients",
    "watcher",
    "list",
    "project",
    "create",
    "submit",
    "takes",
    "scaling",
    "manifest",
    "diffusion",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(GROUPS)}")
    parser.add_argument("--json", type=Path, default=REPO / "test-results" / "bench.json")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the client load")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(","))) or set(GROUPS)
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    table = Table()
    with tempfile.TemporaryDirectory(prefix="gms-bench-") as name:
        tmp = Path(name)
        with redis_server(tmp / "redis") as url:
            workspace, root = tmp / "ws", tmp / "root"
            root.mkdir()
            core = StudioCore(studio_config(workspace))
            core.manifests.on_write = None
            live, _ = project_with_shot(core, "Live")
            server_groups = {"upload", "events", "clients", "watcher", "list", "project", "create"}
            if only & server_groups:
                with studio_server(workspace, url, root) as server:
                    if "upload" in only:
                        with bare_tornado(tmp / "bare") as bare:
                            uploads = workspace / "Projects" / "uploads"
                            table.run(
                                "upload", bench_uploads, server, bare, table, tmp, uploads, root
                            )
                    if "events" in only:
                        table.run("events", bench_events, server, url, table, live)
                    if "clients" in only:
                        table.run(
                            "clients",
                            bench_many_clients,
                            server,
                            url,
                            table,
                            live,
                            seconds=args.seconds,
                        )
                    if "watcher" in only:
                        path = core.projects.path(live)
                        table.run("watcher", bench_watcher, server, table, live, path, tmp)
                    if "create" in only:  # before the thousand projects of the list
                        table.run("create", bench_create, server, table)
                    if "list" in only:
                        table.run("list", bench_list, server, core, table)
                    if "project" in only:
                        table.run("project", bench_big_project, server, core, table, root)
            if "submit" in only:
                table.run("submit", bench_submit, url, tmp, table)
            if "takes" in only:
                table.run("takes", bench_takes, url, tmp, table)
            if "scaling" in only:
                table.run("scaling", bench_scaling, url, tmp, table)
            if "manifest" in only:
                table.run("manifest", bench_manifest_writes, url, tmp, table)
            if "diffusion" in only:
                table.run("diffusion", bench_diffusion, url, tmp, table)
    print()
    print(table.markdown())
    table.write(args.json)
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
