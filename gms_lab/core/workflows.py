"""ComfyUI workflow templates: where they live, what they take, and a take's values bound in.

A template is a workflow in ComfyUI's API format (`<name>.json`, as "Export (API)" writes it)
with a binding file beside it (`<name>.binding.toml`) that maps studio parameters to node
inputs and names the quality tiers that pick it:

    title = "Text to image"
    tiers = ["standard"]          # this tier's take uses this template unless one is named
    outputs = ["9"]               # optional: the nodes whose saved files are the take

    [parameters.prompt]
    node = "6"
    input = "text"

    [parameters.seed]             # one parameter may feed several inputs
    targets = [{ node = "3", input = "seed" }, { node = "12", input = "noise_seed" }]

Templates live in the workspace's `Library/Pipeline_Templates/` and in a project's
`02_Source_Creative/workflows/` (a project's template shadows a library one of the same name).
No network here: ComfyUI itself judges the workflow when the pipeline queues it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import shutil
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..models import CamelModel, Quality
from .errors import InvalidInput, NotFound, UnsafePath
from .limits import whole_number
from .paths import resolve_inside
from .workspace import Workspace

log = logging.getLogger(__name__)
LIBRARY_FOLDER = "Pipeline_Templates"
PROJECT_FOLDER = "02_Source_Creative/workflows"
BINDING_SUFFIX = ".binding.toml"
#: Template files larger than this are refused (a workflow is text of a few KB to a few MB).
MAX_TEMPLATE_BYTES = 16 * 1024**2
#: The parameter whose value is a project file the pipeline uploads to ComfyUI first.
UPLOADED = "init_image"
#: Parameters the studio fills in itself: a template need not bind them.
STUDIO_FILLED = frozenset({"seed"})
ParamKind = Literal["string", "integer", "number", "boolean", "image"]
_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "image": (str,),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeInput(_Strict):
    """One input of one node of the workflow."""

    node: str
    input: str


class BindingParameter(_Strict):
    """How one studio parameter reaches the workflow."""

    node: str | None = None
    input: str | None = None
    targets: list[NodeInput] = Field(default_factory=list)
    type: ParamKind | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def inputs(self) -> list[NodeInput]:
        """Every node input this parameter sets."""
        first = [NodeInput(node=self.node, input=self.input)] if self.node and self.input else []
        return first + list(self.targets)


class Binding(_Strict):
    """A template's binding file."""

    title: str = ""
    description: str = ""
    tiers: list[Quality] = Field(default_factory=list)
    media: Literal["image", "video", "audio"] = "image"
    outputs: list[str] = Field(default_factory=list)
    parameters: dict[str, BindingParameter] = Field(default_factory=dict)


class TemplateParameter(CamelModel):
    """A parameter a template takes, as the generate dialog shows it."""

    name: str
    type: ParamKind
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    node: str
    input: str
    node_title: str


class TemplateInfo(CamelModel):
    """A template as listed: what it is, where it lives, what it takes, or why it cannot run."""

    name: str
    title: str
    description: str = ""
    source: Literal["project", "library"]
    path: str
    tiers: list[Quality] = Field(default_factory=list)
    media: str = "image"
    parameters: list[TemplateParameter] = Field(default_factory=list)
    sha256: str = ""
    error: str | None = None


class TemplateList(CamelModel):
    """Every template a project can use, and the one each tier picks (None: none does)."""

    templates: list[TemplateInfo]
    tiers: dict[Quality, str | None]


@dataclass(frozen=True)
class Template:
    """A template read from disk and checked."""

    name: str
    source: Literal["project", "library"]
    path: Path
    shown_path: str
    workflow: dict[str, Any]
    binding: Binding
    sha256: str
    binding_sha256: str
    parameters: dict[str, TemplateParameter]


