"""The augmented set: a Market-1501-layout folder built from a plan, its kept images linked, its missing ones
filled by a generator or a control, verified, and resumable after a kill.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from augreid.config import Poses, parse_poses
from augreid.core.atomic import atomic_file, atomic_write_text, file_sha256, files_digest, remove_unfinished
from augreid.core.device import pick_device
from augreid.core.errors import InputError
from augreid.core.output import check_output, output_lock
from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.images import check_images, load_image, save_image
from augreid.data.market import (GENERATED_MANIFEST, GENERATED_RUN, GENERATED_SUMMARY, SPLIT_DIRS, annotation_file,
                                 check_complete, scan_split)
from augreid.protocol.conditions import MODES
from augreid.protocol.factor import check_factor
from augreid.protocol.plan import UNPOSED_POLICIES, condition_counts, plan_augmentation, plan_by_factor, pose_counts
from augreid.protocol.pose_entropy import pose_cluster_entropy
from augreid.protocol.portion import check_portion
from augreid.sources.source import GeneratorSpec, ImageSource, parse_generator

CONTROLS = ("none", "duplicate", "real")
DEMO_ROOT = Path("outputs/demo")


def demo_checkpoint(generator: str) -> Path:
    """The newest generator `make demo` trained (its folders are named after the config and data digests)."""
    found = sorted(DEMO_ROOT.glob(f"generators/{generator}_*/generator.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else DEMO_ROOT / "generators" / f"{generator}_*" / "generator.pt"


def link(source: Path, at: Path) -> None:
    if not at.is_symlink():
        os.symlink(source.resolve(), at)


def prepare_output(out: Path, run: dict) -> None:
    """A new folder, or one holding this very run (resumed); anything else is refused."""
    run_file = out / GENERATED_RUN
    if out.is_dir():
        remove_unfinished(out)  # a run killed mid-write, even before its run record, leaves nothing to clean by hand
    if out.exists() and any(out.iterdir()):
        if not run_file.is_file():
            raise InputError(f"{out}: exists and is not an augreid.generate output (choose another --out)")
        try:
            previous = json.loads(run_file.read_text())
            previous.items()
        except (ValueError, AttributeError):  # augreid writes it whole (atomically): this is someone else's file
            raise InputError(f"{run_file}: not an augreid.generate run record; choose another --out") from None
        differing = sorted(k for k in set(run) | set(previous) if run.get(k) != previous.get(k))
        if differing:
            key = differing[0]
            raise InputError(f"{out}: holds a different run ({key}: {previous.get(key)!r} there, {run.get(key)!r} now); "
                             "choose another --out")
    atomic_write_text(run_file, json.dumps(run, indent=2) + "\n")  # first: a folder killed later is known as ours
    (out / SPLIT_DIRS["train"]).mkdir(exist_ok=True)
    remove_unfinished(out / SPLIT_DIRS["train"])


def link_evaluation_splits(source: Path, out: Path) -> None:
    for split in ("gallery", "query"):
        link(source / SPLIT_DIRS[split], out / SPLIT_DIRS[split])
        if annotation_file(source, split).is_file():
            link(annotation_file(source, split), annotation_file(out, split))


def _fill_from_source(pending: pd.DataFrame, source_dir: Path, out_dir: Path, annotations: Annotations,
                      source: ImageSource, device: torch.device, batch_size: int, progress: bool) -> float:
    """Draw the pending rows in batches; reading and writing run on threads beside the model. Returns the
    seconds spent, for images/s."""
    batches = [pending.iloc[i: i + batch_size] for i in range(0, len(pending), batch_size)]

    def read(batch: pd.DataFrame) -> np.ndarray:
        return np.stack([load_image(source_dir / name) for name in batch["condition"]])

    def write(batch: pd.DataFrame, images: np.ndarray) -> None:
        for name, pixels in zip(batch["name"], images):
            save_image(out_dir / name, pixels)

    # On a GPU the CPU cores are free for decoding and encoding; on the CPU every extra thread takes from the model.
    io_threads = min(8, os.cpu_count() or 1) if device.type == "cuda" else 1
    started = time.perf_counter()
    with tqdm(total=len(pending), desc="generating", unit="img", disable=not progress) as bar, \
            ThreadPoolExecutor(max_workers=io_threads) as io:
        writes: list[Future] = []
        upcoming = io.submit(read, batches[0]) if batches else None
        for i, batch in enumerate(batches):
            conditions = upcoming.result()
            if i + 1 < len(batches):
                upcoming = io.submit(read, batches[i + 1])
            generated = source.draw(batch["condition"].tolist(), batch["target"].tolist(), conditions,
                                    annotations.poses(batch["condition"]), annotations.poses(batch["target"]))
            writes.append(io.submit(write, batch, generated))
            bar.update(len(batch))
        for done in writes:
            done.result()
    return time.perf_counter() - started


def verify(out: Path, source_train: pd.DataFrame, manifest: pd.DataFrame, source_annotations: Annotations,
           original_counts: bool, factor: int = 1) -> None:
    """Every identity has the manifest's images, in the original poses; with `original_counts`, `factor` times as
    many as in the source (not so for `none`, nor when unposed slots are skipped)."""
    written = scan_split(out, "train")
    if sorted(written["name"]) != sorted(manifest["name"]):
        extra = sorted(set(written["name"]) ^ set(manifest["name"]))
        raise RuntimeError(f"{out / SPLIT_DIRS['train']}: files differ from the manifest (e.g. {extra[0]})")
    expected = source_train.groupby("pid").size() * factor if original_counts else manifest.groupby("pid").size()
    if not written.groupby("pid").size().equals(expected):
        raise RuntimeError(f"{out}: per-identity image counts differ from "
                           + ("the original set's" if factor == 1 else f"{factor} x the original set's"))
    written_annotations = read_annotations(annotation_file(out, "train"))
    if not np.array_equal(written_annotations.poses(manifest["name"]), source_annotations.poses(manifest["target"])):
        raise RuntimeError(f"{out}: poses of the augmented set differ from the original poses")


def generator_spec(generator: str | GeneratorSpec, checkpoint: str | Path | None = None) -> GeneratorSpec | None:
    """None for a control; otherwise the named generator, `checkpoint` replacing its path, and a built-in model
    without one taking the newest demo checkpoint."""
    if isinstance(generator, str) and generator in CONTROLS:
        return None
    spec = generator if isinstance(generator, GeneratorSpec) else parse_generator(generator, CONTROLS)
    if checkpoint is not None:
        spec = dataclasses.replace(spec, path=str(checkpoint))
    if spec.kind == "model" and spec.path is None:
        spec = dataclasses.replace(spec, path=str(demo_checkpoint(spec.label)))
    if spec.kind == "model" and not Path(spec.path).is_file():
        raise InputError(f"{spec.path}: generator checkpoint does not exist (train one with `make demo` or "
                         f"`python -m augreid.train_generator --generator {spec.label} --data-root DIR "
                         "--config configs/demo.yaml --out DIR`, then pass --checkpoint DIR/generator.pt)")
    return spec


def augment(portion: float | None, data_root: str | Path = DEMO_ROOT / "data",
            generator: str | GeneratorSpec = "pona", checkpoint: str | Path | None = None, seed: int = 0,
            out: str | Path | None = None, condition_mode: str = "nearest", batch_size: int = 64, device: str = "auto",
            progress: bool = True, unposed: str = "generate", factor: int | None = None,
            poses: str | Poses = "pool") -> dict:
    """Build (or finish) the augmented set, by a `portion` p kept or by a `factor` K (with `poses`); returns the
    summary. `generator`: a control, or any generator name of `generators/source.py` (or its spec)."""
    if (portion is None) == (factor is None):
        raise InputError("--portion and --factor exclude each other: give one" if factor is not None else
                         "give --portion P (keep p of each identity's images) or --factor K (add K-1 per image)")
    if factor is None:
        protocol = {"portion": check_portion(portion), "condition": condition_mode}
    else:
        poses = poses if isinstance(poses, Poses) else parse_poses(poses)
        protocol = {"factor": check_factor(factor)}
        if generator == "real":
            raise InputError("--generator real: no real image exists in a new pose; with --factor the controls are "
                             "none (the original set) and duplicate (K-1 copies of each image)")
    spec = generator_spec(generator, checkpoint)
    label = spec.label if spec else generator
    if factor is None:
        default_out = f"{label}_p{portion:g}_s{seed}"
    else:  # the controls add no new pose: their sets do not depend on where the poses would come from
        protocol.update({"poses": str(poses)} if spec is not None else {})
        default_out = f"{label}_k{factor}" + (f"_{str(poses).replace(' ', '')}" if spec else "") + f"_s{seed}"
    if condition_mode not in MODES:
        raise InputError(f"--condition: unknown mode '{condition_mode}' (known: {', '.join(MODES)})")
    if unposed not in UNPOSED_POLICIES:
        raise InputError(f"--unposed: unknown policy '{unposed}' (known: {', '.join(UNPOSED_POLICIES)})")
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise InputError(f"{data_root}: data root does not exist (build the synthetic set with `make demo` or "
                         "`python -m augreid.synthetic --out DIR`, or pass --data-root)")
    out = check_output(out or DEMO_ROOT / "augmented" / default_out, data_root)
    check_complete(data_root)
    for split in ("gallery", "query"):  # linked into the set, never read here: a missing one would dangle
        scan_split(data_root, split)
    train = scan_split(data_root, "train")
    if train.empty:
        raise InputError(f"{data_root / SPLIT_DIRS['train']}: no training images (an empty set cannot be augmented)")
    annotations = read_annotations(annotation_file(data_root, "train"))
    unannotated = annotations.missing(train["name"])
    if unannotated:
        raise InputError(f"{data_root / SPLIT_DIRS['train'] / unannotated[0]}: training image without pose annotation "
                         f"in {annotation_file(data_root, 'train')} ({len(unannotated)} in all)")
    check_images(train["path"])  # kept and copied images are linked, never opened: a bad one must fail here
    if factor is None:
        manifest = plan_augmentation(train, annotations, protocol["portion"], seed, label, condition_mode, unposed)
    else:
        manifest = plan_by_factor(train, annotations, factor, poses, seed, label, unposed)
    source, device_ = None, pick_device(device)
    if spec is not None:
        generated = manifest[manifest["source"] == "generated"].rename(columns={"condition": "from", "target": "to"})
        source = ImageSource(spec, device_, generated, data_root)

    # the inputs' contents, not only their paths: a run resumed after its source changed must not mix the two
    run = {"data_root": str(data_root.resolve()), "annotations_sha256": file_sha256(annotation_file(data_root, "train")),
           "train_images_sha256": files_digest(train["path"]), **protocol, "seed": seed,
           "generator": label, "checkpoint_sha256": source.digest if source and spec.kind != "external" else None,
           "unposed": unposed}
    if spec is not None and spec.kind != "model":
        run["source"] = source.provenance()
    with output_lock(out):
        return _build(out, run, train, annotations, manifest, source, data_root, batch_size, device_, progress)


def _build(out: Path, run: dict, train: pd.DataFrame, annotations: Annotations, manifest: pd.DataFrame,
           source: ImageSource | None, data_root: Path, batch_size: int, device: torch.device, progress: bool) -> dict:
    started = time.perf_counter()
    generator = run["generator"]
    prepare_output(out, run)
    link_evaluation_splits(data_root, out)
    source_dir, out_dir = data_root / SPLIT_DIRS["train"], out / SPLIT_DIRS["train"]
    for name in manifest.loc[manifest["source"] == "kept", "name"]:
        link(source_dir / name, out_dir / name)
    for name, condition in manifest.loc[manifest["source"] == "copied", ["name", "condition"]].itertuples(index=False):
        link(source_dir / condition, out_dir / name)
    filled = manifest[manifest["source"].isin(["generated", "copied"])]
    pending = filled[(filled["source"] == "generated") & ~filled["name"].map(lambda n: (out_dir / n).exists())]
    generation_seconds = 0.0
    if source is not None and len(pending):
        generation_seconds = _fill_from_source(pending, source_dir, out_dir, annotations, source, device, batch_size,
                                               progress)
    elif generator in ("duplicate", "real"):
        column = "condition" if generator == "duplicate" else "target"
        for name, source_name in zip(pending["name"], pending[column]):
            link(source_dir / source_name, out_dir / name)
    write_annotations(annotation_file(out, "train"),
                      Annotations(manifest["name"].tolist(), annotations.poses(manifest["target"])))
    factor = run.get("factor", 1)
    verify(out, train, manifest, annotations, generator != "none" and run["unposed"] != "skip", factor)
    with atomic_file(out / GENERATED_MANIFEST) as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")
    summary = {
        "inputs": run,
        "counts": {"identities": int(manifest["pid"].nunique()), "original": len(train),
                   "kept": int((manifest["source"] == "kept").sum()), "filled": len(filled),
                   "generated_now": len(pending) if source is not None else 0,
                   "training_images": len(manifest)},
        "unposed": (pose_counts if factor == 1 else condition_counts)(train, manifest, annotations, run["unposed"]),
        **({"pose_clusters": pose_cluster_entropy(train, annotations, manifest, factor, parse_poses(run["poses"]),
                                                  run["seed"])} if "poses" in run else {}),
        "seconds": round(time.perf_counter() - started, 2),
        "generation_seconds": round(generation_seconds, 2),
        "images_per_second": round(len(pending) / generation_seconds, 2) if generation_seconds else None,
        "device": str(device), "batch_size": batch_size,
    }
    atomic_write_text(out / GENERATED_SUMMARY, json.dumps(summary, indent=2) + "\n")  # last: marks it complete
    return {**summary, "out": str(out)}
