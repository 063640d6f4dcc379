"""The portion p of the PoNA paper's Section IV-D: keep round(p * n) of each identity's n training images.

At least one image per identity is kept, so every identity stays in the training set; p = 1.0 keeps all.
The choice is a seeded shuffle per identity, so it does not depend on the order of the table or on the other
identities.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from augreid.core.errors import InputError


def check_portion(portion: float) -> float:
    if not 0.0 < portion <= 1.0:
        raise InputError(f"--portion {portion}: must be in (0, 1]")
    return float(portion)


def kept_count(portion: float, images: int) -> int:
    """round(p * n), at least 1. Python rounds halves to even; augreid rounds them up, as a reader would."""
    return max(1, min(images, int(np.floor(portion * images + 0.5))))


def keep_portion(train: pd.DataFrame, portion: float, seed: int) -> pd.Series:
    """Boolean Series over `train` (columns name, pid): True for the images kept at portion p."""
    check_portion(portion)
    kept = pd.Series(False, index=train.index)
    for pid, group in train.groupby("pid", sort=True):
        names = np.sort(group["name"].to_numpy())
        order = np.random.default_rng([seed, int(pid)]).permutation(len(names))
        chosen = set(names[order[: kept_count(portion, len(names))]])
        kept.loc[group.index] = group["name"].isin(chosen)
    return kept
