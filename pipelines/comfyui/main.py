"""The ComfyUI pipeline: runs a workflow template on a ComfyUI server and brings back the take.

The studio prepares each job: it picks the template (by name, or the one the tier picks), binds
the shot's parameters into the API-format workflow and puts the result in the job line's
`comfyui` block (see `pipelines/README.md`). This program then, for one job:

1. opens ComfyUI's event socket with a fresh client id (one socket per prompt);
2. uploads the init image, if the template binds one, and points the LoadImage node at it;
3. queues the workflow (`POST /prompt`); a refusal names the node and the input at fault;
4. waits on the socket: progress over the whole graph ("KSampler 12/20"), previews written as
   the take's preview pictures, and the studio's cancel (interrupt when running, taken out of
   the queue when still waiting); a dropped socket is reconnected, `/history` tells the rest;
5. reads the prompt's `/history` entry and downloads its outputs (`/view`) as the take's files.

The process stays warm between jobs; it keeps only the node titles it looked up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# Run as `python comfyui/main.py` from pipelines/: the shared protocol module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from comfy_api import ComfyAnswer, ComfyServer, ComfyUnreachable
from comfy_errors import execution_error, rejection, unreachable
from gms_pipeline import Cancelled, Job, PipelineError, Progress, Result, preview_every, serve
from prompt_run import Preview, PromptRun, PromptWatch

#: At most one preview picture per this many seconds (ComfyUI may send one per step).
PREVIEW_EVERY = preview_every()
#: Share of the bar for ComfyUI's work; the rest is queueing before and downloads after.
QUEUED, WORKED = 0.02, 0.95
_titles: dict[tuple[str, str], str] = {}


def render(job: Job, progress: Progress) -> Result:
    """Run the job's prepared workflow on ComfyUI; its outputs become the take."""
    plan = _plan(job)
    server = ComfyServer(plan["url"])
    client_id = uuid.uuid4().hex
    workflow: dict[str, Any] = plan["workflow"]
    template = str(plan["template"].get("name") or "?")
    wake_read, wake_write = os.pipe()
    open_pipe = [True]

    def wake() -> None:
        if open_pipe[0]:
            with contextlib.suppress(OSError):
                os.write(wake_write, b"!")

    job.on_cancel(wake)
    progress(0.0, f"Connecting to ComfyUI at {server.url}")
    try:
        link = server.socket(client_id)
    except ComfyUnreachable as exc:
        _close_pipe(open_pipe, wake_read, wake_write)
        raise PipelineError(unreachable(server.url, exc.reason)) from None
    try:
        hello = None
        if plan.get("previewMetadata"):
            hello = json.dumps(
                {"type": "feature_flags", "data": {"supports_preview_metadata": True}}
            )
            link.send_text(hello)
        uploaded = _upload_inputs(job, server, plan, workflow)
        if job.cancelled():
            raise Cancelled()
        progress(QUEUED / 2, "Sending the workflow to ComfyUI")
        try:
            answer = server.queue_prompt(workflow, client_id, plan.get("promptId"))
        except ComfyAnswer as exc:
            raise PipelineError(
                rejection(
                    exc.body, exc.raw.decode("utf-8", "replace"), workflow, plan["bound"], template
                )
            ) from None
        run = PromptRun(workflow, lambda node: _title(server, workflow, node))
        run.prompt_id = str(answer.get("prompt_id"))
        if answer.get("node_errors"):
            print(f"ComfyUI queued with node errors: {answer['node_errors']}", file=sys.stderr)
        reporter = _Reporter(job, progress, run)
        reporter(None)
        watch = PromptWatch(
            server,
            client_id,
            link,
            run,
            wake=wake_read,
            cancel_requested=job.cancelled,
            on_update=reporter,
            hello=hello,
        )
        try:
            watch.follow()
        finally:
            link = watch.link
        if run.outcome == "deleted":
            raise Cancelled()
        entry = server.history(run.prompt_id)
        if entry is not None:
            run.read_history(entry)
        if run.outcome == "error":
            raise PipelineError(execution_error(run.details, workflow, run.title))
        if run.outcome == "interrupted":
            if job.cancelled():
                raise Cancelled()
            raise PipelineError(
                f"ComfyUI stopped the prompt before it finished (interrupted in ComfyUI itself "
                f"while it ran {run.details.get('node_type') or 'a node'})."
            )
        files = _outputs(run, plan)
        if not files:
            raise PipelineError(
                f'Template "{template}" finished without saving anything: give the workflow an '
                "output node that saves (Save Image, Save Animated WEBP, a video saver)."
            )
        names = _download(job, server, files, progress)
        metadata = {
            "comfyui": {
                "server": server.url,
                "template": plan["template"],
                "bound": plan["bound"],
                "uploads": uploaded,
                "promptId": run.prompt_id,
                "number": answer.get("number"),
                "clientId": client_id,
                "cached": sorted(run.cached),
                "reconnects": watch.reconnects,
                "outputs": files,
                "workflow": workflow,
            }
        }
        return Result(outputs=names, metadata=metadata)
    except ComfyUnreachable as exc:
        raise PipelineError(unreachable(server.url, exc.reason)) from None
    except ComfyAnswer as exc:
        raise PipelineError(f"ComfyUI at {server.url}: {exc}") from None
    finally:
        link.close()
        _close_pipe(open_pipe, wake_read, wake_write)


