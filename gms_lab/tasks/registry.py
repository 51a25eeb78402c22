"""The pipeline registry: every `pipelines/<id>/pipeline.toml`, validated."""

from __future__ import annotations

import importlib.util
import logging
import math
import tomllib
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from ..core.errors import InvalidInput, NotFound
from ..models import Quality

log = logging.getLogger(__name__)
ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ParameterSpec(_Spec):
    """One typed parameter of a pipeline, with its default and bounds."""

    type: ParamType
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    enum: list[Any] | None = None
    multiple_of: int | None = Field(None, ge=1)
    #: Where the value comes from besides the user: "models" names a model of the library,
    #: "templates" a workflow template of the pipeline (`GET pipelines/{id}/templates`).
    source: Literal["models", "templates"] | None = None
    description: str = ""

    def check(self, name: str, value: Any) -> Any:
        """`value` if it fits this parameter, else `InvalidInput` saying why."""
        ok = _PY_TYPES[self.type]
        if isinstance(value, bool) and self.type in ("integer", "number"):
            ok = ()
        if self.type == "number" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, ok):
            raise InvalidInput(
                f"Parameter {name!r} must be of type {self.type}, not {type(value).__name__}.",
                {"parameter": name},
            )
        number = float(cast(float, value)) if self.type in ("integer", "number") else None
        if number is not None and not math.isfinite(number):
            raise InvalidInput(
                f"Parameter {name!r} must be a finite number, not {number!r}.", {"parameter": name}
            )
        if number is not None and self.minimum is not None and number < self.minimum:
            raise InvalidInput(f"Parameter {name!r} must be ≥ {self.minimum}.", {"parameter": name})
        if number is not None and self.maximum is not None and number > self.maximum:
            raise InvalidInput(f"Parameter {name!r} must be ≤ {self.maximum}.", {"parameter": name})
        if number is not None and self.multiple_of and number % self.multiple_of:
            raise InvalidInput(
                f"Parameter {name!r} must be a multiple of {self.multiple_of}.",
                {"parameter": name},
            )
        if self.enum is not None and value not in self.enum:
            raise InvalidInput(
                f"Parameter {name!r} must be one of {self.enum}.", {"parameter": name}
            )
        return value


