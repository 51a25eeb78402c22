"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from tornado import web

from .._version import __version__
from ..models import ErrorBody
from .base import Operation, Route, StudioHandler

VERBS = ("get", "post", "put", "patch", "delete", "head")
#: What the request headers the handlers read hold (others are described as strings).
HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    # the project version, as its ETag says it (quoted forms are accepted as well)
    "If-Match": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
}


def operations(route: Route) -> dict[str, Operation]:
    """The described verbs of a route's handler."""
    out = {}
    for verb in VERBS:
        fn = getattr(route.handler, verb, None)
        op = getattr(fn, "__gms_operation__", None)
        if op is not None:
            out[verb] = op
    return out


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    """An OpenAPI 3.1 document of every route, its bodies, answers and errors."""
    models: set[type[BaseModel]] = {ErrorBody}
    for route in routes:
        for op in operations(route).values():
            models.update(m for m in (op.body, op.response) if m is not None)
    _, schemas = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for route in routes:
        template = re.sub(r"\{(\w+):path\}", r"{\1}", route.template)
        names = re.findall(r"\{(\w+)(?::path)?\}", route.template)
        item: dict[str, Any] = {}
        for verb, op in operations(route).items():
            params: list[dict[str, Any]] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in names
            ]
            for n, described in op.query.items():
                text, schema = (
                    (described, {"type": "string"}) if isinstance(described, str) else described
                )
                params.append(
                    {
                        "name": n,
                        "in": "query",
                        "required": n in op.required,
                        "description": text,
                        "schema": schema,
                    }
                )
            params += [
                {
                    "name": n,
                    "in": "header",
                    "required": False,
                    "description": d,
                    "schema": HEADER_SCHEMAS.get(n, {"type": "string"}),
                }
                for n, d in op.headers.items()
            ]
            responses: dict[str, Any] = {}
            if op.response is not None:
                responses[str(op.status)] = {
                    "description": op.summary,
                    "content": {"application/json": {"schema": _ref(op.response)}},
                }
            else:
                # a download answers with the file's own type
                if verb == "get":
                    content: dict[str, Any] = {"*/*": {"schema": {}}}
                else:
                    binary = {"type": "string", "format": "binary"}
                    content = {op.content or "application/octet-stream": {"schema": binary}}
                responses[str(op.status)] = {"description": op.summary, "content": content}
                if "Range" in op.headers:
                    responses["206"] = {"description": "The range asked for", "content": content}
            for status in op.errors:
                responses[str(status)] = {
                    "description": "Error",
                    "content": {"application/json": {"schema": _ref(ErrorBody)}},
                }
            entry: dict[str, Any] = {
                "summary": op.summary,
                "operationId": f"{verb}_{route.handler.__name__}",
                "parameters": params,
                "responses": responses,
            }
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(op.body)}},
                }
            elif verb == "post" and op.content:
                entry["requestBody"] = {
                    "required": True,
                    "content": {
                        op.content: {"schema": {"type": "string", "format": "binary"}},
                        "multipart/form-data": {"schema": {"type": "object"}},
                    },
                }
            item[verb] = entry
        paths[template] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Generative Media Studio", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {**schemas.get("$defs", {}), "FreeJson": FREE_JSON},
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
        "security": [{"token": []}],
    }


#: A free-form JSON value (properties, canvas parts, parameters) as the server takes it:
#: integers within 64 bits, finite numbers. Depth and sizes are bounded by the JSON limits
#: (settings), which JSON Schema cannot say; beyond them the server answers 400 or 413. Nor
#: can it tell an integer written out (beyond 64 bits: 400) from a float of the same value
#: (3.9e+115 is whole, so "an integer" to JSON Schema, and kept as given): any finite number
#: is a number here.
FREE_JSON: dict[str, Any] = {
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**64 - 1},
        {"type": "number"},
        {"type": "string"},
        {"type": "array", "items": {"$ref": "#/components/schemas/FreeJson"}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/FreeJson"}},
    ]
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


class OpenAPIHandler(StudioHandler):
    """`/gms/api/openapi.json`."""

    @web.authenticated
    async def get(self) -> None:
        self.finish(openapi_document(self.settings["gms_routes"]))
