"""The procedural still pipeline: a concept-art placeholder frame painted from prompt and seed.

No model is involved. A hash of prompt and seed picks the palette and the composition (sky,
light, clouds, ridges fading into haze, sea, forest, fog); words such as night, sunset, fog,
sea or forest nudge them. The same prompt, seed, size and steps always give the same PNG bytes.
Each step paints the next layers back to front; more steps add more detail.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
import random
import re
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Run as `python still/main.py` from pipelines/: the shared protocol module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_pipeline import Job, PipelineError, Progress, Result, serve

RGB = tuple[int, int, int]
Layer = Callable[[Image.Image], None]

NIGHT_WORDS = {"night", "midnight", "moon", "moonlit", "moonlight", "stars", "starry", "dark"}
SUNSET_WORDS = {"sunset", "dusk", "evening", "golden", "twilight"}
DAWN_WORDS = {"dawn", "sunrise", "morning", "daybreak"}
OVERCAST_WORDS = {"overcast", "grey", "gray", "rain", "rainy", "storm", "stormy", "cloudy"}
FOG_WORDS = {"fog", "foggy", "mist", "misty", "haze", "hazy", "smoke"}
SEA_WORDS = {"sea", "ocean", "lake", "coast", "beach", "shore", "harbor", "harbour", "bay"}
FOREST_WORDS = {"forest", "woods", "wood", "trees", "tree", "pine", "pines", "jungle", "taiga"}
SNOW_WORDS = {"snow", "snowy", "winter", "ice", "icy", "glacier", "alpine"}
DESERT_WORDS = {"desert", "dune", "dunes", "sand", "canyon", "mesa"}


@dataclass(frozen=True)
class Palette:
    """The colours of one frame, from the top of the sky down to the nearest hill."""

    sky_top: RGB
    sky_mid: RGB
    horizon: RGB
    light: RGB
    land: RGB
    cloud: RGB


# sky top, sky middle, horizon, sun or moon, land, clouds
PALETTES: dict[str, Palette] = {
    "day": Palette(
        (52, 104, 182),
        (118, 166, 216),
        (214, 226, 232),
        (255, 250, 232),
        (64, 100, 78),
        (246, 246, 244),
    ),
    "golden": Palette(
        (66, 88, 156),
        (196, 150, 142),
        (248, 204, 150),
        (255, 232, 182),
        (86, 80, 78),
        (252, 222, 196),
    ),
    "sunset": Palette(
        (38, 42, 98),
        (168, 78, 110),
        (250, 148, 82),
        (255, 212, 142),
        (58, 42, 68),
        (244, 164, 142),
    ),
    "dusk": Palette(
        (24, 28, 68),
        (78, 68, 128),
        (188, 118, 138),
        (250, 202, 180),
        (34, 34, 58),
        (150, 120, 160),
    ),
    "dawn": Palette(
        (88, 118, 178),
        (218, 168, 178),
        (255, 214, 180),
        (255, 240, 212),
        (78, 88, 108),
        (255, 226, 220),
    ),
    "night": Palette(
        (8, 12, 30),
        (20, 30, 66),
        (52, 66, 106),
        (236, 236, 222),
        (12, 16, 30),
        (58, 66, 96),
    ),
    "overcast": Palette(
        (118, 128, 140),
        (162, 168, 174),
        (204, 204, 200),
        (236, 236, 230),
        (66, 78, 74),
        (214, 214, 212),
    ),
}


@dataclass(frozen=True)
class Scene:
    """Everything the hash decided about a frame, in fractions of its size."""

    key: str
    time: str
    palette: Palette
    fog: float
    sea: bool
    forest: bool
    snow: bool
    horizon: float
    light_x: float
    light_y: float
    ridges: int

    def rng(self, label: str) -> random.Random:
        """A generator for one element, so tiers and step counts keep the same composition."""
        return random.Random(f"{self.key}:{label}")


def compose(prompt: str, seed: int) -> Scene:
    """Decide palette and composition from the prompt's words and a hash of prompt and seed."""
    key = hashlib.sha256(f"{seed}\0{prompt}".encode()).hexdigest()
    rng = random.Random(key)
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    if words & NIGHT_WORDS:
        time = "night"
    elif words & SUNSET_WORDS:
        time = rng.choice(["sunset", "sunset", "dusk", "golden"])
    elif words & DAWN_WORDS:
        time = "dawn"
    elif words & OVERCAST_WORDS:
        time = "overcast"
    else:
        time = rng.choice(["day", "day", "golden", "dawn", "sunset", "dusk", "overcast", "night"])
    palette = _shifted(PALETTES[time], rng.uniform(-0.035, 0.035), rng.uniform(0.85, 1.1))
    if words & DESERT_WORDS:
        palette = replace(palette, land=_mix(palette.land, (196, 140, 88), 0.6))
    foggy = bool(words & FOG_WORDS)
    sea = bool(words & SEA_WORDS) or (not words & FOREST_WORDS and rng.random() < 0.3)
    horizon = rng.uniform(0.56, 0.68)
    low_light = time in {"golden", "sunset", "dawn", "dusk"}
    return Scene(
        key=key,
        time=time,
        palette=palette,
        fog=rng.uniform(0.55, 0.8) if foggy else rng.uniform(0.12, 0.3),
        sea=sea,
        forest=bool(words & FOREST_WORDS) or rng.random() < 0.35,
        snow=bool(words & SNOW_WORDS) or rng.random() < 0.12,
        horizon=horizon,
        light_x=rng.uniform(0.15, 0.85),
        light_y=horizon - rng.uniform(0.06, 0.2) if low_light else rng.uniform(0.1, 0.3),
        ridges=rng.randint(3, 5),
    )


