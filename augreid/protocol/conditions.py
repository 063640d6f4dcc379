"""Which kept image conditions the generation of a missing one: the condition / target choice.

`nearest` (default): the kept image of the same identity whose pose is nearest the target pose. The distance
is the mean distance in pixels between the joints annotated in both poses, after moving both so that the means
of those common joints coincide (position in the crop does not matter, the body's configuration does), plus
MISSING_PENALTY pixels for every joint annotated in exactly one of the two (a face seen in one and not the
other means another view). Ties go to the first name in sorted order.
`random`: a seeded uniform choice among the kept images of the identity.
"""
from __future__ import annotations

import numpy as np

from augreid.data.pose import present

MISSING_PENALTY = 20.0
MODES = ("nearest", "random")


def pose_distances(target: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(18, 2) target and (K, 18, 2) candidates -> (K,) distances as described above."""
    target_seen, candidate_seen = present(target), present(candidates)
    common = candidate_seen & target_seen  # (K, 18)
    counts = common.sum(axis=1)
    weights = common[..., None].astype(float)
    t = np.broadcast_to(target.astype(float), candidates.shape)
    c = candidates.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_centre = (t * weights).sum(1) / counts[:, None]
        c_centre = (c * weights).sum(1) / counts[:, None]
        gaps = np.linalg.norm((t - t_centre[:, None]) - (c - c_centre[:, None]), axis=-1)
        mean_gap = (gaps * common).sum(1) / counts
    mean_gap = np.where(counts > 0, mean_gap, 0.0)
    return mean_gap + MISSING_PENALTY * (candidate_seen ^ target_seen).sum(axis=1)


def choose_condition(target: np.ndarray, names: list[str], poses: np.ndarray, mode: str,
                     rng: np.random.Generator) -> str:
    """The condition image for one target among `names` (sorted) with `poses` (K, 18, 2)."""
    if mode == "random":
        return names[int(rng.integers(len(names)))]
    return names[int(np.argmin(pose_distances(target, poses)))]