class WorkflowTemplates:
    """The templates of a workspace and its projects."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def library(self) -> Path:
        """The workspace's template folder."""
        return self.workspace.library_dir / LIBRARY_FOLDER

    def _folders(
        self, project_root: Path | None
    ) -> list[tuple[Literal["project", "library"], Path]]:
        folders: list[tuple[Literal["project", "library"], Path]] = []
        if project_root is not None:
            folders.append(("project", project_root / PROJECT_FOLDER))
        folders.append(("library", self.library))
        return folders

    def _files(
        self, project_root: Path | None
    ) -> dict[str, tuple[Literal["project", "library"], Path]]:
        found: dict[str, tuple[Literal["project", "library"], Path]] = {}
        for source, folder in self._folders(project_root):
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                if path.name.startswith(".") or not path.is_file():
                    continue
                found.setdefault(path.stem, (source, path))
        return found

    def listing(self, project_root: Path | None, allowed: Collection[str]) -> TemplateList:
        """Every template, checked (a broken one is listed with its error), and the tiers' picks."""
        infos: list[TemplateInfo] = []
        usable: list[Template] = []
        for name, (source, path) in sorted(self._files(project_root).items()):
            try:
                template = self._read(name, source, path, project_root, allowed)
            except InvalidInput as exc:
                infos.append(
                    TemplateInfo(
                        name=name,
                        title=name,
                        source=source,
                        path=self._shown(path, project_root),
                        error=exc.message,
                    )
                )
                continue
            usable.append(template)
            binding = template.binding
            infos.append(
                TemplateInfo(
                    name=name,
                    title=binding.title or name,
                    description=binding.description,
                    source=source,
                    path=template.shown_path,
                    tiers=binding.tiers,
                    media=binding.media,
                    parameters=list(template.parameters.values()),
                    sha256=template.sha256,
                )
            )
        picks = {quality: _pick(usable, quality, {}) for quality in Quality}
        return TemplateList(
            templates=infos, tiers={q: (t.name if t else None) for q, t in picks.items()}
        )

    def get(self, name: str, project_root: Path | None, allowed: Collection[str]) -> Template:
        """The template called `name` (the project's first), checked."""
        found = self._files(project_root).get(name)
        if found is None:
            known = ", ".join(sorted(self._files(project_root))) or "none yet"
            raise NotFound(
                f"No ComfyUI template {name!r} in the project's {PROJECT_FOLDER}/ or the "
                f"library's {LIBRARY_FOLDER}/ (templates: {known}).",
                {"template": name},
            )
        source, path = found
        return self._read(name, source, path, project_root, allowed)

    def choose(
        self,
        parameters: dict[str, Any],
        quality: Quality,
        project_root: Path | None,
        allowed: Collection[str],
    ) -> Template:
        """The template a take uses: the one named, else the one its tier picks."""
        name = parameters.get("template")
        if name:
            return self.get(str(name), project_root, allowed)
        usable = []
        for template_name, (source, path) in sorted(self._files(project_root).items()):
            try:
                usable.append(self._read(template_name, source, path, project_root, allowed))
            except InvalidInput:
                continue
        chosen = _pick(usable, quality, parameters)
        if chosen is None:
            wanted = " that binds init_image" if parameters.get(UPLOADED) else ""
            raise InvalidInput(
                f"No ComfyUI template of the {quality.value} tier{wanted}: add "
                f'tiers = ["{quality.value}"] to a template\'s binding file, or name a '
                "template (parameter template).",
                {"tier": quality.value},
            )
        return chosen

    def prepare(
        self,
        parameters: dict[str, Any],
        quality: Quality,
        project_root: Path,
        allowed: Collection[str],
        url: str,
    ) -> dict[str, Any]:
        """The job's `comfyui` block: the template with the take's values bound in."""
        template = self.choose(parameters, quality, project_root, allowed)
        return bind(template, parameters, project_root, url)

    # -- reading and checking -------------------------------------------------------------------
    def _shown(self, path: Path, project_root: Path | None) -> str:
        for root in (project_root, self.workspace.root):
            if root is not None and path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return path.name

    def _read(
        self,
        name: str,
        source: Literal["project", "library"],
        path: Path,
        project_root: Path | None,
        allowed: Collection[str],
    ) -> Template:
        shown = self._shown(path, project_root)
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise InvalidInput(f"{shown} is larger than {MAX_TEMPLATE_BYTES // 1024**2} MB.")
        raw = path.read_bytes()
        try:
            workflow = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(f"{shown} is not JSON: {exc}") from None
        _check_api_format(workflow, shown)
        binding_path = path.with_name(path.stem + BINDING_SUFFIX)
        if not binding_path.is_file():
            raise InvalidInput(
                f"{shown} has no binding file: write {binding_path.name} beside it to say which "
                "studio parameter sets which node input (see the README, ComfyUI templates)."
            )
        binding_raw = binding_path.read_bytes()
        binding_shown = self._shown(binding_path, project_root)
        try:
            binding = Binding.model_validate(tomllib.loads(binding_raw.decode("utf-8")))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"{binding_shown}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(file)"
            raise InvalidInput(f"{binding_shown}: {where}: {first['msg']}") from None
        checked = _check_binding(binding, workflow, binding_shown, allowed)
        return Template(
            name=name,
            source=source,
            path=path,
            shown_path=shown,
            workflow=workflow,
            binding=binding,
            sha256=hashlib.sha256(raw).hexdigest(),
            binding_sha256=hashlib.sha256(binding_raw).hexdigest(),
            parameters=checked,
        )


