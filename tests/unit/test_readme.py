"""The README's configuration table names every setting with its environment variable."""

from __future__ import annotations

import re

from gms_lab.config import StudioConfig
from tests.services import REPO


def test_every_setting_is_documented() -> None:
    text = (REPO / "README.md").read_text()
    table = text.split("<!-- config-table")[1].split("\n\n")[0]
    rows = re.findall(r"^\| `(\w+)` \| `(GMS_\w+)` \|", table, flags=re.M)
    assert dict(rows) == StudioConfig.ENV


def test_settings_come_from_the_environment_and_round_trip() -> None:
    env = {
        "GMS_WORKSPACE": "/srv/films",
        "GMS_AUTO_COMMIT": "0",
        "GMS_POOL_SIZE": "3",
        "GMS_RUNNER": "docker",
        "GMS_PIPELINES_PATH": "/a:/b",
    }
    config = StudioConfig.from_env(env=env)
    assert str(config.workspace) == "/srv/films" and config.auto_commit is False
    assert config.pool_size == 3 and config.runner == "docker"
    assert [str(p) for p in config.pipelines_path] == ["/a", "/b"]
    assert StudioConfig.from_env(env=config.to_env()) == config
    # traits (overrides) win over the environment
    assert StudioConfig.from_env({"pool_size": 5}, env=env).pool_size == 5
