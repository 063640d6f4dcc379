"""Augmentation by a factor K, the second protocol of the field (SAN's Section 5, PN-GAN): every training image is
kept and K-1 images of its person in other poses are added, each conditioned on it.

Table VI's portion p asks whether generated images can stand in for missing ones; the factor K asks whether new
poses help a set that already has all its images. The target poses (`--poses`):
- `pool` (default): for each image, K-1 distinct poses drawn (seeded, per identity) from the annotated poses of the
  other training images, of any identity, that have both shoulders and both hips;
- `canonical N`: the training poses with shoulders and hips, centred on their torso and scaled by its height,
  clustered into N by k-means, as PN-GAN chooses its 8 canonical poses. Each canonical pose is the training pose
  nearest its cluster's centre (a real annotated pose, like those the generator learnt from, rather than an average
  that no body makes); the added images take them in turn (so K-1 <= N, and the image that is itself a canonical
  pose meets its own pose among them);
- `rare N` (default N = 8): the pose clusters of the training set (`pose_cells`: the view, front, back or side,
  times N k-means clusters of the normalised poses), and each image's K-1 distinct poses drawn from the pool with
  a weight inversely proportional to the size of their cluster: every occupied cluster is drawn as often, so the
  additions fill the sparse parts of the set's pose distribution, as Pose-dIVE (CVPR 2026) chooses its target
  poses and viewpoints.
The controls keep their meaning: `duplicate` adds K-1 copies of the image itself (the same count, no new pose) and
`none` is the original set.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.vq import ClusterError, kmeans2

from augreid.config import Poses
from augreid.core.errors import InputError
from augreid.data.annotations import Annotations
from augreid.data.pose import JOINT, has_torso, present, torso_height
from augreid.data.view import views

KMEANS_ITERATIONS = 100
POOL_STREAM, RARE_STREAM = 2, 4  # the random streams of the policies' draws, apart from each other and k-means' 3
SHOULDERS, HIPS = [JOINT["r_shoulder"], JOINT["l_shoulder"]], [JOINT["r_hip"], JOINT["l_hip"]]


def check_factor(factor: int) -> int:
    if isinstance(factor, bool) or int(factor) != factor or factor < 2:
        raise InputError(f"--factor {factor}: must be an integer of at least 2 (K = 1 is the original set)")
    return int(factor)


def normalised_poses(keypoints: np.ndarray) -> np.ndarray:
    """(N, 18, 2) poses with a torso -> (N, 54) features: each joint relative to the torso's centre (the mean of
    shoulders and hips) in torso heights (shoulders' midpoint to hips' midpoint), then whether the joint is seen.
    A missing joint sits at the centre and differs by its flag: another view, not another place."""
    points = keypoints.astype(float)
    seen = present(keypoints)
    centre = points[:, SHOULDERS + HIPS].mean(axis=1, keepdims=True)
    relative = (points - centre) / np.maximum(torso_height(keypoints), 1.0)[:, None, None]
    relative[~seen] = 0.0
    return np.concatenate([relative.reshape(len(points), -1), seen.astype(float)], axis=1)


def squared_distances(rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, D) and (C, D) -> (N, C) squared Euclidean distances."""
    return ((rows[:, None] - centres[None]) ** 2).sum(-1)


