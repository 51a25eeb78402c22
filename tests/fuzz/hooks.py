"""Schemathesis hooks of the API fuzz run (loaded through SCHEMATHESIS_HOOKS).

- `no_server_path`: no answer carries a path of the server's disk (the workspace, the
  repository, the temp folder), except the workspace configuration and the model library's
  folder, which are about them. A path the request itself sent (the fuzzer finds the model
  folder in the listing and sends it back as a folder name) may come back in the error.
- The coverage phase's requests without the `Authorization` header are left out: schemathesis
  expects 401 for them, the server answers 403 (Jupyter's answer, declared in the document), and
  `tests/integration/test_auth_and_openapi.py` asserts that for every route.
- A "created resource not found" failure is dropped when the 404 is about another thing the
  request named in its body (a node, by its error code `node_not_found`), not about the
  project just created: that project is there, the body pointed at something that is not.
- Every answer is counted into a JSON lines file named by GMS_FUZZ_TALLY (status per request).
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

_FORBIDDEN = [p for p in os.environ.get("GMS_FUZZ_FORBIDDEN", "").split(os.pathsep) if p]
#: Answers that are about the server's folders (where the workspace and the model library are).
_ABOUT_PATHS = {"/gms/api/workspace/config", "/gms/api/models"}


@schemathesis.check
def no_server_path(ctx: Any, response: Any, case: Any) -> bool | None:
    """No error message or answer shows where the server keeps its files."""
    if case.operation.path in _ABOUT_PATHS:
        return None
    text = response.content.decode("utf-8", "replace")
    sent = json.dumps([case.path_parameters, case.query, case.body], default=str)
    for path in _FORBIDDEN:
        if path in sent or json.dumps(path)[1:-1] in sent:
            continue  # the request named it (found in another answer): echoing it leaks nothing
        if path in text or json.dumps(path)[1:-1] in text:
            raise AssertionError(f"The answer shows a server path ({path})")
    return None


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave out the coverage phase's Authorization-header cases (see the module's docstring)."""
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    parameter = getattr(data, "parameter", None)
    return not (isinstance(parameter, str) and parameter.lower() == "authorization")


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Tally every answer: operation and status."""
    tally = os.environ.get("GMS_FUZZ_TALLY")
    if tally:
        with open(tally, "a", encoding="utf-8") as fh:
            line = {"op": f"{case.method} {case.operation.path}", "status": response.status_code}
            fh.write(json.dumps(line) + "\n")


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a 404 about a node named in the body (see the docstring)."""
    if type(failure).__name__ != "EnsureResourceAvailability":
        return True
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return bool(code != "node_not_found")