class TierSpec(_Spec):
    """What a quality tier runs: the pipeline build, its image, resources and parameters."""

    pipeline_id: str
    image: str
    target_vram: int = Field(ge=0)
    memory: str = "2g"
    gpu: bool = False
    optimizations: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Requirements(_Spec):
    """What a pipeline needs in the Python that runs it, and how to get it."""

    #: Top-level module names, looked up (never imported) to tell whether the pipeline can run.
    python: list[str] = Field(default_factory=list)
    hint: str = ""

    def missing(self) -> list[str]:
        """The modules that cannot be found in this Python environment."""
        return [name for name in self.python if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class PipelineSpec(_Spec):
    """A pipeline.toml: what the pipeline is, how to start it, its parameters and tiers."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    version: str
    media: Literal["image", "video", "audio"]
    description: str = ""
    entry: list[str] = Field(min_length=1)
    timeout: float = Field(120, gt=0)
    network: bool = False
    warm: bool = True
    produces: Literal["take", "export", "thumbnail"] = "take"
    #: Takes of one submit a worker runs from one queue message: more than 1 for a pipeline
    #: whose takes are quick (the queue's cost per message counts), 1 where a take takes long
    #: (the takes of a submit then spread over all the workers).
    takes_per_message: int = Field(1, ge=1, le=64)
    #: Jobs a busy warm program is sent besides the one it runs, when all of the pool's
    #: programs are busy: their lines wait in its stdin, so it starts the next job the moment
    #: it answers one instead of waiting for the worker to send it. For quick takes, where that
    #: wait counts; the program must run its jobs one after the other and read cancel lines
    #: while it works (`gms_pipeline.serve` does both).
    jobs_ahead: int = Field(0, ge=0, le=8)
    #: The kind of templates the pipeline runs (`comfyui`: ComfyUI workflow templates); the
    #: worker binds the chosen one into the job line.
    templates: Literal["comfyui"] | None = None
    requires: Requirements = Field(default_factory=Requirements)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    tiers: dict[Quality, TierSpec]
    #: The folder holding the pipeline folders (the working dir of local processes).
    root: Path = Field(Path("."), exclude=True)

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, tiers: dict[Quality, TierSpec]) -> dict[Quality, TierSpec]:
        missing = [q.value for q in Quality if q not in tiers]
        if missing:
            raise ValueError(f"missing tiers: {', '.join(missing)}")
        return tiers

    def model_parameters(self) -> list[str]:
        """The parameters whose value names a model of the library."""
        return [name for name, p in self.parameters.items() if p.source == "models"]

    def tier(self, quality: Quality) -> TierSpec:
        """The tier for a project quality."""
        return self.tiers[quality]

    def resolve(self, quality: Quality, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults < tier parameters < the user's: checked, unknown names refused."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise InvalidInput(
                f"Pipeline {self.id!r} has no parameter {', '.join(map(repr, unknown))} "
                f"(it takes: {known}).",
                {"unknown": unknown},
            )
        merged = {name: p.default for name, p in self.parameters.items() if p.default is not None}
        merged.update(self.tier(quality).parameters)
        merged.update(given)
        return {
            name: self.parameters[name].check(name, value) if name in self.parameters else value
            for name, value in merged.items()
        }


class RegistryError(BaseModel):
    """A pipeline.toml that could not be loaded: where (`<folder>/pipeline.toml`, in its
    pipelines folder), and which field is at fault."""

    path: str
    field: str
    message: str


class Availability(BaseModel):
    """Whether a pipeline can run in this Python environment, and if not what to install."""

    available: bool
    missing: list[str] = Field(default_factory=list)
    hint: str = ""


class PipelineRegistry:
    """Every pipeline found under the configured folders; bad files are reported, not fatal."""

    def __init__(self, roots: list[Path]) -> None:
        self.pipelines: dict[str, PipelineSpec] = {}
        self.errors: list[RegistryError] = []
        self._availability: dict[str, Availability] = {}
        for root in roots:
            for toml in sorted(root.glob("*/pipeline.toml")):
                self._load(root, toml)

    def availability(self, pipeline_id: str) -> Availability:
        """Whether the pipeline's Python requirements are installed (looked up once)."""
        if pipeline_id not in self._availability:
            requires = self.get(pipeline_id).requires
            missing = requires.missing()
            self._availability[pipeline_id] = Availability(
                available=not missing, missing=missing, hint=requires.hint if missing else ""
            )
        return self._availability[pipeline_id]

    def require_available(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline, or `InvalidInput` saying what to install for it."""
        spec = self.get(pipeline_id)
        state = self.availability(pipeline_id)
        if not state.available:
            raise InvalidInput(
                f"Pipeline {pipeline_id!r} is unavailable: {', '.join(state.missing)} "
                f"{'is' if len(state.missing) == 1 else 'are'} not installed. {state.hint}".strip(),
                {"pipeline": pipeline_id, "missing": state.missing, "hint": state.hint},
            )
        return spec

    def _load(self, root: Path, toml: Path) -> None:
        try:
            data = tomllib.loads(toml.read_text(encoding="utf-8"))
            spec = PipelineSpec.model_validate({**data, "root": root.resolve()})
        except tomllib.TOMLDecodeError as exc:
            self._error(toml, "(syntax)", str(exc))
            return
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self._error(toml, ".".join(str(p) for p in err["loc"]) or "(file)", err["msg"])
            return
        if spec.id in self.pipelines:
            self._error(toml, "id", f"pipeline {spec.id!r} is defined twice")
            return
        self.pipelines[spec.id] = spec

    def _error(self, toml: Path, field: str, message: str) -> None:
        log.error("pipeline %s: %s: %s", toml, field, message)
        # clients see where it is among the pipelines, not where the server keeps them
        where = f"{toml.parent.name}/{toml.name}"
        self.errors.append(RegistryError(path=where, field=field, message=message))

    def get(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline with that id, or `NotFound` listing the known ones."""
        try:
            return self.pipelines[pipeline_id]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise NotFound(
                f"Unknown pipeline {pipeline_id!r} (known: {known}).", {"pipeline": pipeline_id}
            ) from None
