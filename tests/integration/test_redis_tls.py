"""The studio on a Redis that speaks only TLS and asks clients for a certificate: the server's
event subscriber, and a take made end to end (Celery's broker and results, the task records,
the events), each reading the certificate settings from the `rediss://` URL."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redis.asyncio as aioredis

from gms_lab.events import EventHub, channel
from gms_lab.models import TaskStatus, TaskSubmit
from tests.services import (
    REPO,
    TEST_PIPELINES,
    Worker,
    free_port,
    project_with_shot,
    studio_config,
    task_service,
    wait_until,
)

PASSWORD = "s3cret"


def _certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed"
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}
    files |= {name: folder / f"{name}.pem" for name in ("client", "client-key")}

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", str(files["ca-key"]), "-out", str(files["ca"]))  # fmt: skip
    for who, subject, usage in (
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "/CN=studio", "extendedKeyUsage=clientAuth"),
    ):
        request = folder / f"{who}.csr"
        extensions = folder / f"{who}.ext"
        extensions.write_text(usage + "\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", str(files[f"{who}-key"]), "-out", str(request))  # fmt: skip
        run("x509", "-req", "-in", str(request), "-CA", str(files["ca"]),
            "-CAkey", str(files["ca-key"]), "-CAcreateserial", "-days", "2",
            "-extfile", str(extensions), "-out", str(files[who]))  # fmt: skip
    return files


@contextmanager
def tls_redis(folder: Path) -> Iterator[tuple[str, dict[str, Path]]]:
    """A redis-server on TLS only, with a password, that asks clients for a certificate of its
    CA: (its URL without the certificate settings, the certificates)."""
    folder.mkdir(parents=True, exist_ok=True)
    certs = _certificates(folder)
    port = free_port()
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (make test installs it)"
    argv = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    argv += ["--tls-cert-file", str(certs["server"]), "--tls-key-file", str(certs["server-key"])]
    argv += ["--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "yes"]
    argv += ["--requirepass", PASSWORD, "--save", "", "--dir", str(folder)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(f"{base}?{_verified(certs)}"), 15)
        yield base, certs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _verified(certs: dict[str, Path]) -> str:
    """The URL settings that verify the server against the CA and show the client's
    certificate."""
    return (
        f"ssl_cert_reqs=required&ssl_ca_certs={certs['ca']}"
        f"&ssl_certfile={certs['client']}&ssl_keyfile={certs['client-key']}"
    )


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.RedisError:
        return False


async def test_the_hub_reaches_a_redis_over_tls_with_the_urls_certificate_settings(
    tmp_path: Path,
) -> None:
    with tls_redis(tmp_path) as (base, certs):
        mine = f"ssl_certfile={certs['client']}&ssl_keyfile={certs['client-key']}"
        good = f"{base}?ssl_ca_certs={certs['ca']}&{mine}"
        publisher = aioredis.Redis.from_url(good)

        async def hears(url: str) -> None:
            hub = EventHub(url, timeout=5.0)
            hub.start()
            try:
                heard: asyncio.Queue[str] = asyncio.Queue()
                hub.add("harbour", heard.put_nowait)
                await hub.joined("harbour")
                assert hub.connected, url
                await publisher.publish(channel("harbour"), '{"type": "hello"}')
                assert await asyncio.wait_for(heard.get(), 5.0) == '{"type": "hello"}', url
            finally:
                await hub.stop()

        async def refused(url: str) -> None:
            hub = EventHub(url, timeout=2.0)
            hub.start()
            try:
                hub.add("harbour", lambda raw: None)
                await hub.joined("harbour")
                deadline = time.monotonic() + 10
                while hub.down_since is None:
                    assert time.monotonic() < deadline, f"the hub did not give up on {url}"
                    await asyncio.sleep(0.05)
                assert not hub.connected and hub.unavailable() is not None
            finally:
                await hub.stop()

        try:
            # the server verified against the URL's CA (and its name), the client's certificate
            await hears(good)
            await hears(f"{base}?{_verified(certs)}")
            # not verified, as the URL asks
            await hears(f"{base}?ssl_cert_reqs=none&{mine}")
            # a server the system's CAs do not know is refused; so is a client with no certificate
            await refused(f"{base}?{mine}")
            await refused(f"{base}?ssl_ca_certs={certs['ca']}")
        finally:
            await publisher.aclose()


async def test_a_take_is_made_through_a_redis_that_speaks_only_tls(tmp_path: Path) -> None:
    """Celery's broker and results, the worker's records and events, the submit and the
    server's event subscriber all go through the one `rediss://` URL."""
    with tls_redis(tmp_path / "redis") as (base, certs):
        url = f"{base}?{_verified(certs)}"
        config = studio_config(
            tmp_path / "ws", pipelines_path=[REPO / "pipelines", TEST_PIPELINES], auto_commit=False
        )
        worker = Worker(config, url, tmp_path / "worker.log").start()
        hub = EventHub(url, timeout=5.0)
        hub.start()
        try:
            service = task_service(config, url)
            project, shot = project_with_shot(service.ctx.core, "Harbour at night")
            heard: asyncio.Queue[str] = asyncio.Queue()
            hub.add(project, heard.put_nowait)
            await hub.joined(project)
            request = TaskSubmit(
                project_id=project,
                node_id=shot,
                pipeline="still",
                parameters={"prompt": "harbour at night", "width": 64, "height": 36, "seed": 3},
                count=2,
            )
            task_ids = [record.task_id for record in service.submit_all(request)]
            succeeded: set[str] = set()
            while succeeded != set(task_ids):
                event = json.loads(await asyncio.wait_for(heard.get(), 60))
                assert event["type"] != "task_failed", event
                if event["type"] == "task_success":
                    succeeded.add(event["taskId"])
            root = service.ctx.core.projects.path(project)
            for task_id in task_ids:
                record = service.ctx.records.get(task_id)
                assert record.status is TaskStatus.completed and record.result is not None
                assert (root / record.result.output_path).read_bytes().startswith(b"\x89PNG")
            takes = service.ctx.core.manifests.read(project).chapters[0].scenes[0].shots[0].takes
            assert [take.seed for take in takes] == [3, 4]
            assert "rediss://" in (tmp_path / "worker.log").read_text()
        finally:
            await hub.stop()
            worker.stop()
