"""Every route is behind Jupyter's auth, and every route is in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from tornado.httpclient import HTTPClientError

from gms_lab.handlers import ROUTES
from gms_lab.handlers.openapi import VERBS
from tests.conftest import Api


def concrete(template: str) -> str:
    return (
        template.replace("{project_id}", "harbour")
        .replace("{node_id}", "sh_x")
        .replace("{path:path}", "project.json")
        .replace("{task_id}", "t1")
    )


def verbs_of(handler: type) -> list[str]:
    return [
        v
        for v in VERBS
        if v in handler.__dict__
        or any(
            v in base.__dict__ for base in handler.__mro__ if base.__module__.startswith("gms_lab")
        )
    ]


async def test_every_handler_refuses_unauthenticated_requests(
    api: Api, jp_fetch: Any, jp_serverapp: Any
) -> None:
    await api.call("POST", "projects", {"name": "Harbour"})
    # this server's token must not be sent: drop the identity provider's token for the checks
    checked = 0
    for route in ROUTES:
        for verb in verbs_of(route.handler):
            url = concrete(route.template).strip("/").split("/")
            body = b"{}" if verb in ("post", "patch", "put") else None
            with pytest.raises(HTTPClientError) as info:
                await jp_fetch(
                    *url,
                    method=verb.upper(),
                    body=body,
                    headers={"Authorization": ""},
                    allow_nonstandard_methods=True,
                )
            assert info.value.code == 403, (verb, route.template)
            checked += 1
    assert checked >= 15


async def test_openapi_lists_every_route_and_validates(api: Api) -> None:
    status, doc = await api.call("GET", "openapi.json")
    assert status == 200
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        template = route.template.replace(":path}", "}")
        assert template in doc["paths"], template
        for verb in verbs_of(route.handler):
            if verb == "head" or route.template.endswith("openapi.json"):
                continue
            assert verb in doc["paths"][template], (verb, template)
    create = doc["paths"]["/gms/api/projects"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Project"
    }
    assert "409" in create["responses"]
    # the document's schemas are valid JSON Schema and describe real answers
    schemas = doc["components"]["schemas"]
    status, project = await api.call("POST", "projects", {"name": "Harbour"})
    assert status == 201
    jsonschema.validate(
        project, {"$ref": "#/components/schemas/Project", "components": doc["components"]}
    )
    assert "ErrorBody" in schemas


async def test_openapi_says_what_the_server_answers(api: Api) -> None:
    status, doc = await api.call("GET", "openapi.json")
    assert status == 200
    for path, item in doc["paths"].items():
        for verb, op in item.items():
            # a request without a token is refused with 403, never 401
            assert "403" in op["responses"] and "401" not in op["responses"], (verb, path)
            for param in op["parameters"]:
                if param["name"] == "If-Match":
                    assert param["schema"]["type"] == "integer", (verb, path)
    status, _ = await api.call("POST", "projects", {"name": "Harbour"})
    assert status == 201
    for bad in ("*", "abc", "", "1.5", "-1", "3 4"):
        status, answer = await api.call(
            "PATCH", "projects/harbour", {"quality": "low"}, headers={"If-Match": bad}
        )
        assert status == 400 and "If-Match" in answer["error"]["message"], (bad, answer)
    for good in ("1", '"2"', 'W/"3"'):
        status, answer = await api.call(
            "PATCH", "projects/harbour", {"quality": "low"}, headers={"If-Match": good}
        )
        assert status == 200, (good, answer)
