"""The augmentation plan: the manifest, one row per image of the augmented training set, by a portion p kept
(`portion.py`) or a factor K (`factor.py`), and what became of the images without a usable pose.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from augreid.config import Poses
from augreid.data.annotations import Annotations
from augreid.data.market import parse_name
from augreid.data.pose import has_torso, present
from augreid.protocol.conditions import choose_condition
from augreid.protocol.factor import factor_targets
from augreid.protocol.portion import keep_portion

MANIFEST_COLUMNS = ["name", "pid", "camid", "source", "condition", "target", "generator"]
# A missing image whose pose lacks a shoulder or hip (419 real training images have no keypoints at all, 820 miss a
# torso joint): the published pair rule keeps such images out of generator training, so a generator has never
# learnt to draw them. Policies: generate it anyway (the default: the set keeps the original counts and poses, as
# the paper's), fill the slot with the condition image, or leave the slot out.
UNPOSED_POLICIES = ("generate", "copy", "skip")
UNPOSED_SOURCE = {"copy": "copied", "skip": "skipped"}


def filled_name(target: str, generator: str) -> str:
    """The target's name with the generator as tag: same identity and camera, never a real Market-1501 name."""
    return parse_name(target).tagged(generator)


def plan_augmentation(train: pd.DataFrame, annotations: Annotations, portion: float, seed: int, generator: str,
                      condition_mode: str = "nearest", unposed: str = "generate") -> pd.DataFrame:
    """The manifest: one row per image of the augmented training set, sorted by identity then name. A missing
    image whose pose lacks a shoulder or hip (`unposed`) is filled as the others (`generate`), with its condition
    image (`copy`, source `copied`), or left out (`skip`)."""
    kept = keep_portion(train, portion, seed)
    rows = []
    for pid, group in train.groupby("pid", sort=True):
        group = group.sort_values("name")
        kept_names = group.loc[kept[group.index], "name"].tolist()
        kept_poses = annotations.poses(kept_names)
        rng = np.random.default_rng([seed, int(pid), 1])
        for _, image in group.iterrows():
            if kept[image.name]:
                rows.append((image["name"], pid, image["camid"], "kept", "", image["name"], ""))
            elif generator != "none":
                condition = choose_condition(annotations.pose(image["name"]), kept_names, kept_poses, condition_mode, rng)
                source = "generated" if unposed == "generate" or has_torso(annotations.pose(image["name"])) \
                    else UNPOSED_SOURCE[unposed]
                if source != "skipped":
                    rows.append((filled_name(image["name"], generator), pid, image["camid"], source, condition,
                                 image["name"], generator))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest.sort_values(["pid", "name"], kind="stable").reset_index(drop=True)


def plan_by_factor(train: pd.DataFrame, annotations: Annotations, factor: int, poses: Poses, seed: int,
                   generator: str, unposed: str = "generate") -> pd.DataFrame:
    """The manifest of augmentation by a factor K: every image kept, then K-1 added per image, named after it with
    the generator and k as tag. `duplicate` copies the image (its own pose); an image without shoulders or hips
    (`unposed`) conditions its K-1 like the others (`generate`), is copied K-1 times (`copy`) or adds nothing
    (`skip`)."""
    targets = factor_targets(train, annotations, factor, poses, seed) if generator not in ("none", "duplicate") else {}
    rows = []
    for image in train.sort_values(["pid", "name"]).itertuples(index=False):
        rows.append((image.name, image.pid, image.camid, "kept", "", image.name, ""))
        if generator == "none":
            continue
        posed = has_torso(annotations.pose(image.name))
        if not posed and unposed == "skip":
            continue
        copied = generator == "duplicate" or not posed and unposed == "copy"
        for k in range(1, factor):
            target = image.name if copied else targets[image.name][k - 1]
            source = "copied" if copied and generator != "duplicate" else "generated"
            rows.append((parse_name(image.name).tagged(f"{generator}_k{k}"), image.pid, image.camid, source,
                         image.name, target, generator))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest.sort_values(["pid", "name"], kind="stable").reset_index(drop=True)


def condition_counts(train: pd.DataFrame, manifest: pd.DataFrame, annotations: Annotations, unposed: str) -> dict:
    """Augmentation by K: how many images (each the condition of its K-1) had no keypoints, or lacked a torso
    joint, and what the policy did with those lacking one: their K-1 generated, copied or skipped."""
    poses = annotations.poses(train["name"])
    torsoless = set(train["name"][~has_torso(poses)])
    added = manifest[(manifest["source"] != "kept") & manifest["condition"].isin(torsoless)]
    generated = added.loc[added["source"] == "generated", "condition"].nunique()
    copied = added.loc[added["source"] == "copied", "condition"].nunique()
    return {"policy": unposed, "conditions_without_keypoints": int((~present(poses).any(axis=1)).sum()),
            "conditions_without_torso": len(torsoless), "generated": int(generated), "copied": int(copied),
            "skipped": len(torsoless) - int(generated + copied) if (manifest["source"] != "kept").any() else 0}


def pose_counts(train: pd.DataFrame, manifest: pd.DataFrame, annotations: Annotations, unposed: str) -> dict:
    """How many missing images had no keypoints, or lacked a torso joint, how many of the chosen conditions lacked
    one, and what the policy did with the torsoless targets: generated, copied or skipped."""
    kept = set(manifest.loc[manifest["source"] == "kept", "name"])
    missing = annotations.poses([name for name in train["name"] if name not in kept])
    filled = manifest[manifest["source"] != "kept"]
    torsoless = filled[~has_torso(annotations.poses(filled["target"]))]
    without_torso = int((~has_torso(missing)).sum())
    return {"policy": unposed, "targets_without_keypoints": int((~present(missing).any(axis=1)).sum()),
            "targets_without_torso": without_torso,
            "conditions_without_torso": int((~has_torso(annotations.poses(filled["condition"]))).sum()),
            "generated": int((torsoless["source"] == "generated").sum()),
            "copied": int((torsoless["source"] == "copied").sum()),
            "skipped": without_torso - len(torsoless) if len(filled) else 0}


def unposed_line(counts: dict) -> str:
    """The log's account of the images without a usable pose: the missing ones (portion p), or the conditions
    (factor K)."""
    if "conditions_without_keypoints" in counts:
        return (f"images without shoulders or hips: {counts['conditions_without_torso']} "
                f"({counts['conditions_without_keypoints']} without any keypoint), policy '{counts['policy']}': the "
                f"additions of {counts['generated']} generated, of {counts['copied']} copied, of {counts['skipped']} "
                "skipped")
    return (f"missing images without shoulders or hips: {counts['targets_without_torso']} "
            f"({counts['targets_without_keypoints']} without any keypoint), policy '{counts['policy']}': "
            f"{counts['generated']} generated, {counts['copied']} copied, {counts['skipped']} skipped; "
            f"{counts['conditions_without_torso']} conditions without shoulders or hips")
