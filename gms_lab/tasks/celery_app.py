"""The Celery application: settings for no lost work, shared by the worker and the clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery

from ..config import StudioConfig
from .registry import PipelineRegistry

QUEUE = "gms"
#: How often kombu sweeps for unacknowledged messages to put back (seconds).
RESTORE_INTERVAL = 1


def visibility_timeout(config: StudioConfig) -> int:
    """Longer than the longest message (twice a pipeline's timeout times the takes it runs
    from one message), and never below the setting."""
    pipelines = PipelineRegistry(config.pipelines_path).pipelines.values()
    longest = max((spec.timeout * spec.takes_per_message for spec in pipelines), default=0)
    return max(config.visibility_timeout, int(longest * 2) + 60)


def celery_settings(config: StudioConfig, url: str) -> dict[str, Any]:
    """Broker, backend and the settings that keep a task from being lost or run twice."""
    settings = _settings(config, url)
    if url.startswith("redis://"):  # plain Redis: kombu's transport with its client reused
        settings["broker_transport"] = "gms_lab.tasks.transport:Transport"
    return settings


def _settings(config: StudioConfig, url: str) -> dict[str, Any]:
    return {
        "broker_url": url,
        "result_backend": url,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        # a hung Redis fails a call after redis_timeout instead of blocking it for good
        "broker_connection_timeout": config.redis_timeout,
        "redis_socket_timeout": config.redis_timeout,
        "redis_socket_connect_timeout": config.redis_timeout,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "broker_transport_options": {
            "socket_timeout": config.redis_timeout,
            "socket_connect_timeout": config.redis_timeout,
            "visibility_timeout": visibility_timeout(config),
            "unacked_restore_interval": RESTORE_INTERVAL,
            "unacked_restore_throttle": 1,
            # one list per queue: a worker takes its messages with one atomic BLMOVE
            # (see `transport.Channel`); the studio sends no priorities
            "priority_steps": [0],
        },
        "result_backend_transport_options": {"visibility_timeout": visibility_timeout(config)},
    }


def make_celery(config: StudioConfig, url: str) -> Celery:
    """A Celery app configured for the studio (tasks are registered by `gms_lab.tasks.worker`)."""
    app = Celery("gms_lab")
    app.conf.update(celery_settings(config, url))
    return app


def sender(app: Celery) -> Callable[[str, str, dict[str, Any]], None]:
    """How the studio queues a task. A task's record in Redis is its result, so Celery keeps
    none: without `ignore_result` each send would subscribe to a result channel and each
    forgotten `AsyncResult` unsubscribe again (two Redis round trips per task, for nothing).

    A task's parameters (its prompt: a user's words) are not copied into the message's headers
    for monitors (`kwargsrepr`, which Flower and `celery events` show): the task's record holds
    them, and Celery's safe repr of them cost about 0.1 ms a send.

    Nothing is declared before a send (`declare=[]`): on Redis a message to the default queue
    is an `LPUSH` to its list, which needs no declaration, yet kombu copied and bound the queue
    for each send to look it up in its cache (5% of a submit's time)."""

    def send(name: str, task_id: str, kwargs: dict[str, Any]) -> None:
        shown = {key: value for key, value in kwargs.items() if key != "parameters"}
        app.send_task(
            name,
            kwargs=kwargs,
            task_id=task_id,
            ignore_result=True,
            argsrepr="()",
            kwargsrepr=repr(shown),
            declare=[],
        )

    return send
