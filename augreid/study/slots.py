"""The images a study needs, exported for a generator that runs elsewhere: every (condition, target) pair of its
cells in batches, each in the PATN layout their test scripts read (images, pairs CSV, heatmaps).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from augreid.config import QUALITY_PAIRS, Poses, parse_poses
from augreid.core.atomic import atomic_file, atomic_write_text, file_sha256
from augreid.core.errors import InputError
from augreid.core.output import check_output
from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.heatmap import pose_heatmaps
from augreid.data.images import check_images
from augreid.data.market import TEST_PAIRS, annotation_file, check_complete, scan_split
from augreid.evaluation.quality import test_pairs
from augreid.protocol.conditions import MODES
from augreid.protocol.factor import check_factor
from augreid.protocol.plan import UNPOSED_POLICIES, plan_augmentation, plan_by_factor
from augreid.protocol.portion import check_portion

SLOT_COLUMNS = ["kind", "portion", "factor", "seed", "from", "to", "batch"]

HEATMAP_CHUNK = 256  # images whose heatmaps are computed at once (590 kB each)


def study_slots(data_root: Path, portions: list[float], seeds: list[int], condition_mode: str, unposed: str,
                factors: list[int] = (), poses: Poses = Poses()) -> pd.DataFrame:
    """One row per generated image of each (portion, seed) and (factor, seed) cell: kind `slot`, portion or factor,
    seed, from, to."""
    train = scan_split(data_root, "train")
    annotations = read_annotations(annotation_file(data_root, "train"))
    cells = []
    for seed in seeds:
        plans = [({"portion": portion}, plan_augmentation(train, annotations, portion, seed, "slot", condition_mode,
                                                          unposed)) for portion in portions]
        plans += [({"factor": factor}, plan_by_factor(train, annotations, factor, poses, seed, "slot", unposed))
                  for factor in factors]
        for cell, manifest in plans:
            generated = manifest[manifest["source"] == "generated"]
            cells.append(pd.DataFrame({"kind": "slot", "portion": cell.get("portion"), "factor": cell.get("factor"),
                                       "seed": seed, "from": generated["condition"], "to": generated["target"]}))
    return pd.concat(cells, ignore_index=True)


def assign_batches(pairs: pd.DataFrame) -> list[int]:
    """Batch (1, 2, ...) of each pair, greedily, so that within a batch no target is also a condition: each
    batch's folder then holds only stand-ins under the targets' names."""
    conditions: list[set[str]] = []
    targets: list[set[str]] = []
    batches = []
    for condition, target in zip(pairs["from"], pairs["to"]):
        batch = next((b for b in range(len(conditions))
                      if condition not in targets[b] and target not in conditions[b]), len(conditions))
        if batch == len(conditions):
            conditions.append(set())
            targets.append(set())
        conditions[batch].add(condition)
        targets[batch].add(target)
        batches.append(batch + 1)
    return batches


def write_heatmaps(folder: Path, keypoints: Annotations) -> None:
    """`NAME.npy` for each image, in the format of the PATN family's `tool/generate_pose_map_market.py`, which
    their loader (`data/keypoint.py`) reads from `<dataroot>/<phase>K/`: float32, (128, 64, 18), i.e. (H, W, C)."""
    folder.mkdir()
    for start in range(0, len(keypoints.names), HEATMAP_CHUNK):
        names = keypoints.names[start:start + HEATMAP_CHUNK]
        maps = pose_heatmaps(keypoints.poses(names)).permute(0, 2, 3, 1).numpy()
        for name, heatmap in zip(names, maps):
            np.save(folder / f"{name}.npy", np.ascontiguousarray(heatmap))


def write_batch(folder: Path, pairs: pd.DataFrame, images: dict[str, Path], keypoints: Annotations) -> None:
    """One batch in the PATN layout: condition images, target stand-ins, keypoints, heatmaps, pairs. A target's
    keypoints and heatmaps are its own (the pose to draw), its image is the stand-in."""
    image_dir = folder / "test"
    image_dir.mkdir(parents=True)
    for condition in pd.unique(pairs["from"]):
        shutil.copyfile(images[condition], image_dir / condition)
    for target, condition in pairs.drop_duplicates("to")[["to", "from"]].itertuples(index=False):
        shutil.copyfile(images[condition], image_dir / target)  # the stand-in: never the real target
    names = list(pd.unique(pd.concat([pairs["from"], pairs["to"]])))
    batch_keypoints = keypoints.subset(names)
    write_annotations(folder / "market-annotation-test.csv", batch_keypoints)
    write_heatmaps(folder / "testK", batch_keypoints)
    pairs[["from", "to"]].to_csv(folder / TEST_PAIRS, index=False, lineterminator="\n")


def export_slots(data_root: str | Path, out: str | Path, portions: list[float], seeds: list[int],
                 condition_mode: str = "nearest", unposed: str = "generate", test_count: int = QUALITY_PAIRS,
                 test_seed: int = 0, with_test_pairs: bool = True, factors: list[int] = (),
                 poses: str = "pool") -> dict:
    """Write the study's pairs as batches for a test script elsewhere; returns the export's summary."""
    data_root = Path(data_root)
    portions = [check_portion(p) for p in portions if p != 1.0]
    factors, poses = [check_factor(k) for k in factors], parse_poses(poses)
    if not (portions or factors) or not seeds:
        raise InputError("--portions (below 1) or --factors, and --seeds must each name at least one value")
    if condition_mode not in MODES:
        raise InputError(f"--condition: unknown mode '{condition_mode}' (known: {', '.join(MODES)})")
    if unposed not in UNPOSED_POLICIES:
        raise InputError(f"--unposed: unknown policy '{unposed}' (known: {', '.join(UNPOSED_POLICIES)})")
    if not data_root.is_dir():
        raise InputError(f"{data_root}: data root does not exist")
    out = check_output(out, data_root)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not empty (choose another --out)")
    check_complete(data_root)
    slots = study_slots(data_root, portions, seeds, condition_mode, unposed, factors, poses)
    images = {name: Path(path) for name, path in scan_split(data_root, "train")[["name", "path"]].values}
    keypoints = read_annotations(annotation_file(data_root, "train"))
    parts = [slots]
    if with_test_pairs:
        published = data_root / TEST_PAIRS
        tests, test_keypoints = test_pairs(data_root, published if published.is_file() else None, test_count, test_seed)
        parts.append(tests.assign(kind="test", portion=None, seed=None))
        images.update({name: Path(path) for name, path in scan_split(data_root, "gallery")[["name", "path"]].values})
        keypoints = Annotations(keypoints.names + test_keypoints.names,
                                np.concatenate([keypoints.keypoints, test_keypoints.keypoints]))
    table = pd.concat(parts, ignore_index=True).astype({"factor": "Int64"})
    pairs = table.drop_duplicates(["from", "to"]).reset_index(drop=True)
    pairs["batch"] = assign_batches(pairs)
    table = table.merge(pairs[["from", "to", "batch"]], on=["from", "to"])[SLOT_COLUMNS]
    check_images(images[name] for name in sorted(set(pairs["from"])))  # each is copied out: a broken one fails here

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))  # renamed into place when complete
    try:
        for batch, rows in pairs.groupby("batch"):
            write_batch(staging / f"batch_{batch}", rows, images, keypoints)
        with atomic_file(staging / "slots.csv") as tmp:
            table.to_csv(tmp, index=False, lineterminator="\n")
        summary = {
            "inputs": {"data_root": str(data_root.resolve()),
                       "annotations_sha256": file_sha256(annotation_file(data_root, "train")),
                       "portions": portions, "factors": factors, "poses": str(poses), "seeds": seeds,
                       "condition": condition_mode, "unposed": unposed,
                       "test_pairs": (str(data_root / TEST_PAIRS) if (data_root / TEST_PAIRS).is_file()
                                      else f"{test_count} drawn with seed {test_seed}") if with_test_pairs else None},
            "counts": {"slots": int((table["kind"] == "slot").sum()), "test_pairs": int((table["kind"] == "test").sum()),
                       "images_to_make": len(pairs), "batches": int(pairs["batch"].max())},
            "stand_ins": "each target image in batch_*/test/ is a copy of its pair's condition image; no real target "
                         "image is exported",
        }
        atomic_write_text(staging / "export.json", json.dumps(summary, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**summary, "out": str(out)}
