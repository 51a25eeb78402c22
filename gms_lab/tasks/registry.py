"""The pipeline registry: every `pipelines/<id>/pipeline.toml`, validated."""

from __future__ import annotations

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
    """A pipeline.toml that could not be loaded: where, and which field is at fault."""

    path: str
    field: str
    message: str


class PipelineRegistry:
    """Every pipeline found under the configured folders; bad files are reported, not fatal."""

    def __init__(self, roots: list[Path]) -> None:
        self.pipelines: dict[str, PipelineSpec] = {}
        self.errors: list[RegistryError] = []
        for root in roots:
            for toml in sorted(root.glob("*/pipeline.toml")):
                self._load(root, toml)

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
        self.errors.append(RegistryError(path=str(toml), field=field, message=message))

    def get(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline with that id, or `NotFound` listing the known ones."""
        try:
            return self.pipelines[pipeline_id]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise NotFound(
                f"Unknown pipeline {pipeline_id!r} (known: {known}).", {"pipeline": pipeline_id}
            ) from None
