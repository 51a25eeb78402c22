"""The studio's settings: one model read by the server, the worker and the notebook alike.

Every setting has an environment variable (for containers and child processes) and a built-in
default; the server extension's traitlets (`c.GMSLab.*`) override both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

RunnerKind = Literal["auto", "local", "docker"]


def builtin_pipelines_dir() -> Path:
    """The pipelines shipped in the wheel, or beside the package in a source checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_pipelines"
    return packaged if packaged.is_dir() else here.parent / "pipelines"


class StudioConfig(BaseModel):
    """All settings of the studio; see `ENV` for the environment variable of each field."""

    workspace: Path = Field(
        default_factory=lambda: Path.home() / "Generative_Studio_Workspace",
        description="Root of the workspace (Projects/, Library/, .gms/).",
    )
    broker_url: str = Field(
        "", description="Redis URL of broker, results and events; empty starts an embedded Redis."
    )
    runner: RunnerKind = Field("auto", description="Pipeline runner: auto, local or docker.")
    max_upload_bytes: int = Field(4 * 1024**3, ge=1, description="Largest upload accepted.")
    read_chunk_size: int = Field(
        1024**2,
        ge=0,
        le=64 * 1024**2,
        description="Bytes the Jupyter server reads from a connection at a time, and hands a "
        "streamed upload in (0: tornado's 64 KiB). Fewer, larger pieces stream an upload faster.",
    )
    max_json_bytes: int = Field(
        8 * 1024**2,
        ge=1024,
        description="Largest JSON body, WebSocket message or free-form value (413 above).",
    )
    json_max_depth: int = Field(
        32,
        ge=4,
        le=128,
        description="Deepest nesting of objects and arrays in JSON a client sends (400 deeper).",
    )
    json_max_keys: int = Field(
        10_000, ge=16, description="Most object keys in one JSON body or message (413 above)."
    )
    json_max_string: int = Field(
        1_000_000, ge=256, description="Longest string in JSON a client sends (413 above)."
    )
    pipelines_path: list[Path] = Field(
        default_factory=lambda: [builtin_pipelines_dir()],
        description="Folders holding one folder per pipeline (pipeline.toml).",
    )
    auto_commit: bool = Field(True, description="Commit new takes to git automatically.")
    auto_commit_delay: float = Field(
        3.0, ge=0, description="Seconds of quiet before a burst of takes is committed at once."
    )
    redis_server: str = Field("redis-server", description="redis-server used when embedded.")
    start_worker: bool = Field(True, description="Start an embedded Celery worker.")
    worker_pool: Literal["threads", "prefork"] = Field(
        "threads",
        description="How a worker runs tasks at once: threads of one process (a task mostly "
        "waits on its pipeline, the disk and Redis) or one process each.",
    )
    worker_concurrency: int = Field(
        8,
        ge=1,
        description="Tasks the embedded worker runs at once (threads or processes). With "
        "threads, more tasks than warm pipeline processes keep those busy while finished takes "
        "are being written.",
    )
    pool_size: int = Field(
        2,
        ge=1,
        description="Warm pipeline processes per pipeline and tier in a worker process, at most "
        "(tasks beyond wait for one).",
    )
    pool_idle_timeout: float = Field(
        300.0, gt=0, description="Seconds an idle warm pipeline process lives."
    )
    models_kept: int = Field(
        1, ge=1, description="Models a warm generation process keeps loaded (GPU/CPU memory)."
    )
    preview_every: float = Field(
        0.2,
        ge=0,
        description="Seconds at least between two preview pictures of a running take "
        "(diffusion: none in its first ones either; ComfyUI; 0: every few steps).",
    )
    cancel_grace: float = Field(
        10.0,
        ge=0,
        description="Seconds a pipeline has to answer a cancel before its process is stopped.",
    )
    visibility_timeout: int = Field(
        7200, ge=60, description="Seconds before an unacknowledged task is redelivered."
    )
    max_takes_per_submit: int = Field(
        64, ge=1, le=1000, description="Takes one submit may ask for at once (its `count`)."
    )
    thumbnail_size: int = Field(256, ge=32, le=2048, description="Longest side of thumbnails.")
    watch: bool = Field(True, description="Watch open projects for changes made outside.")
    worker_log_tasks: bool = Field(
        False,
        description="A worker logs Celery's line for each task it receives and each it ends "
        "(off: at hundreds of takes a second they were most of its log and 4% of its time; "
        "the studio's task history tells the same). Warnings and errors are logged either way.",
    )
    gc_freeze: bool = Field(
        True,
        description="Once started, leave the server's and a worker's start-up objects out of "
        "the garbage collector's full passes (gc.freeze): a pass walks ≈ 15 ms of objects, "
        "not ≈ 140; and pass over young objects every 20,000 new ones, not 700.",
    )
    docker_host: str = Field("", description="Docker engine URL; empty uses DOCKER_HOST.")
    redis_timeout: float = Field(
        5.0, gt=0, le=300, description="Seconds any Redis call may wait before it is given up."
    )
    ws_max_buffer: int = Field(
        8 * 1024**2,
        ge=64 * 1024,
        description="Bytes of events a WebSocket client may have waiting before it is closed "
        "(code 4008) to reconnect and resync.",
    )
    trash_retention_days: float = Field(
        30.0, ge=0, description="Days deleted things stay in the trash; 0 keeps them until emptied."
    )
    manifest_cache: int = Field(
        64,
        ge=1,
        description="Parsed manifests each process keeps in memory (up to 64 MB of them).",
    )
    task_history: int = Field(
        10_000, ge=100, description="Task records a project's history keeps (oldest go first)."
    )
    comfyui_url: str = Field(
        "http://127.0.0.1:8188",
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="The ComfyUI server the comfyui pipeline sends its workflows to.",
    )
    author_name: str = Field(
        "",
        max_length=200,
        description="Author of the studio's git commits; empty takes git's user.name, then the "
        "signed-in user (never a token login's random guest name).",
    )
    author_email: str = Field(
        "",
        max_length=200,
        description="E-mail of the studio's git commits; empty takes git's user.email.",
    )

    #: The environment variable of each field.
    ENV: ClassVar[dict[str, str]] = {
        "workspace": "GMS_WORKSPACE",
        "broker_url": "GMS_BROKER_URL",
        "runner": "GMS_RUNNER",
        "max_upload_bytes": "GMS_MAX_UPLOAD_BYTES",
        "read_chunk_size": "GMS_READ_CHUNK_SIZE",
        "max_json_bytes": "GMS_MAX_JSON_BYTES",
        "json_max_depth": "GMS_JSON_MAX_DEPTH",
        "json_max_keys": "GMS_JSON_MAX_KEYS",
        "json_max_string": "GMS_JSON_MAX_STRING",
        "pipelines_path": "GMS_PIPELINES_PATH",
        "auto_commit": "GMS_AUTO_COMMIT",
        "auto_commit_delay": "GMS_AUTO_COMMIT_DELAY",
        "redis_server": "GMS_REDIS_SERVER",
        "start_worker": "GMS_START_WORKER",
        "worker_pool": "GMS_WORKER_POOL",
        "worker_concurrency": "GMS_WORKER_CONCURRENCY",
        "pool_size": "GMS_POOL_SIZE",
        "pool_idle_timeout": "GMS_POOL_IDLE_TIMEOUT",
        "models_kept": "GMS_MODELS_KEPT",
        "preview_every": "GMS_PREVIEW_EVERY",
        "cancel_grace": "GMS_CANCEL_GRACE",
        "visibility_timeout": "GMS_VISIBILITY_TIMEOUT",
        "max_takes_per_submit": "GMS_MAX_TAKES_PER_SUBMIT",
        "thumbnail_size": "GMS_THUMBNAIL_SIZE",
        "watch": "GMS_WATCH",
        "worker_log_tasks": "GMS_WORKER_LOG_TASKS",
        "gc_freeze": "GMS_GC_FREEZE",
        "docker_host": "GMS_DOCKER_HOST",
        "redis_timeout": "GMS_REDIS_TIMEOUT",
        "ws_max_buffer": "GMS_WS_MAX_BUFFER",
        "trash_retention_days": "GMS_TRASH_RETENTION_DAYS",
        "manifest_cache": "GMS_MANIFEST_CACHE",
        "task_history": "GMS_TASK_HISTORY",
        "comfyui_url": "GMS_COMFYUI_URL",
        "author_name": "GMS_AUTHOR_NAME",
        "author_email": "GMS_AUTHOR_EMAIL",
    }

    @classmethod
    def from_env(
        cls, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> StudioConfig:
        """Settings from `overrides` (non-None values), then the environment, then defaults."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        for field, var in cls.ENV.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            if field == "pipelines_path":
                values[field] = [Path(p) for p in raw.split(os.pathsep) if p]
            elif field in ("auto_commit", "start_worker", "watch"):
                values[field] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[field] = raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        config = cls.model_validate(values)
        config.workspace = config.workspace.expanduser().resolve()
        return config

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, for child processes and containers."""
        out: dict[str, str] = {}
        for field, var in self.ENV.items():
            value = getattr(self, field)
            if field == "pipelines_path":
                out[var] = os.pathsep.join(str(p) for p in value)
            elif isinstance(value, bool):
                out[var] = "1" if value else "0"
            else:
                out[var] = str(value)
        return out
