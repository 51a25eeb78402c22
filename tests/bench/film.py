"""Projects at the size of a real film, built straight through the manifest writer."""

from __future__ import annotations

from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import (
    Chapter,
    Project,
    ProjectCreate,
    Scene,
    Shot,
    Take,
    TakeStatus,
)


def big_film(core: StudioCore, name: str, takes: int = 10_000) -> tuple[str, str]:
    """A project of 10 chapters x 10 scenes x 10 shots with `takes` takes in all (≈ 2.7 MB of
    manifest at 10,000); (project id, a shot id in the middle)."""
    project = core.projects.create(ProjectCreate(name=name), STUDIO_AUTHOR)
    per_shot = max(1, takes // 1000)

    def build(p: Project) -> str:
        n = 0
        for c in range(10):
            chapter = Chapter(id=f"ch_{c:08x}", name=f"Act {c + 1}")
            p.chapters.append(chapter)
            for s in range(10):
                scene = Scene(id=f"sc_{c:02x}{s:06x}", name=f"Scene {s + 1}")
                chapter.scenes.append(scene)
                for h in range(10):
                    shot = Shot(
                        id=f"sh_{c:02x}{s:02x}{h:04x}",
                        name=f"Shot {h + 1}",
                        properties={"lens": "35mm"},
                    )
                    scene.shots.append(shot)
                    for _ in range(per_shot):
                        n += 1
                        shot.takes.append(
                            Take(
                                id=f"tk_{n:08x}",
                                file=f"03_Renders/tk_{n:08x}.png",
                                pipeline="still",
                                parameters={"prompt": "fog"},
                                seed=n,
                                status=TakeStatus.completed,
                            )
                        )
                    shot.selected_take = shot.takes[0].id
        return p.chapters[5].scenes[5].shots[5].id

    _, shot = core.manifests.update(project.id, build)
    return project.id, shot
