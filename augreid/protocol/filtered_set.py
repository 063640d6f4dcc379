"""A filtered augmented set: an `augreid.generate` set whose generated images pass the identity filter
(`identity_filter.py`), the others left out or replaced by their condition image.

Nothing is generated again: the kept and copied images link to the source, the passing generated images to the
unfiltered set. Writes the same layout as `augreid.generate` (training folder, annotations, evaluation splits
linked, `manifest.csv`, `summary.json`, whose `filter` counts the images scored, kept and filtered) and
`scores.csv` (every generated image's score and whether it passed).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augreid.core.atomic import atomic_file, atomic_write_text, file_sha256
from augreid.core.device import pick_device
from augreid.core.errors import InputError
from augreid.core.output import check_output, output_lock
from augreid.core.tensors_file import tensors_digest
from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.images import load_image
from augreid.data.market import GENERATED_SUMMARY, SPLIT_DIRS, annotation_file, scan_split
from augreid.protocol.augmented_set import link, link_evaluation_splits, prepare_output
from augreid.protocol.identity_filter import FilterRule, check_fill, check_no_leakage, identity_scores, passing
from augreid.reid.identity import MODEL_FILE, ReidEmbedder

SCORES_COLUMNS = ["name", "pid", "score", "passed"]


def read_unfiltered(unfiltered: Path) -> tuple[dict, pd.DataFrame]:
    """A finished set's summary and manifest."""
    summary = unfiltered / GENERATED_SUMMARY
    if not (summary.is_file() and (unfiltered / "manifest.csv").is_file()):
        raise InputError(f"{unfiltered}: not a finished augreid.generate set (needs {GENERATED_SUMMARY} and "
                         "manifest.csv)")
    manifest = pd.read_csv(unfiltered / "manifest.csv", keep_default_na=False, dtype={"condition": str})
    return json.loads(summary.read_text()), manifest


def score_generated(unfiltered: Path, manifest: pd.DataFrame, source_train: Path, model_run: Path,
                    device: str, batch_size: int) -> np.ndarray:
    """The identity score of each generated row of `manifest`, in its order, against the kept real images."""
    embed = ReidEmbedder(model_run, pick_device(device), batch_size)
    kept = manifest[manifest["source"] == "kept"]
    generated = manifest[manifest["source"] == "generated"]
    real = embed([load_image(source_train / name) for name in kept["name"]])
    drawn = embed([load_image(unfiltered / SPLIT_DIRS["train"] / name) for name in generated["name"]])
    return identity_scores(drawn, generated["pid"].to_numpy(), real, kept["pid"].to_numpy())


def filtered_manifest(manifest: pd.DataFrame, failed: pd.Index, fill: str) -> pd.DataFrame:
    """`manifest` without its `failed` rows (`empty`), or with them as copies of their condition (`copy`)."""
    if fill == "empty":
        return manifest.drop(index=failed).reset_index(drop=True)
    copied = manifest.copy()
    copied.loc[failed, "source"] = "copied"
    return copied


def filter_set(unfiltered: str | Path, model_run: str | Path, rule: FilterRule, fill: str, out: str | Path,
               device: str = "auto", batch_size: int = 256) -> dict:
    """Build (or find finished) the filtered set of `unfiltered` in `out`; returns its summary."""
    started = time.perf_counter()
    unfiltered, model_run, fill = Path(unfiltered), Path(model_run), check_fill(fill)
    if model_run.name == MODEL_FILE:
        model_run = model_run.parent
    source_summary, manifest = read_unfiltered(unfiltered)
    source_root = Path(source_summary["inputs"]["data_root"])
    out = check_output(out, source_root)
    kept = manifest.loc[manifest["source"] == "kept", "name"].tolist()
    check_no_leakage(model_run, source_root, kept)
    if not (model_run / MODEL_FILE).is_file():
        raise InputError(f"{model_run}: not an augreid.reid run (no {MODEL_FILE})")
    run = {"unfiltered": str(unfiltered.resolve()), "manifest_sha256": file_sha256(unfiltered / "manifest.csv"),
           "model": str(model_run.resolve()), "model_sha256": tensors_digest(model_run / MODEL_FILE),
           "rule": str(rule), "fill": fill, "generator": source_summary["inputs"]["generator"]}
    with output_lock(out):
        if (out / GENERATED_SUMMARY).is_file() and json.loads((out / GENERATED_SUMMARY).read_text())["inputs"] == run:
            return {**json.loads((out / GENERATED_SUMMARY).read_text()), "out": str(out)}
        prepare_output(out, run)
        generated = manifest[manifest["source"] == "generated"]
        scores = score_generated(unfiltered, manifest, source_root / SPLIT_DIRS["train"], model_run, device,
                                 batch_size)
        passed = passing(scores, generated["pid"].to_numpy(), generated["name"].to_numpy(), rule)
        result = filtered_manifest(manifest, generated.index[~passed], fill)
        _write(out, unfiltered, source_root, result)
        with atomic_file(out / "scores.csv") as tmp:
            pd.DataFrame({"name": generated["name"], "pid": generated["pid"], "score": scores, "passed": passed}) \
                .to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
        filled = int((result["source"] != "kept").sum())
        summary = {"inputs": run, "counts": {**source_summary["counts"], "filled": filled,
                                            "training_images": len(result), "generated_now": 0},
                   "filter": {"rule": str(rule), "fill": fill, "scored": len(generated), "passed": int(passed.sum()),
                              "filtered": int((~passed).sum()),
                              "mean_score": round(float(scores.mean()), 4) if len(scores) else None},
                   "unposed": source_summary["unposed"], "seconds": round(time.perf_counter() - started, 2)}
        atomic_write_text(out / GENERATED_SUMMARY, json.dumps(summary, indent=2) + "\n")  # last: marks it complete
    return {**summary, "out": str(out)}


def _write(out: Path, unfiltered: Path, source_root: Path, manifest: pd.DataFrame) -> None:
    """The training folder (links), its annotations, the evaluation splits and the manifest; checked against
    the manifest."""
    link_evaluation_splits(source_root, out)
    source_train, drawn, train = (root / SPLIT_DIRS["train"] for root in (source_root, unfiltered, out))
    origin = {"kept": lambda row: source_train / row.name, "copied": lambda row: source_train / row.condition,
              "generated": lambda row: drawn / row.name}
    for row in manifest.itertuples(index=False):
        link(origin[row.source](row), train / row.name)
    poses = read_annotations(annotation_file(unfiltered, "train")).poses(manifest["name"])
    write_annotations(annotation_file(out, "train"), Annotations(manifest["name"].tolist(), poses))
    written = sorted(scan_split(out, "train")["name"])
    if written != sorted(manifest["name"]):
        raise RuntimeError(f"{train}: files differ from the filtered manifest "
                           f"(e.g. {sorted(set(written) ^ set(manifest['name']))[0]})")
    with atomic_file(out / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")
