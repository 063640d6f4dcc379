"""Reading and writing Market-1501 crops, and the conversion to and from the generator's [-1, 1] tensors."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image

from augreid.core.atomic import atomic_file
from augreid.core.errors import InputError
from augreid.data.pose import IMAGE_SIZE

JPEG_QUALITY = 95


def load_image(path: str | Path) -> np.ndarray:
    """(128, 64, 3) uint8 RGB; other sizes are resized to Market-1501's 128x64, as the keypoints assume it."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != IMAGE_SIZE[::-1]:
                image = image.resize(IMAGE_SIZE[::-1], Image.Resampling.BILINEAR)
            return np.asarray(image)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read image ({err})") from None


def check_images(paths: Iterable[str | Path]) -> int:
    """Decode every image once, before the work that needs them: a truncated, empty or foreign file fails here,
    with its name, not hours later (torchreid's reader would retry it forever). Returns how many were read."""
    count = 0
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise InputError(f"{path}: cannot read image ({err})") from None
        count += 1
    return count


def save_image(path: str | Path, pixels: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 image atomically (the format follows the name: JPEG or PNG)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG" if path.suffix == ".png" else "JPEG", quality=JPEG_QUALITY)


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).movedim(-1, -3).float().div(127.5).sub(1.0)


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) float in [-1, 1] -> (..., H, W, 3) uint8."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().movedim(-3, -1).cpu().numpy()
