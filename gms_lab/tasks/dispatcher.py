"""The quality dispatcher: a project's quality picks the tier a pipeline runs at."""

from __future__ import annotations

from typing import Any

from ..models import Quality
from .registry import PipelineRegistry, PipelineSpec, TierSpec


class Dispatcher:
    """Maps (pipeline, project quality) to the tier to run."""

    def __init__(self, registry: PipelineRegistry) -> None:
        self.registry = registry

    def dispatch(self, pipeline_id: str, quality: Quality) -> tuple[PipelineSpec, TierSpec]:
        """The pipeline and its tier for a project of `quality`."""
        spec = self.registry.get(pipeline_id)
        return spec, spec.tier(quality)

    def mappings(self) -> dict[str, dict[str, Any]]:
        """Every pipeline's tiers by quality, as the API shows them."""
        return {
            spec.id: {
                quality.value: tier.model_dump(mode="json", by_alias=True)
                for quality, tier in spec.tiers.items()
            }
            for spec in self.registry.pipelines.values()
        }
