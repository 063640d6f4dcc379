"""Training pairs by the published PATN / PoNA rule: two images of one identity, both with shoulders and hips;
sampled test pairs; the batches a generator trains on.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augreid.core.atomic import atomic_file
from augreid.core.errors import InputError
from augreid.data.annotations import Annotations
from augreid.data.images import load_image, to_tensor
from augreid.data.market import is_identity, parse_name
from augreid.data.pose import has_torso


def usable_for_pairs(annotations: Annotations) -> list[str]:
    """Names that may appear in a training pair: a real identity with both shoulders and both hips."""
    torso = has_torso(annotations.keypoints)
    return [name for name, ok in zip(annotations.names, torso) if ok and is_identity(parse_name(name).pid)]


def pairs_within_identities(names: list[str]) -> pd.DataFrame:
    """All ordered pairs of two different images of one identity: columns `from` (condition), `to` (target).

    Identities in ascending order, images in the given order within an identity.
    """
    by_pid: dict[int, list[str]] = defaultdict(list)
    for name in names:
        by_pid[parse_name(name).pid].append(name)
    rows = [(a, b) for pid in sorted(by_pid) for a in by_pid[pid] for b in by_pid[pid] if a != b]
    return pd.DataFrame(rows, columns=["from", "to"])


def training_pairs(annotations: Annotations) -> pd.DataFrame:
    """The published training pairs of an annotation file."""
    return pairs_within_identities(usable_for_pairs(annotations))


def sample_pairs(annotations: Annotations, count: int, seed: int) -> pd.DataFrame:
    """`count` pairs drawn without replacement (seeded) from all pairs of an annotation file, e.g. held-out test pairs."""
    pairs = training_pairs(annotations)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(pairs), size=min(count, len(pairs)), replace=False))
    return pairs.iloc[chosen].reset_index(drop=True)


class PairBatches(torch.utils.data.Dataset):
    """Item `step` is the batch of (condition, target) pairs for training iteration `step`.

    Each batch is drawn from a generator seeded with (seed, step), so batches do not depend on loader workers
    and a resumed run sees exactly the batches it would have seen.
    """

    def __init__(self, pairs: pd.DataFrame, image_dir: Path, annotations: Annotations, batch_size: int, seed: int):
        missing = sorted(set(pairs["from"]).union(pairs["to"]) - {p.name for p in image_dir.glob("*.jpg")})
        if missing:
            raise InputError(f"{image_dir / missing[0]}: annotated training image is missing "
                             f"({len(missing)} missing in all)")
        self.pairs, self.image_dir, self.annotations = pairs, image_dir, annotations
        self.batch_size, self.seed = batch_size, seed

    def indices(self, step: int) -> np.ndarray:
        return np.random.default_rng([self.seed, step]).integers(len(self.pairs), size=self.batch_size)

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rows = self.pairs.iloc[self.indices(step)]
        load = lambda names: to_tensor(np.stack([load_image(self.image_dir / n) for n in names]))  # noqa: E731
        return {
            "condition": load(rows["from"]),
            "target": load(rows["to"]),
            "condition_pose": torch.from_numpy(self.annotations.poses(rows["from"])),
            "target_pose": torch.from_numpy(self.annotations.poses(rows["to"])),
        }


def write_pairs(path: str | Path, pairs: pd.DataFrame) -> None:
    with atomic_file(path) as tmp:
        pairs.to_csv(tmp, index=False, lineterminator="\n")
