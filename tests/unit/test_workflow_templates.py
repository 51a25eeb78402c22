"""ComfyUI workflow templates on disk: a user drops an exported workflow and its binding into the
library or a project, and the studio checks it, lists it, picks it by tier and binds a take in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gms_lab.config import builtin_pipelines_dir
from gms_lab.core.errors import InvalidInput, NotFound
from gms_lab.core.workflows import WorkflowTemplates, install_examples
from gms_lab.core.workspace import Workspace
from gms_lab.models import Quality

ALLOWED = {"prompt", "negative_prompt", "seed", "width", "height", "steps", "cfg", "init_image"}
ALLOWED |= {"strength", "frames"}
EXAMPLES = builtin_pipelines_dir() / "comfyui" / "templates"


def workflow() -> dict[str, Any]:
    return json.loads((EXAMPLES / "txt2img.json").read_text())


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path / "ws")
    space.scaffold()
    return space


def drop(folder: Path, name: str, flow: Any, binding: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(flow))
    if binding is not None:
        (folder / f"{name}.binding.toml").write_text(binding)


def error_of(workspace: Workspace, flow: Any, binding: str) -> str:
    drop(workspace.library_dir / "Pipeline_Templates", "t", flow, binding)
    with pytest.raises(InvalidInput) as refused:
        WorkflowTemplates(workspace).get("t", None, ALLOWED)
    return refused.value.message


def test_a_binding_that_does_not_fit_its_workflow_says_exactly_why(workspace: Workspace) -> None:
    flow = workflow()
    assert "node 99, which the workflow does not have" in error_of(
        workspace, flow, '[parameters.seed]\nnode = "99"\ninput = "seed"\n'
    )
    assert "sets input 'noise' of node 3 (KSampler), which has no such input" in error_of(
        workspace, flow, '[parameters.seed]\nnode = "3"\ninput = "noise"\n'
    )
    assert "is linked to node 4; a studio parameter can only set a value" in error_of(
        workspace, flow, '[parameters.steps]\nnode = "3"\ninput = "model"\n'
    )
    assert "the studio has no parameter 'denoise'" in error_of(
        workspace, flow, '[parameters.denoise]\nnode = "3"\ninput = "denoise"\n'
    )
    assert "tiers.0: Input should be 'low', 'standard' or 'high'" in error_of(
        workspace, flow, 'tiers = ["ultra"]\n'
    )
    editor = {"nodes": [], "links": [], "version": 0.4}
    assert 'export it with "Export (API)"' in error_of(workspace, editor, "")


def test_the_tier_picks_the_projects_template_first_and_one_that_fits_the_init_image(
    workspace: Workspace, tmp_path: Path
) -> None:
    library = workspace.library_dir / "Pipeline_Templates"
    project = tmp_path / "project"
    drop(library, "b-library", workflow(), 'tiers = ["standard"]\n')
    drop(library, "a-library", workflow(), 'tiers = ["standard"]\n')
    templates = WorkflowTemplates(workspace)
    assert templates.choose({}, Quality.standard, project, ALLOWED).name == "a-library"
    own = project / "02_Source_Creative" / "workflows"
    drop(own, "z-project", workflow(), 'tiers = ["standard"]\n')
    assert templates.choose({}, Quality.standard, project, ALLOWED).name == "z-project"
    shutil.copy(EXAMPLES / "img2img.json", library / "img2img.json")
    shutil.copy(EXAMPLES / "img2img.binding.toml", library / "img2img.binding.toml")
    chosen = templates.choose({"init_image": "x.png"}, Quality.standard, project, ALLOWED)
    assert chosen.name == "img2img"
    with pytest.raises(InvalidInput, match='add tiers = \\["high"\\]'):
        templates.choose({}, Quality.high, project, ALLOWED)
    with pytest.raises(NotFound, match="templates: a-library, b-library, img2img, z-project"):
        templates.choose({"template": "gone"}, Quality.high, project, ALLOWED)


def test_a_takes_values_are_bound_into_every_input_they_feed(
    workspace: Workspace, tmp_path: Path
) -> None:
    assert install_examples(workspace, [builtin_pipelines_dir()])
    templates = WorkflowTemplates(workspace)
    project = tmp_path / "project"
    (project / "01_Assets" / "Characters").mkdir(parents=True)
    (project / "01_Assets" / "Characters" / "hero.png").write_bytes(b"png")

    block = templates.prepare(
        {"prompt": "fog", "seed": 5, "cfg": 6}, Quality.high, project, ALLOWED, "http://c:1"
    )
    assert block["template"]["name"] == "txt2img-hires"
    flow = block["workflow"]
    assert flow["3"]["inputs"]["seed"] == flow["11"]["inputs"]["seed"] == 5
    assert flow["3"]["inputs"]["cfg"] == flow["11"]["inputs"]["cfg"] == 6.0  # a number
    assert flow["6"]["inputs"]["text"] == "fog"
    assert flow["7"]["inputs"]["text"] == "blurry, text, watermark"  # unset: as exported
    assert block["bound"]["seed"]["inputs"] == [
        {"node": "3", "input": "seed"},
        {"node": "11", "input": "seed"},
    ]

    image = templates.prepare(
        {"init_image": "01_Assets/Characters/hero.png", "strength": 0.4},
        Quality.low,
        project,
        ALLOWED,
        "http://c:1",
    )
    assert image["template"]["name"] == "img2img"
    assert image["uploads"] == [
        {"parameter": "init_image", "path": "01_Assets/Characters/hero.png"}
        | {"node": "10", "input": "image"}
    ]
    assert image["workflow"]["3"]["inputs"]["denoise"] == 0.4
    with pytest.raises(InvalidInput, match=r"may not contain '\.\.'"):
        templates.prepare({"init_image": "../x.png"}, Quality.low, project, ALLOWED, "")
    with pytest.raises(InvalidInput, match=r"no file '01_Assets/none\.png' in the project"):
        templates.prepare({"init_image": "01_Assets/none.png"}, Quality.low, project, ALLOWED, "")
    with pytest.raises(InvalidInput, match="steps must be ≤ 150"):
        templates.prepare({"steps": 400}, Quality.standard, project, ALLOWED, "")


def test_the_examples_are_copied_once_so_a_deleted_one_stays_deleted(
    workspace: Workspace,
) -> None:
    folder = workspace.library_dir / "Pipeline_Templates"
    copied = install_examples(workspace, [builtin_pipelines_dir()])
    assert "txt2img.json" in copied and "txt2img.binding.toml" in copied
    (folder / "txt2img.json").unlink()
    assert install_examples(workspace, [builtin_pipelines_dir()]) == []
    assert not (folder / "txt2img.json").exists()
    listing = WorkflowTemplates(workspace).listing(None, ALLOWED)
    assert listing.tiers == {
        Quality.low: "txt2img-draft",
        Quality.standard: None,  # img2img is left, but only for takes with an init image
        Quality.high: "txt2img-hires",
    }
