"""How far a factor-K set's added poses spread over the training set's pose clusters (`factor.pose_cells`: view x
k-means cluster): the Shannon entropy, in bits, of the clusters' occupancy by the training set's poses (those with
shoulders and hips), by the added images' target poses, and by the augmented set (the former two together). The
added images that the `pool` policy draws at the same seed are measured too, as the reference a policy is held to.
Copies (`duplicate`, `--unposed copy`) add no new pose and are left out.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.stats import entropy

from augreid.config import RARE_CLUSTERS, Poses
from augreid.core.errors import InputError
from augreid.data.annotations import Annotations
from augreid.data.view import VIEWS
from augreid.protocol.factor import factor_targets, pool_poses, pose_cells

DIGITS = 4


def occupancy_entropy(cells: Iterable[int]) -> float:
    """The entropy in bits of how the poses fall into their clusters (empty clusters count for nothing)."""
    _, counts = np.unique(np.fromiter(cells, dtype=int), return_counts=True)
    return round(float(entropy(counts, base=2)), DIGITS)


def pose_cluster_entropy(train: pd.DataFrame, annotations: Annotations, manifest: pd.DataFrame, factor: int,
                         poses: Poses, seed: int) -> dict | None:
    """The entropies of the training set's, the added images' (and pool's at the same seed) and the augmented set's
    pose clusters, measured on `rare`'s clusters (RARE_CLUSTERS k-means clusters for the other policies). None
    where those cannot be made (fewer distinct poses than clusters, or a cluster emptied by k-means): the set
    stands without its figure."""
    pool = pool_poses(annotations, sorted(train["name"]))
    clusters = poses.count if poses.mode == "rare" else RARE_CLUSTERS
    try:  # `rare`'s own clusters were made already, by its draw
        cell = dict(zip(pool, pose_cells(annotations, pool, clusters, seed).tolist()))
    except (InputError, RuntimeError):
        return None
    added = manifest[manifest["source"] == "generated"]
    by_pool = factor_targets(train, annotations, factor, Poses(), seed)
    pool_added = [target for condition in added["condition"].unique() for target in by_pool[condition]]
    kept = [name for name in manifest.loc[manifest["source"] == "kept", "name"] if name in cell]
    return {"policy": str(poses), "clusters": clusters, "occupied": len(set(cell.values())),
            "training": occupancy_entropy(cell.values()),
            "added": occupancy_entropy(cell[t] for t in added["target"]),
            "pool_added": occupancy_entropy(cell[t] for t in pool_added),
            "augmented": occupancy_entropy(cell[n] for n in kept + added["target"].tolist())}


def entropy_line(measured: dict, prefix: str = "pose-cluster entropy") -> str:
    """The figures in words, e.g. 'pose-cluster entropy (8 k-means clusters x 3 views, 17 occupied): training 3.83
    bits; added images: pool 3.80, rare 8 4.08 bits; augmented set 4.03 bits'."""
    added = f"pool {measured['pool_added']:.2f}"
    if measured["policy"] != "pool":
        added += f", {measured['policy']} {measured['added']:.2f}"
    views = f"{measured['clusters']} k-means clusters x {len(VIEWS)} views, {measured['occupied']:g} occupied"
    return (f"{prefix} ({views}): training {measured['training']:.2f} bits; added images: {added} bits; augmented "
            f"set {measured['augmented']:.2f} bits")


def entropy_notes(results: list[dict]) -> list[str]:
    """A study's figures per factor K, the mean over its seeds (`results`: the factor table's runs, each with the
    `pose_clusters` of its set's summary or None; the added poses do not depend on the generator)."""
    measured = pd.DataFrame([{"factor": r["factor"], "seed": r["seed"], **r["pose_clusters"]} for r in results
                             if r.get("pose_clusters")])
    if measured.empty:
        return []
    measured = measured.drop_duplicates(["factor", "seed"])
    lines = []
    for (factor, policy, clusters), runs in measured.groupby(["factor", "policy", "clusters"]):
        mean = {"policy": policy, "clusters": clusters,
                **runs[["occupied", "training", "added", "pool_added", "augmented"]].mean().round(2).to_dict()}
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        lines.append(entropy_line(mean, f"Pose-cluster entropy at K = {factor}, mean over {seeds}"))
    return lines
