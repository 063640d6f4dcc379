"""Keypoints, person masks and body parts of a data root's images, estimated by BlazePose: written as PATN
annotation rows and mask files, resumable, and idempotent on rerun.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from augreid.core.atomic import atomic_file, atomic_write_text
from augreid.core.errors import InputError
from augreid.core.output import output_lock
from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.blazepose import BlazePose, describe, keypoints_of
from augreid.data.images import check_images
from augreid.data.market import SPLIT_DIRS, annotation_file, parse_name, scan_split, split_dir
from augreid.data.pose import present
from augreid.data.semantic import PALETTE, body_parts

MASKS, PARTS = "masks", "parts"
SAVE_EVERY = 500

REPORT = "annotate.json"

NAMED = 10  # images without a person named in the printed report


def mask_paths(root: Path, split: str, name: str) -> tuple[Path, Path]:
    stem = parse_name(name).stem
    return tuple(root / kind / SPLIT_DIRS[split] / f"{stem}.png" for kind in (MASKS, PARTS))


def read_pixels(path: str | Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def save_masks(paths: tuple[Path, Path], mask: np.ndarray, parts: np.ndarray) -> None:
    with atomic_file(paths[0]) as tmp:
        Image.fromarray(mask.astype(np.uint8) * 255).save(tmp, format="PNG")
    labelled = Image.frombytes("P", parts.shape[::-1], np.ascontiguousarray(parts).tobytes())
    labelled.putpalette([value for colour in PALETTE for value in colour])
    with atomic_file(paths[1]) as tmp:
        labelled.save(tmp, format="PNG")


def existing_rows(root: Path, split: str, overwrite: bool) -> dict[str, np.ndarray]:
    path = annotation_file(root, split)
    if overwrite or not path.is_file():
        return {}
    annotations = read_annotations(path)
    return dict(zip(annotations.names, annotations.keypoints))


def write_rows(root: Path, split: str, rows: dict[str, np.ndarray]) -> None:
    write_annotations(annotation_file(root, split), Annotations(list(rows), np.stack(list(rows.values()))))


def without_person(root: Path) -> dict[str, set[str]]:
    """Per split, the images in which an earlier run found no person: they have no mask, and never will."""
    found: dict[str, set[str]] = {}
    for run in previous_runs(root):
        for split, report in run.get("splits", {}).items():
            found.setdefault(split, set()).update(report.get("no_person", []))
    return found


def plan(root: Path, splits: list[str], overwrite: bool, masks: bool) -> dict[str, dict]:
    """Per split: the images, the rows kept, and the images to estimate (no row) or to mask (no mask yet, and not
    known to show no person)."""
    empty = without_person(root)  # read first: a foreign record is refused before any work
    plans, empty = {}, {} if overwrite else empty
    for split in splits:
        table = scan_split(root, split)
        rows = existing_rows(root, split, overwrite)
        todo = [name for name in table["name"] if name not in rows]
        to_mask = [name for name in table["name"] if masks and name not in empty.get(split, set())
                   and (overwrite or not all(p.is_file() for p in mask_paths(root, split, name)))]
        plans[split] = {"paths": dict(zip(table["name"], table["path"])), "rows": rows, "estimate": set(todo),
                        "mask": set(to_mask), "kept": len(rows)}
    return plans


def images_without_keypoints(data_root: str | Path, splits: list[str]) -> int:
    """How many images of these splits have no row in their keypoint file (what `annotate` would estimate)."""
    return sum(len(p["estimate"]) for p in plan(Path(data_root), splits, overwrite=False, masks=False).values())


def annotate(data_root: str | Path, splits: list[str] | None = None, overwrite: bool = False, masks: bool = False,
             progress: bool = True) -> dict:
    """Estimate what the folder lacks (see the module's text); returns the report, per split."""
    root = Path(data_root)
    if not root.is_dir():
        raise InputError(f"{root}: data root does not exist")
    splits = splits or [split for split in SPLIT_DIRS if split_dir(root, split).is_dir()]
    if not splits:
        raise InputError(f"{root}: none of the split folders {', '.join(SPLIT_DIRS.values())}")
    with output_lock(root):  # it rewrites the data root's keypoint files: two runs at once would interleave them
        return _annotate(root, splits, overwrite, masks, progress)


def _annotate(root: Path, splits: list[str], overwrite: bool, masks: bool, progress: bool) -> dict:
    plans = plan(root, splits, overwrite, masks)  # reads the earlier runs' record first: a foreign one is refused
    work = [(split, name) for split, p in plans.items() for name in sorted(p["estimate"] | p["mask"])]
    check_images(plans[split]["paths"][name] for split, name in work)  # an unreadable image fails before the work
    report = {split: {"images": len(p["paths"]), "kept": p["kept"], "estimated": 0, "no_person": [], "masks": 0}
              for split, p in plans.items()}
    if not work:
        return {"estimator": None, "masks": masks, "splits": report, "images_per_second": None}
    started = time.perf_counter()
    with BlazePose() as estimator, tqdm(total=len(work), desc="annotate", unit="img", disable=not progress) as bar:
        for split, p in plans.items():
            todo = sorted(p["estimate"] | p["mask"])
            for done, name in enumerate(todo, start=1):
                estimate = estimator.estimate(read_pixels(p["paths"][name]))
                if estimate is None:
                    report[split]["no_person"].append(name)
                if name in p["estimate"]:
                    p["rows"][name] = keypoints_of(estimate)
                    report[split]["estimated"] += 1
                if estimate is not None and name in p["mask"]:
                    save_masks(mask_paths(root, split, name), estimate.mask, body_parts(estimate.mask, p["rows"][name]))
                    report[split]["masks"] += 1
                if done % SAVE_EVERY == 0 and report[split]["estimated"]:
                    write_rows(root, split, p["rows"])  # an interrupted run resumes from here
                bar.update()
            if report[split]["estimated"]:
                write_rows(root, split, p["rows"])
    seconds = time.perf_counter() - started
    for split, p in plans.items():
        report[split]["rows_without_joints"] = int(sum(not present(k).any() for k in p["rows"].values()))
    result = {"estimator": describe(), "masks": masks, "splits": report, "seconds": round(seconds, 1),
              "images_per_second": round(len(work) / max(seconds, 1e-9), 1)}
    write_report(root, result)
    return result


def previous_runs(root: Path) -> list:
    """The runs `<root>/annotate.json` records; someone else's file there is refused before any work."""
    path = root / REPORT
    try:
        return list(json.loads(path.read_text())["runs"]) if path.is_file() else []
    except (ValueError, KeyError, TypeError):  # augreid writes it whole (atomically): this is someone else's file
        raise InputError(f"{path}: not an augreid.annotate record (move it away to start a new one)") from None


def write_report(root: Path, result: dict) -> None:
    """Append this run to `<root>/annotate.json`: which estimator wrote which rows and masks."""
    atomic_write_text(root / REPORT, json.dumps({"runs": previous_runs(root) + [result]}, indent=2) + "\n")


def report_lines(result: dict) -> list[str]:
    lines = []
    for split, r in result["splits"].items():
        missed = r["no_person"]
        named = ", ".join(missed[:NAMED]) + (f" and {len(missed) - NAMED} more" if len(missed) > NAMED else "")
        lines.append(f"{split}: {r['images']} images, {r['kept']} rows kept, {r['estimated']} estimated, "
                     f"{len(missed)} without a person found" + (f" ({named})" if missed else "")
                     + (f", {r['masks']} masks and part maps" if r["masks"] else ""))
    if result["estimator"]:
        lines.append(f"{result['estimator']}: {result['images_per_second']} images/s")
    else:
        lines.append("nothing to estimate: every image has its keypoints" + (" and masks" if result["masks"] else ""))
    return lines
