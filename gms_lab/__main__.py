"""Command line: `python -m gms_lab new-project NAME`, `worker`, `schema`."""

from __future__ import annotations

import argparse
import json
import sys

from .config import StudioConfig


def main(argv: list[str] | None = None) -> int:
    """Run one command of the studio's command line."""
    parser = argparse.ArgumentParser(prog="python -m gms_lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new-project", help="create a project in the workspace")
    new.add_argument("name")
    new.add_argument("--quality", default="standard", choices=["low", "standard", "high"])
    sub.add_parser("schema", help="print the JSON Schema of the WebSocket events")
    args = parser.parse_args(argv)

    if args.command == "schema":
        from .events import events_json_schema

        json.dump(events_json_schema(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.command == "new-project":
        from .core.errors import StudioError
        from .core.services import StudioCore
        from .core.vcs import STUDIO_AUTHOR
        from .models import ProjectCreate, Quality

        core = StudioCore(StudioConfig.from_env())
        try:
            project = core.projects.create(
                ProjectCreate(name=args.name, quality=Quality(args.quality)), STUDIO_AUTHOR
            )
        except StudioError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(f"Created project {project.name!r} at {core.workspace.project_dir(project.id)}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
