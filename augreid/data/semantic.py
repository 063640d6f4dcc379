"""Semantic maps: body-part labels from a person mask and keypoints, in Pascal-Person-Part's labels, and the maps
SAN is conditioned on.

Every pixel of the person mask takes the part of the nearest piece of the skeleton drawn from the keypoints:
- head: the bones nose-eyes, eyes-ears, and the upper half of the neck-nose bone;
- torso: the quadrilateral of the shoulders and hips (distance 0 inside), and the neck-to-mid-hip line;
- upper arms: shoulder-elbow; lower arms: elbow-wrist (the hand is nearest to it);
- upper legs: hip-knee; lower legs: knee-ankle (the foot is nearest to it).
A piece whose joints are missing is left out; pixels outside the mask are background, and so is the whole map when
the keypoints draw no piece at all.

SAN's maps (`semantic_pair_maps`) are drawn from keypoints alone, the person mask being the body mask of mask-SSIM
(`pose.body_mask`): in `augreid.generate` a missing image is known by its keypoints only, so the target's maps
cannot come from the image, and the condition's are drawn the same way so that both pathways see one kind of map.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from skimage.draw import polygon
from torch.nn import functional as F

from augreid.data.pose import JOINT, N_JOINTS, body_mask, present

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


@lru_cache(maxsize=8)
def _pixels(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.stack([rows, cols], axis=-1).astype(np.float64)


def segment_distance(shape: tuple[int, int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) distance of every pixel to the segment a-b ((y, x) points)."""
    pixels = _pixels(shape)
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


SEMANTIC_CHANNELS = 1 + len(PARTS)  # the person mask, then one channel per part label (background included)


@lru_cache(maxsize=1 << 16)  # a training set's poses recur every epoch; 16 KB each
def _drawn(keypoints: bytes) -> np.ndarray:
    points = np.frombuffer(keypoints, dtype=np.int64).reshape(N_JOINTS, 2)
    mask = body_mask(points)
    return np.stack([mask.astype(np.uint8), body_parts(mask, points)])


def semantic_maps(keypoints: torch.Tensor | np.ndarray, device: torch.device | str | None = None,
                  pool: int = 1) -> torch.Tensor:
    """(B, 18, 2) keypoints -> (B, 8, H, W) float: the person mask drawn from them and its parts, one-hot;
    average-pooled by `pool` for a generator at a smaller scale."""
    points = np.asarray(keypoints.cpu() if torch.is_tensor(keypoints) else keypoints, dtype=np.int64)
    drawn = torch.from_numpy(np.stack([_drawn(np.ascontiguousarray(p).tobytes()) for p in points])).to(device)
    parts = F.one_hot(drawn[:, 1].long(), len(PARTS)).permute(0, 3, 1, 2)
    maps = torch.cat([drawn[:, :1], parts], dim=1).float()
    return F.avg_pool2d(maps, pool) if pool > 1 else maps


def semantic_pair_maps(condition: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
                       **kwargs) -> torch.Tensor:
    """Condition and target semantic maps on the channel axis: (B, 16, H, W), SAN's two pathways' inputs."""
    return torch.cat([semantic_maps(condition, **kwargs), semantic_maps(target, **kwargs)], dim=1)
