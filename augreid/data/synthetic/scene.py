"""Cameras: each has its own background (wall, ground, poles, tiles), lighting and framing habits."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from augreid.data.synthetic.appearance import Colour, clothing_colour


@dataclass(frozen=True)
class Camera:
    index: int  # 1-based, as in `cC` of the names
    wall: Colour
    ground: Colour
    horizon: float  # fraction of the height where the ground starts
    stripe_period: int  # pixels between poles / tiles on the wall
    stripe: Colour
    gain: tuple[float, float, float]  # colour cast and brightness of this camera's lighting
    scale: float  # how large people appear
    walk_yaws: tuple[float, float]  # the two directions people usually walk in front of this camera
    blur: float  # sigma of the optics' blur, in pixels


def muted(colour: Colour, saturation: float) -> Colour:
    """The colour moved towards the grey of its own brightness: 1 keeps it, 0 leaves the grey."""
    grey = sum(colour) / 3
    return tuple(int(round(grey + saturation * (c - grey))) for c in colour)


def make_cameras(count: int, rng: np.random.Generator, background_saturation: float = 1.0) -> list[Camera]:
    """`background_saturation` < 1 mutes walls, ground and stripes (street scenes are mostly grey); the random
    draws are the same whatever its value."""
    cameras = []
    for index in range(1, count + 1):
        cast = rng.uniform(-0.12, 0.12, size=3)
        brightness = rng.uniform(0.7, 1.15)
        base_yaw = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4])
        cameras.append(
            Camera(
                index=index,
                wall=muted(clothing_colour(rng), background_saturation),
                ground=muted(tuple(int(c * 0.6) for c in clothing_colour(rng)), background_saturation),
                horizon=rng.uniform(0.55, 0.8),
                stripe_period=int(rng.integers(10, 30)),
                stripe=muted(clothing_colour(rng), background_saturation),
                gain=tuple(float(brightness * (1 + c)) for c in cast),
                scale=rng.uniform(0.93, 1.05),
                walk_yaws=(float(base_yaw), float(base_yaw + np.pi)),
                blur=rng.uniform(0.0, 0.8),
            )
        )
    return cameras


def background(camera: Camera, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float background: wall with poles, ground with a gradient, a random object, texture noise."""
    image = np.empty((height, width, 3), dtype=np.float32)
    horizon = int(camera.horizon * height + rng.integers(-6, 7))
    image[:horizon] = camera.wall
    shift = rng.integers(camera.stripe_period)
    columns = (np.arange(width) + shift) % camera.stripe_period < max(2, camera.stripe_period // 5)
    image[:horizon, columns] = camera.stripe
    rows = np.linspace(0.8, 1.1, height - horizon, dtype=np.float32)[:, None, None]
    image[horizon:] = np.asarray(camera.ground, dtype=np.float32) * rows
    # a passing object: a box of another colour somewhere in the crop
    if rng.random() < 0.5:
        top, left = rng.integers(0, height - 10), rng.integers(-width // 4, width)
        image[top: top + rng.integers(10, 40), max(0, left): max(0, left + rng.integers(6, 24))] = clothing_colour(rng)
    image += rng.normal(0, 6, size=image.shape).astype(np.float32)
    return image
