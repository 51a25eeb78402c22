"""How large and deep the JSON a client sends may be: read and checked before anything is written.

Free-form values (a shot's `properties`, the `canvas`, a task's `parameters`) end up in
`project.json`, in Redis and in every later answer, so one careless or hostile request must not
be able to make them unreadable (too deep for the parser), huge, or invalid (NaN, lone
surrogates, integers beyond 64 bits). Every JSON body and WebSocket message is read here,
and values that arrive as Python objects (the notebook) are checked here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pydantic_core

from ..config import StudioConfig
from .errors import InvalidInput, TooLarge

#: The integers a manifest can hold (its writer, orjson, takes 64-bit signed or unsigned).
_INT_RANGE = range(-(2**63), 2**64)
#: How much of the place of a fault is shown (`properties.a.a.a…`).
_WHERE_PARTS = 8


@dataclass(frozen=True)
class JsonLimits:
    """The limits of one configuration (see `StudioConfig`: `max_json_bytes`, `json_max_*`)."""

    max_bytes: int = 8 * 1024**2
    max_depth: int = 32
    max_keys: int = 10_000
    max_string: int = 1_000_000

    @classmethod
    def of(cls, config: StudioConfig) -> JsonLimits:
        """The limits a configuration sets."""
        return cls(
            max_bytes=config.max_json_bytes,
            max_depth=config.json_max_depth,
            max_keys=config.json_max_keys,
            max_string=config.json_max_string,
        )


def read_json(raw: bytes | str, limits: JsonLimits, what: str = "The body") -> Any:
    """Parse JSON a client sent, within `limits`; `TooLarge` (413) or `InvalidInput` (400).

    Refused: more than `max_bytes`, invalid JSON, `NaN`/`Infinity`, numbers out of range,
    lone surrogates, and whatever `check` refuses. The parser has its own depth guard, so a
    body nested 100,000 deep is refused without recursing.
    """
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > limits.max_bytes:
        raise TooLarge(
            f"{what} is {size:,} bytes; the limit is {limits.max_bytes:,} bytes.",
            {"limit": limits.max_bytes, "size": size},
        )
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        reason = _plain(str(exc))
        raise InvalidInput(f"{what} is not valid JSON: {reason}.", {"reason": reason}) from exc
    check(value, limits, what)
    return value


def check(value: Any, limits: JsonLimits, what: str, *, measure: bool = False) -> None:
    """Refuse a JSON value (parsed, or built in Python) that breaks `limits`.

    Depth (objects and arrays inside each other, counted from `value`), the number of object
    keys, the length of every string and key, text that is not Unicode (lone surrogates),
    numbers that are not finite or too long, and values that are not JSON at all. With
    `measure`, the size of the value as JSON counts against `max_bytes` too (bodies are
    measured before they are parsed).
    """
    keys = 0
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth + 1 > limits.max_depth:
                raise InvalidInput(
                    f"{what} nests objects and arrays deeper than {limits.max_depth} levels "
                    f"(at {_where(where)}).",
                    {"limit": limits.max_depth, "at": _where(where)},
                )
            if isinstance(item, dict):
                keys += len(item)
                if keys > limits.max_keys:
                    raise TooLarge(
                        f"{what} holds more than {limits.max_keys:,} object keys.",
                        {"limit": limits.max_keys},
                    )
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InvalidInput(
                            f"{what} has a key that is not text (at {_where(where)}).",
                            {"at": _where(where)},
                        )
                    _check_text(key, limits, what, where)
                    stack.append((child, depth + 1, (*where, key)))
            else:
                stack.extend((child, depth + 1, (*where, f"[{i}]")) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, limits, what, where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if item not in _INT_RANGE:
                raise InvalidInput(
                    f"{what} holds an integer beyond 64 bits (at {_where(where)}).",
                    {"at": _where(where)},
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(
                    f"{what} holds {item!r}, which is not a JSON number (at {_where(where)}).",
                    {"at": _where(where)},
                )
        else:
            raise InvalidInput(
                f"{what} holds a {type(item).__name__}, which is not JSON (at {_where(where)}).",
                {"at": _where(where)},
            )
    if measure:
        size = len(pydantic_core.to_json(value))
        if size > limits.max_bytes:
            raise TooLarge(
                f"{what} is {size:,} bytes as JSON; the limit is {limits.max_bytes:,} bytes.",
                {"limit": limits.max_bytes, "size": size},
            )


def _check_text(text: str, limits: JsonLimits, what: str, where: tuple[str, ...]) -> None:
    if len(text) > limits.max_string:
        raise TooLarge(
            f"{what} holds a string of {len(text):,} characters; the limit is "
            f"{limits.max_string:,} (at {_where(where)}).",
            {"limit": limits.max_string, "at": _where(where)},
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"{what} holds text with a lone surrogate (\\u{ord(text[exc.start]):04x}), "
            f"which is not Unicode (at {_where(where)}).",
            {"at": _where(where)},
        ) from exc


def _where(where: tuple[str, ...]) -> str:
    if not where:
        return "the top"
    shown = "".join(p if p.startswith("[") else f".{p[:40]}" for p in where[:_WHERE_PARTS])
    return shown.lstrip(".") + ("…" if len(where) > _WHERE_PARTS else "")


def _plain(reason: str) -> str:
    """The parser's reason in words a user reads (`recursion limit exceeded` → nested too deep)."""
    if reason.startswith("recursion limit exceeded"):
        return "nested too deeply" + reason.removeprefix("recursion limit exceeded")
    if reason.startswith("number out of range"):
        return "a number out of range" + reason.removeprefix("number out of range")
    return reason


def whole_number(text: str | None, digits: int = 18) -> int | None:
    """The number `text` writes in ASCII digits (at most `digits` of them), else None.

    Not `str.isdigit`, which is also true of '²' or '①' (that `int` refuses: a 500 where a
    query parameter or a header held one).
    """
    if not text or len(text) > digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