def kmeans(features: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Cluster index of each row: k-means++ seeding, then Lloyd's iterations (scipy's `kmeans2`). A cluster left
    without a row is refused (RuntimeError)."""
    try:
        _, labels = kmeans2(features, clusters, iter=KMEANS_ITERATIONS, minit="++", missing="raise",
                            rng=np.random.default_rng([seed, 3]))
    except ClusterError:
        raise RuntimeError(f"k-means left one of {clusters} clusters without a pose; try another --seed") from None
    return labels


def check_distinct(features: np.ndarray, policy: str, count: int) -> None:
    """k-means cannot make more clusters than there are distinct poses."""
    distinct = len(np.unique(features, axis=0))
    if distinct < count:
        raise InputError(f"--poses {policy}: the training set has only {distinct} distinct poses with shoulders and "
                         "hips")


def pose_cells(annotations: Annotations, pool: list[str], count: int, seed: int) -> np.ndarray:
    """The pose cluster of each pose of the `pool`: its view (`data/view.py`) and its k-means cluster among `count`
    of the normalised poses, as one index, view x count + cluster. The view is part of the key because the
    normalised pose hardly tells a front view from a back one (the same joints, mirrored)."""
    poses = annotations.poses(pool)
    features = normalised_poses(poses)
    check_distinct(features, f"rare {count}", count)
    return views(poses) * count + kmeans(features, count, seed)


def canonical_poses(annotations: Annotations, pool: list[str], count: int, seed: int) -> list[str]:
    """The names of the `count` canonical poses among the `pool` (sorted names with a torso): for each k-means
    cluster the pose nearest its centre; the largest cluster first."""
    features = normalised_poses(annotations.poses(pool))
    check_distinct(features, f"canonical {count}", count)
    labels = kmeans(features, count, seed)
    chosen = []
    for c in range(count):
        members = np.flatnonzero(labels == c)
        centre = features[members].mean(axis=0, keepdims=True)
        nearest = members[np.argmin(squared_distances(features[members], centre))]  # first in name order on ties
        chosen.append((-len(members), pool[nearest]))
    return [name for _, name in sorted(chosen)]


def pool_poses(annotations: Annotations, names: list[str]) -> list[str]:
    """The names whose poses `pool` draws from: annotated with both shoulders and both hips, sorted."""
    return sorted(n for n, ok in zip(names, has_torso(annotations.poses(names))) if ok)


def draw_targets(condition: str, count: int, pool: list[str], rng: np.random.Generator,
                 weights: np.ndarray | None = None) -> list[str]:
    """`count` distinct pool names other than the condition itself; uniformly, or by the `weights` (summing to 1)."""
    drawn = [pool[i] for i in rng.choice(len(pool), size=min(count + 1, len(pool)), replace=False, p=weights)]
    return [name for name in drawn if name != condition][:count]


def rare_weights(cells: np.ndarray) -> np.ndarray:
    """Each pose's draw probability, inversely proportional to the size of its cluster: the clusters equally."""
    inverse = 1.0 / np.bincount(cells)[cells]
    return inverse / inverse.sum()


def drawn_targets(train: pd.DataFrame, pool: list[str], factor: int, seed: int, stream: int,
                  weights: np.ndarray | None = None) -> dict[str, list[str]]:
    """For each training image, K-1 distinct poses of the pool drawn by the `weights` (None: uniformly), seeded
    per identity and policy (`stream`)."""
    targets = {}
    for pid, group in train.groupby("pid", sort=True):
        rng = np.random.default_rng([seed, int(pid), stream])
        for name in sorted(group["name"]):
            targets[name] = draw_targets(name, factor - 1, pool, rng, weights)
    return targets


def factor_targets(train: pd.DataFrame, annotations: Annotations, factor: int, poses: Poses,
                   seed: int) -> dict[str, list[str]]:
    """For each training image (by name), the K-1 images whose poses its added images take."""
    pool = pool_poses(annotations, sorted(train["name"]))
    if poses.mode in ("pool", "rare"):
        if len(pool) < factor:
            raise InputError(f"--factor {factor}: the pool holds only {len(pool)} poses with shoulders and hips, "
                             f"fewer than K = {factor}")
        if poses.mode == "pool":
            return drawn_targets(train, pool, factor, seed, POOL_STREAM)
        weights = rare_weights(pose_cells(annotations, pool, poses.count, seed))
        return drawn_targets(train, pool, factor, seed, RARE_STREAM, weights)
    if factor - 1 > poses.count:
        raise InputError(f"--factor {factor} with --poses canonical {poses.count}: at most {poses.count} new poses per "
                         f"image, so K can be at most {poses.count + 1}")
    canonical = canonical_poses(annotations, pool, poses.count, seed)
    # the t-th added image of the set takes canonical pose t mod N: each image gets K-1 different ones
    by_identity = train.sort_values(["pid", "name"])["name"]
    return {name: [canonical[(i * (factor - 1) + k) % poses.count] for k in range(factor - 1)]
            for i, name in enumerate(by_identity)}