def _check_api_format(workflow: Any, shown: str) -> None:
    if isinstance(workflow, dict) and "nodes" in workflow and "links" in workflow:
        raise InvalidInput(
            f"{shown} is a workflow as ComfyUI saves it for its editor, not in the API format: "
            'export it with "Export (API)" (Workflow menu; older versions need the dev mode '
            "option) and save that file instead."
        )
    if not isinstance(workflow, dict) or not workflow:
        raise InvalidInput(f"{shown} holds no workflow (an object of nodes by id).")
    for node, spec in workflow.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("class_type"), str):
            raise InvalidInput(f"{shown}: node {node} has no class_type: is this an API export?")
        if not isinstance(spec.get("inputs", {}), dict):
            raise InvalidInput(f"{shown}: node {node} has no inputs object.")


def _check_binding(
    binding: Binding, workflow: dict[str, Any], shown: str, allowed: Collection[str]
) -> dict[str, TemplateParameter]:
    checked: dict[str, TemplateParameter] = {}
    for name, parameter in binding.parameters.items():
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise InvalidInput(f"{shown}: the studio has no parameter {name!r} (it has: {known}).")
        inputs = parameter.inputs()
        if not inputs:
            raise InvalidInput(f"{shown}: parameter {name} names no node and input.")
        kind: ParamKind | None = parameter.type or ("image" if name == UPLOADED else None)
        for target in inputs:
            spec = workflow.get(target.node)
            if not isinstance(spec, dict):
                raise InvalidInput(
                    f"{shown}: parameter {name} sets node {target.node}, which the workflow "
                    f"does not have (its nodes: {', '.join(sorted(workflow, key=_node_order))})."
                )
            inputs_of = spec.get("inputs") or {}
            if target.input not in inputs_of and parameter.type is None:
                raise InvalidInput(
                    f"{shown}: parameter {name} sets input {target.input!r} of node "
                    f"{target.node} ({spec['class_type']}), which has no such input (it has: "
                    f"{', '.join(inputs_of) or 'none'}); give the parameter a type to add it."
                )
            current = inputs_of.get(target.input)
            if isinstance(current, list):
                raise InvalidInput(
                    f"{shown}: input {target.input!r} of node {target.node} is linked to node "
                    f"{current[0]}; a studio parameter can only set a value, not a link."
                )
            kind = kind or _kind_of(current)
        if name == UPLOADED and kind != "image":
            raise InvalidInput(f"{shown}: parameter {UPLOADED} must be of type image.")
        if kind is None:
            raise InvalidInput(f"{shown}: give parameter {name} a type (string, integer, …).")
        first = inputs[0]
        spec = workflow[first.node]
        default = parameter.default
        if default is None:
            default = (spec.get("inputs") or {}).get(first.input)
        checked[name] = TemplateParameter(
            name=name,
            type=kind,
            default=None if kind == "image" else default,
            minimum=parameter.minimum,
            maximum=parameter.maximum,
            description=parameter.description,
            node=first.node,
            input=first.input,
            node_title=str((spec.get("_meta") or {}).get("title") or spec["class_type"]),
        )
    for node in binding.outputs:
        if node not in workflow:
            raise InvalidInput(f"{shown}: outputs names node {node}, which the workflow lacks.")
    return checked


def _kind_of(value: Any) -> ParamKind | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _node_order(node: str) -> tuple[int, str]:
    number = whole_number(node)
    return (number, "") if number is not None else (1 << 30, node)


def _pick(
    templates: Iterable[Template], quality: Quality, parameters: dict[str, Any]
) -> Template | None:
    """The tier's template: the project's before the library's, by name; with an init image,
    one that binds it, without one, one that does not (its LoadImage would have nothing)."""
    wants_image = bool(parameters.get(UPLOADED))
    candidates = [
        t
        for t in templates
        if quality in t.binding.tiers and (UPLOADED in t.parameters) == wants_image
    ]
    candidates.sort(key=lambda t: (t.source != "project", t.name))
    return candidates[0] if candidates else None


