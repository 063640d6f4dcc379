"""The 18 OpenPose COCO keypoints: names, limbs, skeleton drawing and the body mask used by mask-SSIM."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from skimage.draw import disk, polygon
from skimage.morphology import dilation, erosion

N_JOINTS = 18
MISSING = -1
IMAGE_SIZE = (128, 64)  # (H, W) of a Market-1501 crop

JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
JOINT = {name: i for i, name in enumerate(JOINTS)}
# A pose without these four cannot anchor a transfer: the published pair rule drops such images.
TORSO_JOINTS = (JOINT["r_shoulder"], JOINT["l_shoulder"], JOINT["r_hip"], JOINT["l_hip"])

# The OpenPose skeleton: bones drawn in pose visualisations.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
# The body mask of mask-SSIM, as PATN's `produce_ma_mask` (tool/getMetrics_market.py) draws it: the bones plus the
# edges that close the torso and the head; the ears join the neck.
MASK_LIMBS = LIMBS + ((1, 16), (1, 17), (8, 11), (11, 5), (8, 2), (16, 17))
MASK_LIMB_WIDTH = 8
MASK_JOINT_RADIUS = 4
MASK_CLOSING = 5

_LIMB_COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170),
)


def present(keypoints: np.ndarray) -> np.ndarray:
    """Boolean mask of the joints that are annotated (neither coordinate is -1)."""
    keypoints = np.asarray(keypoints)
    return (keypoints[..., 0] != MISSING) & (keypoints[..., 1] != MISSING)


def has_torso(keypoints: np.ndarray) -> np.ndarray:
    """True where both shoulders and both hips are annotated; works on (18, 2) or (N, 18, 2)."""
    return present(keypoints)[..., list(TORSO_JOINTS)].all(axis=-1)


def torso_height(keypoints: np.ndarray) -> np.ndarray:
    """(N, 18, 2) poses with a torso -> (N,) distances from the shoulders' midpoint to the hips' midpoint: the
    body's own scale, whatever its place and size in the crop."""
    torso = keypoints[:, list(TORSO_JOINTS)].astype(float)
    return np.linalg.norm(torso[:, :2].mean(axis=1) - torso[:, 2:].mean(axis=1), axis=-1)


def draw_skeleton(keypoints: np.ndarray, size: tuple[int, int] = IMAGE_SIZE, width: int = 2) -> np.ndarray:
    """Coloured bones and joints on black, (H, W, 3) uint8: how pose-transfer papers show a target pose."""
    height, wide = size
    image = Image.new("RGB", (wide, height))
    draw = ImageDraw.Draw(image)
    visible = present(keypoints)
    for (a, b), colour in zip(LIMBS, _LIMB_COLOURS):
        if visible[a] and visible[b]:
            (ya, xa), (yb, xb) = keypoints[a], keypoints[b]
            draw.line([(xa, ya), (xb, yb)], fill=colour, width=width)
    for joint in np.flatnonzero(visible):
        y, x = keypoints[joint]
        draw.ellipse([x - width, y - width, x + width, y + width], fill=(255, 255, 255))
    return np.asarray(image)


def body_mask(keypoints: np.ndarray, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """Boolean (H, W) body mask from keypoints: bones 8 px wide, joint discs of radius 4, then a 5x5 closing."""
    mask = np.zeros(size, dtype=bool)
    points = np.asarray(keypoints, dtype=np.float64)
    visible = present(keypoints)
    half = MASK_LIMB_WIDTH / 2
    for a, b in MASK_LIMBS:
        if not (visible[a] and visible[b]):
            continue
        along = points[b] - points[a]
        length = np.linalg.norm(along)
        if length == 0:
            continue
        normal = np.array([-along[1], along[0]]) * half / length
        corners = np.stack([points[a] + normal, points[a] - normal, points[b] - normal, points[b] + normal])
        rows, cols = polygon(corners[:, 0], corners[:, 1], shape=size)
        mask[rows, cols] = True
    for joint in np.flatnonzero(visible):
        rows, cols = disk(tuple(points[joint]), MASK_JOINT_RADIUS, shape=size)
        mask[rows, cols] = True
    square = np.ones((MASK_CLOSING, MASK_CLOSING), dtype=bool)
    return erosion(dilation(mask, square), square)