def _close_pipe(open_pipe: list[bool], *fds: int) -> None:
    open_pipe[0] = False
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _plan(job: Job) -> dict[str, Any]:
    """The job's `comfyui` block, checked."""
    plan = job.extras.get("comfyui")
    if not isinstance(plan, dict):
        raise PipelineError(
            "This job carries no prepared workflow (the `comfyui` field of the job line): the "
            "studio prepares it from a template; see pipelines/README.md."
        )
    if not isinstance(plan.get("url"), str) or not plan["url"]:
        raise PipelineError("The job names no ComfyUI URL.")
    if not isinstance(plan.get("workflow"), dict) or not plan["workflow"]:
        raise PipelineError("The job's workflow is empty.")
    plan.setdefault("template", {})
    plan.setdefault("bound", {})
    plan.setdefault("uploads", [])
    plan.setdefault("outputs", [])
    return plan


def _upload_inputs(
    job: Job, server: ComfyServer, plan: dict[str, Any], workflow: dict[str, Any]
) -> list[dict[str, Any]]:
    """Upload the files the workflow loads (init image) and point their nodes at them."""
    done = []
    for upload in plan["uploads"]:
        path = job.input_path(str(upload["path"]))
        try:
            name = server.upload_image(path)
        except ComfyAnswer as exc:
            raise PipelineError(
                f"ComfyUI at {server.url} did not take {upload['path']} for "
                f'node {upload["node"]} ("{upload.get("parameter")}"): {exc}'
            ) from None
        workflow[str(upload["node"])]["inputs"][str(upload["input"])] = name
        done.append({**upload, "uploadedAs": name})
    return done


def _title(server: ComfyServer, workflow: dict[str, Any], node: str) -> str:
    """A node's title: the workflow's own, else the node type's display name, else its type."""
    spec = workflow.get(node) or {}
    title = (spec.get("_meta") or {}).get("title")
    if title:
        return str(title)
    kind = str(spec.get("class_type") or node)
    key = (server.url, kind)
    if key not in _titles:
        try:
            info = server.node_info(kind)
            _titles[key] = str(info.get("display_name") or kind)
        except (ComfyUnreachable, ComfyAnswer):
            return kind
    return _titles[key]


class _Reporter:
    """Turns the run's state into progress events, with a preview picture now and then."""

    def __init__(self, job: Job, progress: Progress, run: PromptRun) -> None:
        self.job, self.progress, self.run = job, progress, run
        self.count = 0
        self.last_preview = 0.0
        self.pending: Preview | None = None
        self.said: tuple[float, str] | None = None

    def __call__(self, preview: Preview | None) -> None:
        if preview is not None:
            self.pending = preview
        name = None
        if self.pending is not None and time.monotonic() - self.last_preview >= PREVIEW_EVERY:
            self.count += 1
            name = f"preview-{self.count}{self.pending.suffix}"
            with self.job.writing(name) as path:
                path.write_bytes(self.pending.data)
            self.pending = None
            self.last_preview = time.monotonic()
        fraction = QUEUED + (WORKED - QUEUED) * self.run.fraction
        step = self.run.step
        if name is None and self.said == (round(fraction, 3), step):
            return  # nothing new to tell
        self.said = (round(fraction, 3), step)
        with contextlib.suppress(Cancelled):  # the watch answers the cancel with ComfyUI first
            self.progress(fraction, step, preview=name)


def _outputs(run: PromptRun, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The files the prompt saved (not its temporary previews), the chosen nodes' first."""
    wanted = [str(node) for node in plan.get("outputs") or []]
    nodes = wanted or list(run.outputs)
    files = []
    for node in nodes:
        for items in (run.outputs.get(node) or {}).values():
            if not isinstance(items, list):
                continue
            for item in items:
                if (
                    isinstance(item, dict)
                    and item.get("filename")
                    and item.get("type", "output") == "output"
                ):
                    files.append(
                        {
                            "node": node,
                            "filename": str(item["filename"]),
                            "subfolder": str(item.get("subfolder") or ""),
                            "type": str(item.get("type") or "output"),
                        }
                    )
    return files


def _download(
    job: Job, server: ComfyServer, files: list[dict[str, Any]], progress: Progress
) -> list[str]:
    names: list[str] = []
    for index, item in enumerate(files):
        progress(WORKED + 0.04 * index / len(files), f"Downloading {item['filename']} from ComfyUI")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(item["filename"]).name).lstrip(".") or "output"
        if name in names:
            name = f"{index}-{name}"
        try:
            with job.writing(name) as path:
                server.download(item["filename"], item["subfolder"], item["type"], path)
        except ComfyAnswer as exc:
            raise PipelineError(
                f"ComfyUI at {server.url} did not deliver {item['filename']} "
                f"(output of node {item['node']}): {exc}"
            ) from None
        names.append(name)
    return names


if __name__ == "__main__":
    serve(render, manifest=Path(__file__).with_name("pipeline.toml"))
