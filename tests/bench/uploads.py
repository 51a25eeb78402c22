"""Uploads near the wire: the studio's streamed upload (raw and multipart) against a bare
tornado `stream_request_body` handler and Jupyter's contents API, in the same run."""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from .server import TOKEN, Server
from .table import Row, Table

MiB = 1024 * 1024


def post_file(
    base: str, path: str, body: Path, content_type: str, block: int = MiB
) -> tuple[int, float, Any]:
    """POST a file as the body (Content-Length known) in `block`-sized writes: (status, s,
    the answer's JSON)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600, blocksize=block)
    size = body.stat().st_size
    start = time.perf_counter()
    with open(body, "rb") as fh:
        conn.request(
            "POST",
            path,
            body=fh,
            headers={
                "Authorization": f"token {TOKEN}",
                "Content-Type": content_type,
                "Content-Length": str(size),
            },
        )
        answer = conn.getresponse()
        data = answer.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return answer.status, elapsed, json.loads(data) if data else None


def bench_uploads(
    studio: Server,
    bare: Server,
    table: Table,
    tmp: Path,
    project_dir: Path,
    server_root: Path,
    rounds: int = 8,
) -> None:
    """256 MiB raw and multipart into the studio vs the bare handler and Jupyter's contents
    API, `rounds` times in turns (each upload starting with nothing left to write back, the
    order turning each round): each figure is its median round.

    Each upload lands in a new file on either side and is removed after its round, so no side
    writes where the other did not: on a virtual disk, blocks never written before take 2-4x
    longer to write than blocks freed again (a bare handler that rewrote one file read
    550-700 MB/s while the studio, keeping every upload, fell to 300 MB/s after two rounds)."""
    size = 256 * MiB
    print(f"upload of {size // MiB} MiB ({rounds} rounds)")
    source = tmp / "big.bin"
    with open(source, "wb") as fh:
        for _ in range(size // MiB):
            fh.write(os.urandom(MiB))
    boundary = secrets.token_hex(16)
    multipart = tmp / "big.multipart"
    with open(multipart, "wb") as out, open(source, "rb") as src:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="take.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
        )
        while chunk := src.read(MiB):
            out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    studio.request("POST", "/gms/api/projects", json={"name": "Uploads"})
    rss_before, _ = studio.rss()
    raw_path = "/gms/api/projects/uploads/files?" + urlencode(
        {"category": "music", "name": "a.wav"}
    )
    multi_path = "/gms/api/projects/uploads/files?" + urlencode({"category": "music"})
    rates: dict[str, list[float]] = {"bare": [], "raw": [], "multipart": [], "contents": []}
    uploads = [
        ("bare", bare, "/upload", source, "application/octet-stream"),
        ("raw", studio, raw_path, source, "application/octet-stream"),
        ("multipart", studio, multi_path, multipart, f"multipart/form-data; boundary={boundary}"),
        ("contents", studio, "", source, ""),
    ]
    # each kind takes each place, and comes after each other kind, in turn: the disk carries
    # over from one upload to the next (the blocks the one before freed are quick to write
    # again), and in plain rotations each kind would always follow the same other kind
    backwards = uploads[::-1]
    orders = [uploads[i:] + uploads[:i] for i in range(len(uploads))]
    orders += [backwards[i:] + backwards[:i] for i in range(len(uploads))]
    for round_ in range(rounds):
        for kind, server, path, body, ctype in orders[round_ % len(orders)]:
            # each upload starts with nothing left to write back: the one before it (256 MiB
            # fsynced, or the source's pages) is not flushed in its time
            os.sync()
            if kind == "contents":
                rates[kind].append(_contents_api(studio, source, size, server_root))
                continue
            status, elapsed, answer = post_file(server.base, path, body, ctype)
            assert status == 201, (kind, status)
            rates[kind].append(size / 1e6 / elapsed)
            if kind == "bare":
                Path(answer["path"]).unlink()
            else:
                for asset in answer["assets"]:
                    (project_dir / asset["path"]).unlink()
    _, peak = studio.rss()
    growth = (peak - rss_before) / MiB
    # the old bench's client: http.client's default 8 KiB writes
    status, elapsed, _ = post_file(studio.base, raw_path, source, "application/octet-stream", 8192)
    small_blocks = size / 1e6 / elapsed
    contents = statistics.median(rates["contents"])
    bare_rate = statistics.median(rates["bare"])
    for kind in ("raw", "multipart"):
        # each round's upload against the bare handler's in the same round; the disk moves
        # both by half from one round to the next, so the row is the median round's
        ratios = [s / b for s, b in zip(rates[kind], rates["bare"], strict=True)]
        ratio, rate = statistics.median(ratios), statistics.median(rates[kind])
        table.add(
            Row(
                f"upload 256 MiB, {kind} streamed body (median of {rounds} rounds)",
                rate,
                "MB/s",
                "bare tornado stream_request_body",
                bare_rate,
                "≥ 0.7x the bare handler every run, ≥ 10x contents API, RSS growth < 64 MiB",
                ratio=ratio,
                meets=ratio >= 0.7 and rate / contents >= 10 and growth < 64,
                notes=f"rounds {min(ratios):.2f}x to {max(ratios):.2f}x "
                f"(the bare handler {min(rates['bare']):.0f} to {max(rates['bare']):.0f} MB/s); "
                f"{rate / contents:.0f}x contents API (the bare handler: "
                f"{bare_rate / contents:.0f}x); RSS +{growth:.0f} MiB",
                extra={
                    "rounds": rates[kind],
                    "bare": rates["bare"],
                    "contentsApi": contents,
                    "contentsApiRounds": rates["contents"],
                    "serverRssGrowthMiB": growth,
                    "client8KiBBlocks": small_blocks,
                },
            )
        )
    print(
        f"  (a client writing 8 KiB blocks, as the old bench's did: {small_blocks:.0f} MB/s; "
        f"the contents API: {contents:.0f} MB/s)"
    )


def _contents_api(studio: Server, source: Path, size: int, root: Path) -> float:
    """Upload `source` as JupyterLab does (base64 JSON, 1 MiB a chunk) into a new file at the
    server's root (`root`, removed afterwards): MB/s."""
    name = f"big-{secrets.token_hex(4)}.bin"
    start = time.perf_counter()
    with open(source, "rb") as fh:
        for i, offset in enumerate(range(0, size, MiB), start=1):
            chunk = fh.read(MiB)
            body = {
                "type": "file",
                "format": "base64",
                "chunk": -1 if offset + MiB >= size else i,
                "content": base64.b64encode(chunk).decode(),
            }
            answer = studio.request("PUT", f"/api/contents/{name}", json=body)
            assert answer.ok, answer.text
    rate = size / 1e6 / (time.perf_counter() - start)
    (root / name).unlink()
    return rate
