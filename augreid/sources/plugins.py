"""Generators from other installed packages, through the entry-point group `augreid.generators`.

A package declares `NAME = module:function` in that group (`examples/augreid-mirror/pyproject.toml`). The
function takes a checkpoint path (None when the study names no checkpoint) and a torch device, and returns the
pose-transfer callable of `augreid/sources/inference.py`: (B, 128, 64, 3) uint8 condition images, (B, 18, 2)
condition poses and (B, 18, 2) target poses ((y, x), -1 = missing) in; (B, 128, 64, 3) uint8 images out. Training
stays with the package; augreid only draws with it, by name, in generate, quality, bench and the flow.
"""
from __future__ import annotations

import hashlib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from augreid.core.errors import InputError, one_line
from augreid.data.pose import IMAGE_SIZE

GROUP = "augreid.generators"
Transfer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _entry_points() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=GROUP)}


def plugin_names() -> list[str]:
    """The generator names that installed packages declare."""
    return sorted(_entry_points())


def plugin_digest(name: str) -> str:
    """SHA-256 of what the plugin is: its entry point and its package's name and version (a new release of the
    package is a new generator to a cache)."""
    point = _entry_points()[name]
    package = f"{point.dist.name} {point.dist.version}" if point.dist else "unknown package"
    return hashlib.sha256(f"{name} = {point.value} ({package})".encode()).hexdigest()


def load_plugin(name: str, checkpoint: str | Path | None, device: torch.device) -> Transfer:
    """The plugin's pose-transfer callable, its outputs checked on every call."""
    points = _entry_points()
    if name not in points:
        raise InputError(f"unknown generator '{name}': no installed package declares it in the entry-point group "
                         f"'{GROUP}' (installed: {', '.join(points) or 'none'})")
    try:
        factory = points[name].load()
    except Exception as err:  # noqa: BLE001 (a plugin's import may raise anything: its failure, not augreid's)
        raise InputError(f"generator '{name}': cannot load {points[name].value} ({type(err).__name__}: "
                         f"{one_line(err)})") from None
    try:
        transfer = factory(None if checkpoint is None else str(checkpoint), device)
    except Exception as err:  # the plugin's own refusal, e.g. of a checkpoint it cannot read
        raise InputError(f"generator '{name}': {points[name].value} refused to load ({type(err).__name__}: "
                         f"{err})") from None
    if not callable(transfer):
        raise InputError(f"generator '{name}': {points[name].value} returned {type(transfer).__name__}, "
                         "not a callable (conditions, condition poses, target poses) -> images")

    def checked(condition: np.ndarray, condition_pose: np.ndarray, target_pose: np.ndarray) -> np.ndarray:
        try:
            images = np.asarray(transfer(condition, condition_pose, target_pose))
        except Exception as err:  # noqa: BLE001 (the plugin's own failure, named as such)
            raise InputError(f"generator '{name}': {points[name].value} failed while drawing "
                             f"({type(err).__name__}: {one_line(err)})") from None
        expected = (len(condition), *IMAGE_SIZE, 3)
        if images.shape != expected or images.dtype != np.uint8:
            raise InputError(f"generator '{name}': returned {images.dtype} images of shape {images.shape}, expected "
                             f"uint8 {expected}")
        return images
    return checked
