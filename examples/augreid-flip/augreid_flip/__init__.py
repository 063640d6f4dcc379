"""`flip`: the condition image, mirrored when the target pose faces the other way.

A baseline that needs no training, and the smallest complete example of augreid's generator plugin contract:
`load(checkpoint, device)` returns a callable from (condition images, condition poses, target poses) to images.
Keypoints are (y, x) in the 128x64 crop, -1 where missing, in the OpenPose order of the published annotation
files: 2 is the right shoulder, 5 the left one.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

RIGHT_SHOULDER, LEFT_SHOULDER = 2, 5


def facing(poses: np.ndarray) -> np.ndarray:
    """+1 where the right shoulder is left of the left one in the image (the person faces the camera), -1 where
    it is right of it (the back is seen), 0 when a shoulder is missing."""
    right, left = poses[:, RIGHT_SHOULDER, 1], poses[:, LEFT_SHOULDER, 1]
    seen = (right >= 0) & (left >= 0)
    return np.where(seen, np.sign(left - right), 0)


def flip(conditions: np.ndarray, condition_poses: np.ndarray, target_poses: np.ndarray) -> np.ndarray:
    turned = facing(condition_poses) * facing(target_poses) < 0
    images = conditions.copy()
    images[turned] = images[turned][:, :, ::-1]
    return images


def load(checkpoint: str | None, device) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """No weights: a checkpoint is refused rather than silently ignored."""
    if checkpoint is not None:
        raise ValueError(f"flip has no weights; got checkpoint {checkpoint}")
    return flip
