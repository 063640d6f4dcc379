"""What makes a synthetic person recognisable: clothing colours and patterns, hair, bag and body build.

Identity lives only here; pose, camera and lighting vary per image.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from augreid.data.synthetic.body import Build

Colour = tuple[int, int, int]

TOP_PATTERNS = ("plain", "stripes", "halves", "logo")  # a logo is printed on the front only
BOTTOMS = ("trousers", "shorts", "skirt")
HAIR_STYLES = ("short", "long", "cap")
BAGS = ("none", "backpack", "shoulder_bag")
SKIN_TONES = ((241, 204, 177), (224, 172, 138), (198, 134, 96), (141, 85, 54), (92, 58, 38))


@dataclass(frozen=True)
class Appearance:
    skin: Colour
    hair: Colour
    hair_style: str
    top: Colour
    top_second: Colour
    top_pattern: str
    long_sleeves: bool
    bottom: Colour
    bottom_style: str
    shoes: Colour
    bag: str
    bag_colour: Colour
    build: Build


def _hsv(h: float, s: float, v: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def clothing_colour(rng: np.random.Generator) -> Colour:
    """Often neutral (black, grey, white, navy), otherwise any hue: as in street clothing."""
    if rng.random() < 0.4:
        value = rng.choice([0.12, 0.3, 0.55, 0.8, 0.95]) + rng.uniform(-0.05, 0.05)
        return _hsv(rng.uniform(0.55, 0.7), rng.uniform(0.0, 0.25), float(np.clip(value, 0, 1)))
    return _hsv(rng.random(), rng.uniform(0.45, 1.0), rng.uniform(0.35, 1.0))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    skin = tuple(int(np.clip(c + rng.integers(-12, 13), 0, 255)) for c in skin)
    hair = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.3, 0.8), rng.choice([0.08, 0.2, 0.4, 0.7]))
    return Appearance(
        skin=skin,
        hair=hair,
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.55, 0.3, 0.15])),
        top=clothing_colour(rng),
        top_second=clothing_colour(rng),
        top_pattern=str(rng.choice(TOP_PATTERNS, p=[0.4, 0.25, 0.15, 0.2])),
        long_sleeves=bool(rng.random() < 0.5),
        bottom=clothing_colour(rng),
        bottom_style=str(rng.choice(BOTTOMS, p=[0.6, 0.25, 0.15])),
        shoes=clothing_colour(rng),
        bag=str(rng.choice(BAGS, p=[0.45, 0.35, 0.2])),
        bag_colour=clothing_colour(rng),
        build=Build.sample(rng),
    )