#: Longest side of the preview pictures sent while painting.
PREVIEW_SIZE = 256
#: How many previews a take gets while it is painted, at most.
PREVIEWS = 6


def paint(
    scene: Scene,
    size: tuple[int, int],
    steps: int,
    progress: Progress,
    job: Job | None = None,
) -> Image.Image:
    """Paint the scene at ``size`` in ``steps`` passes, reporting each pass.

    With a ``job``, a small preview of the canvas goes with the progress every few passes.
    """
    canvas = Image.new("RGB", size)
    layers = _layers(scene, steps, size[0])
    every = max(1, math.ceil(steps / PREVIEWS))
    for step in range(steps):
        chunk = [
            layer for index, layer in enumerate(layers) if index * steps // len(layers) == step
        ]
        for _, draw in chunk:
            draw(canvas)
        names = ", ".join(dict.fromkeys(name for name, _ in chunk))
        preview = None
        if job is not None and (step + 1) % every == 0 and step + 1 < steps:
            preview = _write_preview(job, canvas)
        progress(0.9 * (step + 1) / steps, f"painting {step + 1}/{steps}: {names}", preview)
    return canvas


def _write_preview(job: Job, canvas: Image.Image) -> str:
    small = canvas.copy()
    small.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.BILINEAR)
    with job.writing("preview.jpg") as path:
        small.save(path, format="JPEG", quality=75)
    return "preview.jpg"


