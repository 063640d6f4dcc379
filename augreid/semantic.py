"""Body-part maps from a person mask and keypoints, in Pascal-Person-Part's labels.

Every pixel of the person mask takes the part of the nearest piece of the skeleton drawn from the keypoints:
- head: the bones nose-eyes, eyes-ears, and the upper half of the neck-nose bone;
- torso: the quadrilateral of the shoulders and hips (distance 0 inside), and the neck-to-mid-hip line;
- upper arms: shoulder-elbow; lower arms: elbow-wrist (the hand is nearest to it);
- upper legs: hip-knee; lower legs: knee-ankle (the foot is nearest to it).
A piece whose joints are missing is left out; pixels outside the mask are background, and so is the whole map when
the keypoints draw no piece at all.
"""
from __future__ import annotations

import numpy as np
from skimage.draw import polygon

from augreid.pose import JOINT, present

PARTS = ("background", "head", "torso", "upper arms", "lower arms", "upper legs", "lower legs")
# Pascal-Person-Part's colours, for viewing the PNG (its pixel values are the labels)
PALETTE = ((0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128))

_J = JOINT
BONES = {  # part label -> bones (joint pairs)
    1: [(_J["nose"], _J["r_eye"]), (_J["nose"], _J["l_eye"]), (_J["r_eye"], _J["r_ear"]), (_J["l_eye"], _J["l_ear"])],
    3: [(_J["r_shoulder"], _J["r_elbow"]), (_J["l_shoulder"], _J["l_elbow"])],
    4: [(_J["r_elbow"], _J["r_wrist"]), (_J["l_elbow"], _J["l_wrist"])],
    5: [(_J["r_hip"], _J["r_knee"]), (_J["l_hip"], _J["l_knee"])],
    6: [(_J["r_knee"], _J["r_ankle"]), (_J["l_knee"], _J["l_ankle"])],
}
HEAD, TORSO = 1, 2
TORSO_CORNERS = (_J["r_shoulder"], _J["l_shoulder"], _J["l_hip"], _J["r_hip"])


def segment_distance(shape: tuple[int, int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) distance of every pixel to the segment a-b ((y, x) points)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    pixels = np.stack([rows, cols], axis=-1).astype(np.float64)
    along = b - a
    t = np.clip(((pixels - a) @ along) / max(float(along @ along), 1e-9), 0.0, 1.0)
    return np.linalg.norm(pixels - (a + t[..., None] * along), axis=-1)


def part_pieces(keypoints: np.ndarray) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """The skeleton's pieces per part label, from the keypoints that are present."""
    points, visible = np.asarray(keypoints, dtype=np.float64), present(keypoints)
    pieces: dict[int, list] = {label: [(points[a], points[b]) for a, b in bones if visible[a] and visible[b]]
                               for label, bones in BONES.items()}
    neck, nose = _J["neck"], _J["nose"]
    if visible[neck] and visible[nose]:
        pieces[HEAD].append(((points[neck] + points[nose]) / 2, points[nose]))
    hips = [h for h in (_J["r_hip"], _J["l_hip"]) if visible[h]]
    pieces[TORSO] = [(points[neck], points[hips].mean(axis=0))] if visible[neck] and hips else []
    return pieces


def body_parts(mask: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(H, W) uint8 labels (`PARTS`): each person pixel gets the part of its nearest skeleton piece."""
    shape = mask.shape
    distances = np.full((len(PARTS),) + shape, np.inf)
    for label, pieces in part_pieces(keypoints).items():
        for a, b in pieces:
            distances[label] = np.minimum(distances[label], segment_distance(shape, a, b))
    corners = np.asarray(keypoints, dtype=np.float64)[list(TORSO_CORNERS)]
    if present(keypoints)[list(TORSO_CORNERS)].all():
        for a, b in zip(corners, np.roll(corners, -1, axis=0)):
            distances[TORSO] = np.minimum(distances[TORSO], segment_distance(shape, a, b))
        rows, cols = polygon(corners[:, 0], corners[:, 1], shape=shape)
        distances[TORSO][rows, cols] = 0.0
    labels = np.argmin(distances, axis=0).astype(np.uint8)
    drawn = np.isfinite(distances).any(axis=0)
    return np.where(mask & drawn, labels, 0).astype(np.uint8)
