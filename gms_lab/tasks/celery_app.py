"""The Celery application: settings for no lost work, shared by the worker and the clients."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu.serialization import dumps

from ..config import StudioConfig
from .registry import PipelineRegistry

QUEUE = "gms"
#: The studio's broker transport for plain Redis (see `transport`).
TRANSPORT = "gms_lab.tasks.transport:Transport"
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
        settings["broker_transport"] = TRANSPORT
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
    for each send to look it up in its cache (5% of a submit's time).

    On the studio's own transport (plain Redis) the message is published straight through a
    kombu channel (`_Direct`): the same message as `send_task` makes."""
    direct = _Direct(app) if app.conf.broker_transport == TRANSPORT else None

    def send(name: str, task_id: str, kwargs: dict[str, Any]) -> None:
        shown = repr({key: value for key, value in kwargs.items() if key != "parameters"})
        if direct is not None:
            direct.send(name, task_id, kwargs, shown)
            return
        app.send_task(
            name,
            kwargs=kwargs,
            task_id=task_id,
            ignore_result=True,
            argsrepr="()",
            kwargsrepr=shown,
            declare=[],
        )

    return send


class _Direct:
    """Publishes a task's message on one kombu channel kept for the purpose: Celery's message
    (`as_task_v2`: headers, body), serialised as kombu's producer does, and kombu's channel
    puts it in the queue (its envelope, delivery tag, `LPUSH`). `send_task` went through the
    producer pool, the connection's retry wrapper and the producer for each message. A
    connection that broke is made again by the client's own retries (redis-py), as under
    `send_task`; an error that stays is raised (the submit answers 503, nothing queued)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def channel(self) -> Any:
        """The channel, connected at the first send (with Redis away, that send fails: 503)."""
        channel = self._channel
        if channel is None:
            with self._lock:
                if self._channel is None:
                    connection = self.app.connection_for_write()
                    self._channel = connection.default_channel
                    self._connection = connection  # kept: the channel lives as long
                channel = self._channel
        return channel

    def send(self, name: str, task_id: str, kwargs: dict[str, Any], shown: str) -> None:
        app = self.app
        message = app.amqp.as_task_v2(
            task_id,
            name,
            kwargs=kwargs,
            reply_to=app.thread_oid,
            ignore_result=True,
            argsrepr="()",
            kwargsrepr=shown,
        )
        content_type, encoding, body = dumps(message.body, serializer="json")
        properties = {
            **message.properties,
            "argsrepr": "()",
            "kwargsrepr": shown,
            "delivery_mode": 2,  # persistent, as the default queue's
        }
        channel = self.channel()
        envelope = channel.prepare_message(
            body, 0, content_type, encoding, message.headers, properties
        )
        channel.basic_publish(envelope, "", QUEUE)  # the anonymous exchange: straight in
