"""Health probes of the images: ``python -m gms_lab.health lab|worker`` exits 0 when healthy.

- ``lab``: the studio answers its own API (``/gms/api/workspace/config`` with the server's token)
  and reports that it reaches Redis.
- ``worker``: the Celery worker in this container keeps its liveness fresh in Redis (the
  worker refreshes it every few seconds once it is ready to take tasks).

Docker's ``HEALTHCHECK`` runs these often, so they import little and answer within seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import cast

LAB_URL = "http://127.0.0.1:8888"
#: The key prefix of the workers' liveness keys (`gms_lab.tasks.records.WORKER_KEY`).
WORKER_KEY = "gms:worker:"
#: The running workers by the time their liveness lapses (`gms_lab.tasks.records.WORKERS`).
WORKERS = "gms:workers"


def lab(url: str, token: str, timeout: float) -> str | None:
    """Why the studio at `url` is not healthy, or None when it is."""
    request = urllib.request.Request(f"{url.rstrip('/')}/gms/api/workspace/config")
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"the studio's API answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"the studio does not answer at {url}: {exc}"
    redis = body.get("health", {}).get("redis", {})
    if not redis.get("ok"):
        return f"the studio does not reach Redis: {redis.get('message') or 'unknown'}"
    return None


def worker(broker_url: str, hostname: str, timeout: float) -> str | None:
    """Why the worker on `hostname` is not healthy, or None when its liveness is fresh."""
    if not broker_url:
        return "GMS_BROKER_URL is not set"
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=timeout)
        # the worker's name is `<name>@<hostname>` (celery's default name is celery@<hostname>);
        # the running workers are a sorted set by the time each one's liveness lapses
        running = cast(list[bytes], client.zrangebyscore(WORKERS, time.time(), "+inf"))
        found = [name for name in running if name.decode().endswith(f"@{hostname}")]
    except redis.RedisError as exc:
        return f"Redis does not answer at {broker_url}: {exc}"
    if not found:
        return f"no worker on {hostname} has announced itself in Redis"
    return None


def main(argv: list[str] | None = None) -> int:
    """Probe one service; print why it is unhealthy and exit 1, or exit 0."""
    parser = argparse.ArgumentParser(prog="python -m gms_lab.health", description=__doc__)
    parser.add_argument("service", choices=["lab", "worker"])
    parser.add_argument("--url", default=LAB_URL, help="the lab's base URL (lab)")
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args(argv)
    if args.service == "lab":
        problem = lab(args.url, os.environ.get("JUPYTER_TOKEN", ""), args.timeout)
    else:
        broker = os.environ.get("GMS_BROKER_URL", "")
        problem = worker(broker, socket.gethostname(), args.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
