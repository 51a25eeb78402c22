"""ComfyUI's HTTP API as the studio uses it: queue a prompt, read the queue and the history,
interrupt or delete a prompt, upload an input image, download an output. Standard library only.

Every call names the server it talks to in its errors, so a user reading a failed take knows
which ComfyUI did not answer.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from websocket_link import HandshakeRefused, WebSocketLink


class ComfyUnreachable(Exception):
    """No ComfyUI answers at the URL (refused, timed out, wrong host)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ComfyAnswer(Exception):
    """ComfyUI answered with an error status; `body` is its JSON, or None."""

    def __init__(self, method: str, path: str, status: int, reason: str, raw: bytes) -> None:
        self.method, self.path, self.status, self.reason = method, path, status, reason
        self.raw = raw
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.body: dict[str, Any] | None = parsed if isinstance(parsed, dict) else None
        text = raw.decode("utf-8", "replace").strip()
        super().__init__(f"{method} {path} answered {status} {reason}: {text[:500]}")


class ComfyServer:
    """One ComfyUI server, by its base URL (`http://host:8188`, a path prefix allowed)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ComfyUnreachable(url, "not an http:// or https:// URL")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.secure else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=self.timeout)

    def _open(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        connection = self._connection()
        try:
            connection.request(method, self.prefix + path, body=body, headers=headers or {})
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ComfyUnreachable(self.url, _reason(exc)) from exc
        if response.status >= 400:
            raw = response.read()
            connection.close()
            raise ComfyAnswer(method, path, response.status, response.reason, raw)
        return connection, response

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """A JSON request; the JSON answer (None for an empty one)."""
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection, response = self._open(method, path, body, headers)
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ComfyUnreachable(self.url, _reason(exc)) from exc
        finally:
            connection.close()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ComfyAnswer(method, path, response.status, "not JSON", raw) from exc

    # -- the API --------------------------------------------------------------------------------
    def system_stats(self) -> dict[str, Any]:
        """Version, Python, devices (`GET /system_stats`)."""
        return dict(self.call("GET", "/system_stats") or {})

    def node_info(self, class_type: str) -> dict[str, Any]:
        """A node type's description (`GET /object_info/<class>`); {} when unknown."""
        answer = self.call("GET", f"/object_info/{class_type}") or {}
        info = answer.get(class_type) if isinstance(answer, dict) else None
        return info if isinstance(info, dict) else {}

    def queue_prompt(
        self, prompt: dict[str, Any], client_id: str, prompt_id: str | None = None
    ) -> dict[str, Any]:
        """Queue a workflow (`POST /prompt`): `{prompt_id, number, node_errors}`.

        Raises `ComfyAnswer` when ComfyUI refuses it (its body says why, per node).
        """
        payload: dict[str, Any] = {"prompt": prompt, "client_id": client_id}
        if prompt_id is not None:
            payload["prompt_id"] = prompt_id
        return dict(self.call("POST", "/prompt", payload) or {})

    def interrupt(self, prompt_id: str | None) -> None:
        """Stop the running prompt (`POST /interrupt`), only if it is `prompt_id` when given."""
        self.call("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def delete_queued(self, prompt_ids: list[str]) -> None:
        """Take prompts out of the queue before they run (`POST /queue {delete}`)."""
        self.call("POST", "/queue", {"delete": prompt_ids})

    def queue(self) -> dict[str, Any]:
        """`{queue_running, queue_pending}`, items `[number, prompt_id, prompt, extra, outputs]`."""
        return dict(self.call("GET", "/queue") or {})

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The prompt's history entry, or None while it is not finished (or unknown)."""
        answer = self.call("GET", f"/history/{prompt_id}") or {}
        entry = answer.get(prompt_id) if isinstance(answer, dict) else None
        return entry if isinstance(entry, dict) else None

    def upload_image(self, path: Path, subfolder: str = "gms") -> str:
        """Upload an input image (`POST /upload/image`); the name a LoadImage node takes."""
        boundary = uuid.uuid4().hex
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts = []
        for name, value in (("type", "input"), ("subfolder", subfolder), ("overwrite", "true")):
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            parts.append(f"{head}{value}\r\n".encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="{path.name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
            + path.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        body = b"".join(parts)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        connection, response = self._open("POST", "/upload/image", body, headers)
        try:
            answer = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        name = str(answer.get("name") or path.name)
        folder = str(answer.get("subfolder") or "")
        return f"{folder}/{name}" if folder else name

    def download(self, filename: str, subfolder: str, kind: str, target: Path) -> int:
        """Stream an output (`GET /view`) into `target`; the number of bytes."""
        query = urlencode({"filename": filename, "subfolder": subfolder, "type": kind})
        connection, response = self._open("GET", f"/view?{query}")
        try:
            with target.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
                return out.tell()
        except (OSError, http.client.HTTPException) as exc:
            raise ComfyUnreachable(
                self.url, f"the download of {filename} broke off: {exc}"
            ) from exc
        finally:
            connection.close()

    def socket(self, client_id: str, timeout: float = 10.0) -> WebSocketLink:
        """ComfyUI's event stream for `client_id` (`/ws?clientId=`)."""
        scheme = "wss" if self.secure else "ws"
        url = f"{scheme}://{self.host}:{self.port}{self.prefix}/ws?clientId={client_id}"
        try:
            return WebSocketLink.connect(url, timeout)
        except (OSError, HandshakeRefused) as exc:
            raise ComfyUnreachable(self.url, _reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    text = str(exc) or type(exc).__name__
    return text
