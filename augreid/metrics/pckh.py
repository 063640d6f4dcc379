"""PCKh as PATN's and PoNA's `tool/calPCKH_market.py` computes it: does the generated person stand in the target pose?

Per pair, the head box is the extent (width, height) of the target's nose, neck, eyes and ears (at least two of
them present, else the pair is left out). A target joint is correct when the estimated joint lies within
ALPHA of the head box's width in x and of its height in y; a joint the estimator misses is wrong. PCKh = correct /
target joints present, over all pairs. The papers estimate with OpenPose; augreid with BlazePose
(`pose_estimator/blazepose.py`), so its figures are on augreid's own scale: compare them with the real target's
PCKh (the estimator's ceiling), not with the papers'.
"""
from __future__ import annotations

import numpy as np

from augreid.data.pose import JOINT, present

ALPHA = 0.5
HEAD_JOINTS = tuple(JOINT[name] for name in ("nose", "neck", "r_eye", "l_eye", "r_ear", "l_ear"))


def head_box(target: np.ndarray) -> tuple[float, float] | None:
    """(width, height) of the target's head joints' extent; None with fewer than two of them."""
    head = np.asarray(target)[list(HEAD_JOINTS)][present(target)[list(HEAD_JOINTS)]]
    if len(head) < 2:
        return None
    height, width = head.max(axis=0) - head.min(axis=0)
    return float(width), float(height)


def correct_joints(estimated: np.ndarray, target: np.ndarray) -> tuple[int, int]:
    """(correct, target joints present) of one pair; (0, 0) when the target has no head box."""
    box = head_box(target)
    if box is None:
        return 0, 0
    width, height = box
    both = present(estimated) & present(target)
    dy, dx = np.abs(np.asarray(estimated, dtype=np.float64) - target).T
    return int((both & (dx < ALPHA * width) & (dy < ALPHA * height)).sum()), int(present(target).sum())


def pckh(estimated: np.ndarray, targets: np.ndarray) -> dict:
    """PCKh over pairs: estimated (N, 18, 2) keypoints (-1 missing) against the targets' (N, 18, 2); `found`: the
    images where the estimator found a person (any joint)."""
    counts = np.array([correct_joints(e, t) for e, t in zip(estimated, targets)]).reshape(-1, 2)
    correct, total = counts.sum(axis=0)
    return {"pckh": round(float(correct / total), 4) if total else None, "correct": int(correct), "joints": int(total),
            "pairs": int((counts[:, 1] > 0).sum()), "found": int(present(estimated).any(axis=-1).sum())}
