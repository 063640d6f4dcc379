"""`python -m augreid.slots --data-root DIR --portions P ... [--factors K ...] --out DIR`: the images a study needs
from a generator that runs elsewhere, as inputs to its authors' own test script.

For each portion and seed it makes the choices `augreid.generate` makes (kept images, and for every missing image
its condition image and target pose), the same for each factor K (every image the condition of K-1 target poses),
and adds the test pairs that the quality table scores (the data root's
`market-pairs-test.csv`, else the config's seeded pairs). Each (condition, target) pair is one image to make.
They are written in the format the PATN-family test scripts read, one folder per batch:

    OUT/batch_1/test/                       condition images, and a stand-in for every target image
    OUT/batch_1/testK/NAME.npy              each image's pose heatmaps, as their loaders read them
    OUT/batch_1/market-annotation-test.csv  keypoints of both (PATN format)
    OUT/batch_1/market-pairs-test.csv       from,to
    OUT/slots.csv                           every pair: kind (slot or test), portion or factor, seed, batch
    OUT/export.json                         the inputs, counts and the stand-in rule

Those scripts also open the target image of each pair, which does not exist for a missing slot. Its stand-in is
a copy of the pair's condition image, so no real target can leak into a generated image; and since an image may
be a target in one pair and a condition in another, pairs are split into batches within which no target name is a
condition name. The heatmaps are what their `tool/generate_pose_map_market.py` would write from the annotations
(computed by `augreid.heatmap`), so their test script runs on a batch unchanged. Run it on each batch, gather the
generated images in one folder, and read them back with `augreid.generate --generator external:NAME --images DIR`
(and the flow's `external:NAME=DIR`).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from augreid.annotations import Annotations, read_annotations, write_annotations
from augreid.atomic import atomic_file, atomic_write_text, file_sha256
from augreid.cli import ArgumentParser, seed_number
from augreid.conditions import MODES
from augreid.config import QUALITY_PAIRS, load_config
from augreid.errors import InputError, exit_on_input_error
from augreid.factor import Poses, check_factor, parse_poses
from augreid.generate import UNPOSED_POLICIES, plan_augmentation, plan_by_factor
from augreid.heatmap import pose_heatmaps
from augreid.images import check_images
from augreid.market import TEST_PAIRS, annotation_file, check_complete, scan_split
from augreid.output import check_output
from augreid.portion import check_portion
from augreid.quality import test_pairs

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


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.slots", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder with keypoints")
    parser.add_argument("--out", required=True, type=Path, help="a new folder for the batches")
    parser.add_argument("--config", type=Path, help="YAML config: its augmentation and quality sections give the "
                                                    "defaults of --condition, --unposed and the test pairs")
    parser.add_argument("--portions", type=float, nargs="*", default=[0.2, 0.4, 0.6, 0.8],
                        help="kept portions p (none given: only the factors)")
    parser.add_argument("--factors", type=int, nargs="+", default=[], help="factors K of augmentation by K")
    parser.add_argument("--poses", nargs="+", metavar="MODE",
                        help="the factors' poses: pool or canonical N (default: the config's, else pool)")
    parser.add_argument("--seeds", type=seed_number, nargs="+", default=[0])
    parser.add_argument("--condition", help="nearest or random (default: the config's, else nearest)")
    parser.add_argument("--unposed", help="generate, copy or skip (default: the config's, else generate)")
    parser.add_argument("--no-test-pairs", action="store_true", help="leave out the quality table's test pairs")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else None
    summary = export_slots(
        args.data_root, args.out, args.portions, args.seeds,
        args.condition or (config.augmentation.condition if config else "nearest"),
        args.unposed or (config.augmentation.unposed if config else "generate"),
        config.quality.pairs if config else QUALITY_PAIRS, config.quality.seed if config else 0,
        not args.no_test_pairs,
        args.factors, " ".join(args.poses) if args.poses else config.augmentation.poses if config else "pool")
    counts, inputs = summary["counts"], summary["inputs"]
    cells = (len(inputs["portions"]) + len(inputs["factors"])) * len(args.seeds)
    print(f"{summary['out']}: {counts['slots']} slots of {cells} cells "
          f"and {counts['test_pairs']} test pairs = {counts['images_to_make']} images to make, in "
          f"{counts['batches']} batch folders (test/, testK/, market-annotation-test.csv, {TEST_PAIRS}); every target "
          "image there is a stand-in, a copy of its pair's condition image")
    return 0


run = exit_on_input_error(main)

if __name__ == "__main__":
    run()
