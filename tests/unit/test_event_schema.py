"""The TypeScript event types come from the Python models: the checked-in schema must match."""

from __future__ import annotations

import json

from gms_lab.events import SERVER_EVENTS, Hello, TaskProgress, encode, events_json_schema
from gms_lab.models import TaskStatus
from tests.services import REPO

SCHEMA = REPO / "labextension" / "src" / "events.schema.json"


def test_checked_in_schema_is_the_models_schema() -> None:
    checked_in = json.loads(SCHEMA.read_text())
    assert checked_in == events_json_schema(), "the event models changed: run `make types`"


def test_generated_types_name_every_event() -> None:
    generated = (REPO / "labextension" / "src" / "events.generated.ts").read_text()
    for name in events_json_schema()["$defs"]:
        assert f"export interface {name} " in generated or f"export type {name} " in generated, name


def test_events_round_trip_in_camel_case() -> None:
    event = TaskProgress(
        task_id="t", node_id="n", progress=0.5, step="s", status=TaskStatus.running, seq=3
    )
    wire = json.loads(encode(event))
    assert wire["type"] == "task_progress" and wire["taskId"] == "t" and wire["seq"] == 3
    assert SERVER_EVENTS.validate_python(wire) == event
    hello = events_json_schema()["$defs"]["Hello"]
    assert "type" in hello["required"]
    assert Hello(project_id="p", version=1, client_id="c", server_time=0).type == "hello"