def bind(
    template: Template, parameters: dict[str, Any], project_root: Path, url: str
) -> dict[str, Any]:
    """The template's workflow with the take's parameters set, as the job's `comfyui` block."""
    given = {k: v for k, v in parameters.items() if k != "template" and v is not None}
    unbound = sorted(set(given) - set(template.parameters) - STUDIO_FILLED)
    if unbound:
        takes = ", ".join(sorted(template.parameters)) or "no parameters"
        raise InvalidInput(
            f"Template {template.name!r} does not bind {', '.join(unbound)} (it takes: {takes}).",
            {"template": template.name, "unbound": unbound},
        )
    workflow = copy.deepcopy(template.workflow)
    bound: dict[str, dict[str, Any]] = {}
    uploads: list[dict[str, Any]] = []
    binding = template.binding
    for name, parameter in template.parameters.items():
        spec = binding.parameters[name]
        value = given.get(name, spec.default)
        if value is None:
            continue  # unset: the workflow keeps the value it was saved with
        value = _checked(template.name, name, parameter, value)
        targets = [{"node": t.node, "input": t.input} for t in spec.inputs()]
        bound[name] = {"value": value, "inputs": targets}
        if parameter.type == "image":
            try:
                path = resolve_inside(project_root, str(value))
            except UnsafePath as exc:
                raise InvalidInput(f"{name}: {exc.message}", {"parameter": name}) from None
            if not path.is_file():
                raise InvalidInput(
                    f"{name}: no file {value!r} in the project.", {"parameter": name}
                )
            uploads += [{"parameter": name, "path": str(value), **t} for t in targets]
            continue
        for target in targets:
            workflow[target["node"]].setdefault("inputs", {})[target["input"]] = value
    return {
        "url": url,
        "template": {
            "name": template.name,
            "source": template.source,
            "path": template.shown_path,
            "sha256": template.sha256,
            "bindingSha256": template.binding_sha256,
        },
        "workflow": workflow,
        "bound": bound,
        "uploads": uploads,
        "outputs": list(binding.outputs),
    }


def _checked(template: str, name: str, parameter: TemplateParameter, value: Any) -> Any:
    kinds = _KINDS[parameter.type]
    if isinstance(value, bool) and parameter.type in ("integer", "number"):
        kinds = ()
    if not isinstance(value, kinds):
        raise InvalidInput(
            f"Template {template!r}: {name} must be {parameter.type}, not {value!r}.",
            {"parameter": name},
        )
    if parameter.type == "number" and isinstance(value, int | float):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if parameter.minimum is not None and value < parameter.minimum:
            raise InvalidInput(
                f"Template {template!r}: {name} must be ≥ {parameter.minimum:g}.",
                {"parameter": name},
            )
        if parameter.maximum is not None and value > parameter.maximum:
            raise InvalidInput(
                f"Template {template!r}: {name} must be ≤ {parameter.maximum:g}.",
                {"parameter": name},
            )
    return value


def install_examples(workspace: Workspace, sources: Iterable[Path]) -> list[str]:
    """Copy the shipped example templates into a library that has no templates yet.

    Runs once per workspace (a marker remembers it), so examples a user deleted stay deleted.
    """
    folder = workspace.library_dir / LIBRARY_FOLDER
    marker = folder / ".examples-installed"
    try:
        if marker.exists() or any(folder.glob("*.json")):
            return []
        return _copy_examples(folder, marker, sources)
    except OSError as exc:  # a read-only library (a container's mount) keeps what it has
        log.warning("example ComfyUI templates not copied into %s: %s", folder, exc)
        return []


def _copy_examples(folder: Path, marker: Path, sources: Iterable[Path]) -> list[str]:
    copied: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        examples = source / "comfyui" / "templates"
        if not examples.is_dir():
            continue
        for path in sorted(examples.iterdir()):
            wanted = path.suffix == ".json" or path.name.endswith(BINDING_SUFFIX)
            if wanted and path.is_file() and not (folder / path.name).exists():
                shutil.copyfile(path, folder / path.name)
                copied.append(path.name)
    marker.write_text("The studio copied its example ComfyUI templates here once.\n")
    return copied
