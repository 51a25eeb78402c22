"""ComfyUI's refusals and failures in words a user can act on: which node, which input, why.

ComfyUI answers an invalid workflow with HTTP 400 and `{error, node_errors}` (one entry per
node, each error with a type, a message, details and sometimes the input's name), and a node
that fails while it runs with an `execution_error` message. These functions name the node by
its title, the input by its name, and the studio parameter bound to it when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SETTING = "comfyui_url"
ENVIRONMENT = "GMS_COMFYUI_URL"


def unreachable(url: str, reason: str) -> str:
    """No ComfyUI answers: say where the studio looked and which setting moves it."""
    return (
        f"ComfyUI does not answer at {url} ({reason}). Start ComfyUI there, or point the studio "
        f"at yours with the setting {SETTING} (environment variable {ENVIRONMENT})."
    )


def node_name(workflow: dict[str, Any], node: str) -> str:
    """`node 3 "KSampler"`: the id and the title (or class) of a workflow's node."""
    spec = workflow.get(node)
    if not isinstance(spec, dict):
        return f"node {node} (not in the workflow)"
    title = (spec.get("_meta") or {}).get("title") or spec.get("class_type") or "?"
    kind = spec.get("class_type")
    if kind and kind != title:
        return f'node {node} "{title}" ({kind})'
    return f'node {node} "{title}"'


def rejection(
    body: dict[str, Any] | None,
    raw: str,
    workflow: dict[str, Any],
    bound: dict[str, dict[str, Any]],
    template: str,
) -> str:
    """Why ComfyUI refused the workflow (`POST /prompt` answered 400 or 500)."""
    where = f'ComfyUI refused the workflow of template "{template}"'
    if not body or not isinstance(body.get("error"), dict):
        text = " ".join(raw.split())[:300] or "no explanation"
        return f"{where}: {text}"
    error = body["error"]
    node_errors = body.get("node_errors") or {}
    lines = [
        _node_error(node, item, workflow, bound)
        for node, detail in node_errors.items()
        for item in (detail.get("errors") or [])
    ]
    if lines:
        return f"{where}: " + "; ".join(lines)
    message = str(error.get("message") or error.get("type") or "invalid workflow")
    details = str(error.get("details") or "")
    text = message.rstrip(".")
    if error.get("type") == "invalid_prompt" and details.startswith("Node ID '#"):
        node = details.removeprefix("Node ID '#").rstrip("'")
        text = f"{node_name(workflow, node)}: {text} (is the custom node installed?)"
    elif error.get("type") == "prompt_no_outputs":
        text += " (the workflow needs an output node, such as Save Image)"
    elif details and details not in message:
        text += f": {details}"
    return f"{where}: {text}"


def _node_error(
    node: str, item: dict[str, Any], workflow: dict[str, Any], bound: dict[str, dict[str, Any]]
) -> str:
    extra = item.get("extra_info") or {}
    message = str(item.get("message") or item.get("type") or "invalid").rstrip(".")
    details = str(item.get("details") or "")
    name = node_name(workflow, node)
    input_name = extra.get("input_name")
    if input_name:
        text = f'{name}, input "{input_name}": {message}'
        if details and details != input_name and not details.startswith(f"{input_name},"):
            text += f" ({details})"
        elif details.startswith(f"{input_name},"):
            text += f" ({details.split(',', 1)[1].strip()})"
        parameter = _parameter_of(bound, node, str(input_name))
        if parameter:
            text += f"; it is the studio parameter {parameter}"
        return text
    if item.get("type") == "exception_during_validation":
        kind = extra.get("exception_type") or "error"
        return f"{name}: {message}: {kind} {details}".rstrip() + _links_hint(
            node, details, workflow
        )
    return f"{name}: {message}" + (f" ({details})" if details else "")


def _links_hint(node: str, details: str, workflow: dict[str, Any]) -> str:
    """Which linked input a validation exception is about, from the workflow itself."""
    inputs = (workflow.get(node) or {}).get("inputs") or {}
    links = {
        name: value
        for name, value in inputs.items()
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
    }
    missing = [name for name, (source, _) in links.items() if source not in workflow]
    if missing:
        name = missing[0]
        return f' — input "{name}" links to node {links[name][0]}, which the workflow lacks'
    if "index" in details and links:
        parts = [
            f'input "{n}" takes output {slot} of node {src}' for n, (src, slot) in links.items()
        ]
        return " — " + ", ".join(parts) + "; is that output there?"
    return ""


def _parameter_of(bound: dict[str, dict[str, Any]], node: str, input_name: str) -> str | None:
    for parameter, binding in bound.items():
        for target in binding.get("inputs") or []:
            if str(target.get("node")) == node and target.get("input") == input_name:
                return f"{parameter} = {binding.get('value')!r}"
    return None


def execution_error(
    details: dict[str, Any], workflow: dict[str, Any], title: Callable[[str], str]
) -> str:
    """A node raised while ComfyUI ran the workflow."""
    node = str(details.get("node_id") or "?")
    kind = details.get("exception_type") or "error"
    message = " ".join(str(details.get("exception_message") or "").split())
    label = title(node) if node in workflow else node
    return (
        f'ComfyUI failed in node {node} "{label}" ({details.get("node_type")}): {kind}: {message}'
    )