def _layers(scene: Scene, steps: int, width: int = 1280) -> list[tuple[str, Layer]]:
    """The frame's layers back to front; detail layers are added until there is one per step."""
    # a ridge line needs no more points than a frame has pixels across (256 at most)
    samples = min(256, max(32, width))
    ridge_profiles = [_ridge_profile(scene, k, steps, samples) for k in range(scene.ridges)]
    far = [k for k in range(scene.ridges) if not scene.sea or k < scene.ridges - 2]
    near = [k for k in range(scene.ridges) if k not in far]
    tree_ridges = [scene.ridges - 1, scene.ridges - 2] if scene.forest else [scene.ridges - 1]

    kinds = ["clouds"] + (["stars"] if scene.time == "night" else [])
    kinds += ["trees"] * 2 if scene.forest else []
    kinds += ["glints"] if scene.sea else []
    kinds += ["wisps"] if scene.fog > 0.4 else []
    base_count = 4 + scene.ridges + (1 if scene.sea else 0)
    detail = max(steps - base_count, 2 * len(kinds))
    counts = {kind: kinds.count(kind) * detail // len(kinds) for kind in set(kinds)}
    counts["clouds"] += detail - sum(counts.values())

    layers: list[tuple[str, Layer]] = [("sky", lambda c: _sky(c, scene))]
    layers += [("stars", _stars_layer(scene, i)) for i in range(counts.get("stars", 0))]
    layers.append(("light", lambda c: _light(c, scene)))
    layers += [("clouds", _cloud_layer(scene, i)) for i in range(counts["clouds"])]

    tree_batches = counts.get("trees", 1 if scene.ridges and scene.time != "night" else 0)
    for k in range(scene.ridges):
        if scene.sea and k == near[0]:
            layers.append(("sea", lambda c: _sea(c, scene)))
            layers += [("glints", _glint_layer(scene, i)) for i in range(counts["glints"])]
        layers.append((f"ridge {k + 1}", _ridge_layer(scene, k, ridge_profiles[k])))
        if k in tree_ridges:
            share = [b for b in range(tree_batches) if tree_ridges[b % len(tree_ridges)] == k]
            layers += [("trees", _tree_layer(scene, k, ridge_profiles[k], b)) for b in share]
        if k < scene.ridges - 1:
            layers.append(("haze", _valley_haze_layer(scene, ridge_profiles[k])))
    layers += [("fog", _wisp_layer(scene, i)) for i in range(counts.get("wisps", 0))]
    layers.append(("vignette", lambda c: _vignette(c)))
    return layers


# --- colour ------------------------------------------------------------------------------


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(max(t, 0.0), 1.0)
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _shade(color: RGB, factor: float) -> RGB:
    return (
        min(255, round(color[0] * factor)),
        min(255, round(color[1] * factor)),
        min(255, round(color[2] * factor)),
    )


def _shifted(palette: Palette, hue: float, saturation: float) -> Palette:
    """The same palette turned a little round the colour wheel, so no two seeds match."""

    def turn(color: RGB) -> RGB:
        h, s, v = colorsys.rgb_to_hsv(*(channel / 255 for channel in color))
        r, g, b = colorsys.hsv_to_rgb((h + hue) % 1.0, min(1.0, s * saturation), v)
        return (round(r * 255), round(g * 255), round(b * 255))

    return Palette(*(turn(color) for color in vars(palette).values()))


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def _haze(scene: Scene) -> RGB:
    return _mix(scene.palette.horizon, (236, 238, 240), scene.fog * 0.5)


def _column(height: int, color_at: Callable[[float], RGB]) -> Image.Image:
    """A one-pixel-wide vertical gradient; stretching it sideways fills a frame cheaply."""
    column = Image.new("RGB", (1, height))
    column.putdata([color_at((y + 0.5) / height) for y in range(height)])
    return column


def _alpha_column(height: int, alpha_at: Callable[[float], float]) -> Image.Image:
    column = Image.new("L", (1, height))
    column.putdata(
        [round(255 * min(max(alpha_at((y + 0.5) / height), 0.0), 1.0)) for y in range(height)]
    )
    return column


def _paste_below(canvas: Image.Image, color: RGB | Image.Image, alpha: Image.Image) -> None:
    """Paste `color` (a colour, or a column like `alpha`) through the one-pixel-wide `alpha`
    column stretched across the frame, from its first row that is not transparent down (the
    rows above would be left as they are)."""
    top = next((y for y, a in enumerate(alpha.getdata()) if a), alpha.height)
    if top == alpha.height:
        return
    rows = (0, top, 1, alpha.height)
    size = (canvas.width, alpha.height - top)
    mask = alpha.crop(rows).resize(size, Image.Resampling.NEAREST)
    if isinstance(color, Image.Image):
        color = color.crop(rows).resize(size, Image.Resampling.NEAREST)
    canvas.paste(color, (0, top), mask)


def _reach(blur: float) -> int:
    """How many rows a Gaussian blur of `blur` spreads a mask's edge, with a margin (Pillow
    runs three box blurs, each of about `blur` pixels)."""
    return math.ceil(4 * blur) + 4


def _first_row(top: float, blur: float, height: int) -> int:
    """The first row a mask can touch when nothing above `top` is drawn and it is blurred by
    `blur`: a mask from there down blurs to the same pixels as one of the whole frame (Pillow
    repeats an edge row, and that row is empty)."""
    return min(max(0, math.floor(top) - _reach(blur)), height - 1)


def _last_row(bottom: float, blur: float, height: int) -> int:
    """The end (exclusive) of the rows such a mask can touch when nothing below `bottom` is."""
    return max(min(height, math.ceil(bottom) + 1 + _reach(blur)), 1)


# --- layers ------------------------------------------------------------------------------


def _sky(canvas: Image.Image, scene: Scene) -> None:
    p = scene.palette
    horizon = scene.horizon

    def color_at(y: float) -> RGB:
        if y < horizon * 0.55:
            return _mix(p.sky_top, p.sky_mid, _smoothstep(0.0, horizon * 0.55, y))
        return _mix(p.sky_mid, _haze(scene), _smoothstep(horizon * 0.55, horizon, y))

    canvas.paste(_column(canvas.height, color_at).resize(canvas.size, Image.Resampling.NEAREST))


def _light(canvas: Image.Image, scene: Scene) -> None:
    """The sun or moon: a disc inside a wide soft glow."""
    width, height = canvas.size
    cx, cy = scene.light_x * width, scene.light_y * height
    unit = min(width, height)
    glow_radius = unit * (0.55 if scene.time != "night" else 0.3)
    strength = {"overcast": 0.35, "night": 0.35, "day": 0.45}.get(scene.time, 0.75)
    diameter = round(glow_radius * 2)
    glow = _MASKS.get(("glow", diameter, strength), diameter**2, lambda: _glow(diameter, strength))
    canvas.paste(scene.palette.light, (round(cx - glow_radius), round(cy - glow_radius)), glow)
    if scene.time == "overcast":
        return
    radius = unit * (0.035 if scene.time == "night" else 0.045)
    across = round(radius * 2)
    if across < 1:
        return  # a disc narrower than half a pixel: the glow is all a frame this small shows
    blur = max(1.0, radius * 0.06)
    disc = _MASKS.get(("disc", across, blur), (across + 4) ** 2, lambda: _disc(across, blur))
    canvas.paste(
        _mix(scene.palette.light, (255, 255, 255), 0.5),
        (round(cx - radius - 2), round(cy - radius - 2)),
        disc,
    )


def _stars_layer(scene: Scene, batch: int) -> Layer:
    rng = scene.rng(f"stars {batch}")
    stars = [
        (rng.random(), rng.random() ** 1.6 * scene.horizon * 0.9, rng.random()) for _ in range(60)
    ]

    def draw(canvas: Image.Image) -> None:
        pen = ImageDraw.Draw(canvas)
        radius = max(1, min(canvas.size) // 500)
        for x, y, bright in stars:
            color = _mix(scene.palette.sky_mid, (255, 252, 240), 0.3 + 0.7 * bright)
            px, py = x * canvas.width, y * canvas.height
            pen.ellipse((px - radius, py - radius, px + radius, py + radius), fill=color)

    return draw


def _cloud_layer(scene: Scene, index: int) -> Layer:
    """One cloud bank: overlapping ellipses, blurred into soft shapes."""
    rng = scene.rng(f"cloud {index}")
    cx, cy = rng.uniform(-0.05, 1.05), rng.uniform(0.06, scene.horizon * 0.75)
    span, thickness = rng.uniform(0.12, 0.32), rng.uniform(0.025, 0.06)
    puffs = [
        (rng.uniform(-0.5, 0.5) * span, rng.uniform(-0.5, 0.3) * thickness, rng.uniform(0.3, 0.6))
        for _ in range(rng.randint(4, 8))
    ]
    opacity = rng.uniform(0.35, 0.75)
    # Banks lower in the sky catch the horizon's colour.
    tint = _mix(scene.palette.cloud, scene.palette.horizon, cy / scene.horizon * 0.6)

    def draw(canvas: Image.Image) -> None:
        width, height = canvas.size
        shapes = []
        for dx, dy, r in puffs:
            px, py = (cx + dx) * width, (cy + dy) * height
            rx, ry = r * span * width * 0.5, r * thickness * height * 2.2
            shapes.append((px - rx, py - ry, px + rx, py + ry))
        bottom = cy * height  # clouds sit on a flat base
        _soft_shapes(canvas, tint, shapes, round(255 * opacity), thickness * height * 0.55, bottom)

    return draw


def _soft_shapes(
    canvas: Image.Image,
    color: RGB,
    ellipses: list[tuple[float, float, float, float]],
    opacity: int,
    blur: float,
    floor: float | None = None,
) -> None:
    """Paint blurred ellipses through a patch just big enough that the blur never gets cut off."""
    blur = max(1.0, blur)
    pad = 3 * blur
    left = min(e[0] for e in ellipses) - pad
    top = min(e[1] for e in ellipses) - pad
    right = max(e[2] for e in ellipses) + pad
    bottom = max(e[3] for e in ellipses) + pad
    mask = Image.new("L", (max(1, round(right - left)), max(1, round(bottom - top))))
    pen = ImageDraw.Draw(mask)
    for x0, y0, x1, y1 in ellipses:
        pen.ellipse((x0 - left, y0 - top, x1 - left, y1 - top), fill=opacity)
    if floor is not None:
        pen.rectangle((0, floor - top, mask.width, mask.height), fill=0)
    mask = mask.filter(ImageFilter.GaussianBlur(blur))
    canvas.paste(color, (round(left), round(top)), mask)


def _ridge_profile(scene: Scene, k: int, steps: int, samples: int = 256) -> list[float]:
    """Ridge ``k``'s height line as fractions of the frame height, one value per sample."""
    rng = scene.rng(f"ridge {k}")
    depth = k / max(scene.ridges - 1, 1)  # 0 far, 1 near
    if scene.sea:
        base = scene.horizon - 0.02 + depth * 0.12 if k < scene.ridges - 2 else 0.74 + 0.1 * depth
    else:
        base = scene.horizon - 0.1 + depth * (0.92 - scene.horizon)
    amplitude = (0.16 - 0.1 * depth) * rng.uniform(0.6, 1.2)
    octaves = [(rng.uniform(1.0, 2.6) * 2**o, rng.uniform(0, math.tau)) for o in range(7)]
    detail = 2 + min(steps // 8, 5)  # more steps, finer rock
    sharp = rng.random() < (0.8 - depth)
    coast_side = rng.choice([-1, 1])
    profile = []
    for i in range(samples + 1):
        x = i / samples
        h = 0.0
        for o, (frequency, phase) in enumerate(octaves[:detail]):
            wave = math.sin(x * frequency * math.pi + phase)
            h += (1 - abs(wave) if sharp else (wave + 1) / 2) / 2**o
        y = base - amplitude * h / 1.6
        if scene.sea and k >= scene.ridges - 2:
            # Near land in a sea scene is a headland on one side, so the water stays open.
            reach = _smoothstep(0.25, 0.75, x if coast_side > 0 else 1 - x)
            y = 1.05 + (y - 1.05) * reach
        profile.append(y)
    return profile


def _ridge_color(scene: Scene, k: int) -> RGB:
    depth = k / max(scene.ridges - 1, 1)
    near = _shade(scene.palette.land, 0.75 + 0.2 * (1 - depth))
    return _mix(_haze(scene), near, 0.22 + 0.78 * depth**1.3 * (1 - scene.fog * 0.35))


def _ridge_layer(scene: Scene, k: int, profile: list[float]) -> Layer:
    color = _ridge_color(scene, k)
    snowy = scene.snow and k < scene.ridges - 2

    def draw(canvas: Image.Image) -> None:
        width, height = canvas.size
        rock, cap = 0.6 * height / 720, 0.8 * height / 720
        # the ridge and its blurred edge are below its highest point: only those rows are drawn
        top = _first_row(min(profile) * height, max(rock, cap) if snowy else rock, height)
        points = [(i / (len(profile) - 1) * width, y * height - top) for i, y in enumerate(profile)]
        mask = Image.new("L", (width, height - top))
        bottom = height + 2 - top
        ImageDraw.Draw(mask).polygon([*points, (width, bottom), (0, bottom)], fill=255)
        canvas.paste(color, (0, top), mask.filter(ImageFilter.GaussianBlur(rock)))
        if snowy:
            # Snow above a ragged snow line, only where this ridge's rock is.
            line = min(profile) + (max(profile) - min(profile)) * 0.4
            ragged = [
                (x, (line + 0.012 * math.sin(i * 0.9) * math.sin(i * 0.31 + 1)) * height - top)
                for i, (x, _) in enumerate(points)
            ]
            above = Image.new("L", mask.size)
            ImageDraw.Draw(above).polygon([*ragged, (width, -1 - top), (0, -1 - top)], fill=215)
            caps = ImageChops.multiply(above, mask)
            snow = _mix((238, 242, 248), scene.palette.horizon, 0.25)
            canvas.paste(snow, (0, top), caps.filter(ImageFilter.GaussianBlur(cap)))

    return draw


def _valley_haze_layer(scene: Scene, profile: list[float]) -> Layer:
    """Haze pooling at the foot of a ridge, veiling it from the next one."""
    bottom = max(profile)
    top = bottom - (bottom - min(profile)) * 1.2 - 0.04
    strength = 0.2 + 0.55 * scene.fog

    def draw(canvas: Image.Image) -> None:
        def alpha(y: float) -> float:
            return strength * _smoothstep(top, bottom + 0.03, y)

        _paste_below(canvas, _haze(scene), _alpha_column(canvas.height, alpha))

    return draw


def _sea(canvas: Image.Image, scene: Scene) -> None:
    p = scene.palette
    horizon = scene.horizon
    shallow = _mix(_haze(scene), p.sky_mid, 0.35)
    deep = _shade(_mix(p.sky_top, p.land, 0.35), 0.8)

    def color_at(y: float) -> RGB:
        return _mix(shallow, deep, _smoothstep(horizon, 1.0, y) ** 0.7)

    def alpha(y: float) -> float:
        return 1.0 if y >= horizon else 0.0

    _paste_below(canvas, _column(canvas.height, color_at), _alpha_column(canvas.height, alpha))


def _glint_layer(scene: Scene, batch: int) -> Layer:
    """Sparkles of light on the water under the sun, spreading towards the viewer."""
    rng = scene.rng(f"glints {batch}")
    glints = []
    for _ in range(24):
        y = scene.horizon + rng.random() ** 1.5 * (1 - scene.horizon)
        spread = 0.02 + (y - scene.horizon) * 0.35
        glints.append((scene.light_x + rng.gauss(0, spread), y, rng.uniform(0.01, 0.05)))
    color = _mix(scene.palette.light, scene.palette.horizon, 0.2)

    def draw(canvas: Image.Image) -> None:
        width, height = canvas.size
        thickness = max(1, height // 360)
        blur = max(0.5, height / 900)
        # the band of rows the glints and their blur are in
        top = _first_row(min(y for _, y, _ in glints) * height - thickness, blur, height)
        end = _last_row(max(y for _, y, _ in glints) * height + thickness, blur, height)
        layer = Image.new("L", (width, end - top))
        pen = ImageDraw.Draw(layer)
        for x, y, length in glints:
            half = length * width / 2
            pen.line(
                (x * width - half, y * height - top, x * width + half, y * height - top),
                fill=150,
                width=thickness,
            )
        canvas.paste(color, (0, top), layer.filter(ImageFilter.GaussianBlur(blur)))

    return draw


def _tree_layer(scene: Scene, k: int, profile: list[float], batch: int) -> Layer:
    """A batch of pines standing on ridge ``k``."""
    rng = scene.rng(f"trees {k} {batch}")
    depth = k / max(scene.ridges - 1, 1)
    trees = [(rng.random(), rng.uniform(0.05, 0.11) * (0.45 + 0.55 * depth)) for _ in range(14)]
    color = _shade(_ridge_color(scene, k), 0.78)

    def draw(canvas: Image.Image) -> None:
        width, height = canvas.size
        pen = ImageDraw.Draw(canvas)
        for x, tall in trees:
            ground = profile[round(x * (len(profile) - 1))]
            if ground > 1.0:
                continue
            px, base, h = x * width, (ground + 0.012) * height, tall * height
            for tier in range(3):  # three stacked cones make a pine
                top = base - h * (0.45 + 0.28 * tier)
                half = h * (0.2 - 0.05 * tier)
                bottom = base - h * 0.3 * tier
                pen.polygon([(px, top), (px + half, bottom), (px - half, bottom)], fill=color)

    return draw


def _wisp_layer(scene: Scene, index: int) -> Layer:
    """A long drifting band of mist."""
    rng = scene.rng(f"wisp {index}")
    cx, cy = rng.uniform(0.0, 1.0), rng.uniform(scene.horizon - 0.1, 0.95)
    span, thickness = rng.uniform(0.4, 0.9), rng.uniform(0.02, 0.05)
    opacity = rng.uniform(0.2, 0.45) * scene.fog

    def draw(canvas: Image.Image) -> None:
        width, height = canvas.size
        half_w, half_h = span * width / 2, thickness * height / 2
        shape = (
            cx * width - half_w,
            cy * height - half_h,
            cx * width + half_w,
            cy * height + half_h,
        )
        _soft_shapes(canvas, _haze(scene), [shape], round(255 * opacity), thickness * height * 0.7)

    return draw


def _vignette(canvas: Image.Image) -> None:
    width, height = size = canvas.size
    shade = _MASKS.get(("vignette", size), width * height, lambda: _shade_mask(size))
    canvas.paste((0, 0, 0), (0, 0), shade)


def _shade_mask(size: tuple[int, int]) -> Image.Image:
    return _RADIAL.resize(size, Image.Resampling.BILINEAR).point(_VIGNETTE)


def _glow(diameter: int, strength: float) -> Image.Image:
    glow = _RADIAL.resize((diameter, diameter), Image.Resampling.BILINEAR)
    return glow.point(_glow_curve(strength))


def _disc(across: int, blur: float) -> Image.Image:
    """The sun or moon's disc, `across` pixels wide, its edge softened by `blur`."""
    disc = Image.new("L", (across + 4,) * 2)
    ImageDraw.Draw(disc).ellipse((2, 2, disc.width - 3, disc.height - 3), fill=255)
    return disc.filter(ImageFilter.GaussianBlur(blur))


class _Masks:
    """Masks that depend on a frame's size, not its scene (vignette, glow, disc), kept for the
    next frames: the takes of a burst share one size, and a tiny frame spent most of its time
    shrinking the radial gradient. A few are kept, none larger than `limit` pixels (a
    supersampled 4K frame's vignette is made for each frame rather than held)."""

    def __init__(self, kept: int = 8, limit: int = 4_000_000) -> None:
        self._kept: dict[Hashable, Image.Image] = {}
        self._count, self._limit = kept, limit

    def get(self, key: Hashable, pixels: int, make: Callable[[], Image.Image]) -> Image.Image:
        """The mask under `key` (`pixels` large), made by `make` the first time."""
        mask = self._kept.pop(key, None)
        if mask is None:
            mask = make()
            if pixels > self._limit:
                return mask
        self._kept[key] = mask  # the most recently used last
        while len(self._kept) > self._count:
            del self._kept[next(iter(self._kept))]
        return mask


_MASKS = _Masks()


# Made once: the same gradient and curves serve every frame (a tiny frame costs next to nothing).
_RADIAL = Image.radial_gradient("L")
_VIGNETTE = [round(max(0, v - 150) * 0.55) for v in range(256)]


@functools.cache
def _glow_curve(strength: float) -> list[int]:
    # The gradient reads 128 at the middle of each edge: fade to nothing there, not at the corners.
    return [round(255 * strength * (1 - min(v, 128) / 128) ** 2.2) for v in range(256)]


# --- the job -----------------------------------------------------------------------------


def render(job: Job, progress: Progress) -> Result:
    """Paint one still take into ``take.png``."""
    params = job.parameters
    prompt, seed = str(params.get("prompt", "")), int(params.get("seed", 0))
    steps = int(params.get("steps", 20))
    scale = float(params.get("scale", 1.0))
    supersample = int(params.get("supersample", 1))
    width = max(1, round(int(params.get("width", 1280)) * scale))
    height = max(1, round(int(params.get("height", 720)) * scale))
    if width * height * supersample**2 > 64_000_000:
        raise PipelineError(f"{width}x{height} at {supersample}x supersampling is too large")

    scene = compose(prompt, seed)
    progress(0.0, f"composing a {scene.time} scene")
    canvas = paint(scene, (width * supersample, height * supersample), steps, progress, job)
    if supersample > 1:
        progress(0.93, f"downsampling {supersample}x")
        canvas = canvas.resize((width, height), Image.Resampling.LANCZOS)
    progress(0.96, "saving take.png")
    with job.writing("take.png") as path:
        canvas.save(path, format="PNG")
    metadata = {
        "width": width,
        "height": height,
        "steps": steps,
        "seed": seed,
        "prompt": prompt,
        "negativePrompt": str(params.get("negative_prompt", "")),
        "scale": scale,
        "supersample": supersample,
        "tier": job.tier_name,
        "scene": {
            "time": scene.time,
            "sea": scene.sea,
            "forest": scene.forest,
            "fog": round(scene.fog, 2),
        },
        "generator": "procedural",
    }
    return Result(outputs=["take.png"], metadata=metadata)


if __name__ == "__main__":
    serve(render, manifest=Path(__file__).with_name("pipeline.toml"))
