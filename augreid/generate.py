"""`python -m augreid.generate --portion P | --factor K`: an augmented training set, by either protocol of the field.

`--portion P` (the PoNA paper's Section IV-D, Table VI):
Keeps a portion p of each identity's training images and fills every missing slot: with a generator (`pona`,
`patn`, `aps`, `gfla`, a plugin's model, or `external:NAME` images made elsewhere: `generators/source.py`),
conditioned on a kept image of the same identity and the missing image's pose, or with a
control (`none`: the reduced set alone; `duplicate`: the condition image itself, the same count without pose transfer;
`real`: the original image, the upper bound). Writes a Market-1501-layout folder (`bounding_box_train/` = kept +
filled images, `bounding_box_test/` and `query/` linked from the source), its annotation files, `manifest.csv`
(one row per training image) and `summary.json`.
`--factor K` (SAN's Section 5, PN-GAN; `factor.py`): keeps every training image and adds K-1 images of its person,
each conditioned on it, in poses from the training set's pool or its N canonical poses (`--poses`); `duplicate` adds
K-1 copies of the image itself and `none` is the original set.
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

from augreid.annotations import Annotations, read_annotations, write_annotations
from augreid.atomic import atomic_file, atomic_write_text, file_sha256, files_digest, remove_unfinished
from augreid.cli import ArgumentParser, seed_number
from augreid.conditions import MODES, choose_condition
from augreid.device import pick_device
from augreid.errors import InputError, exit_on_input_error
from augreid.factor import Poses, check_factor, factor_targets, parse_poses
from augreid.generators.external import EXTERNAL_PREFIX, PRESETS
from augreid.generators.source import GeneratorSpec, ImageSource, parse_generator
from augreid.images import check_images, load_image, save_image
from augreid.market import (GENERATED_RUN, GENERATED_SUMMARY, SPLIT_DIRS, annotation_file, check_complete,
                            parse_name, scan_split)
from augreid.output import check_output, output_lock
from augreid.portion import check_portion, keep_portion
from augreid.pose import has_torso, present

CONTROLS = ("none", "duplicate", "real")
DEMO_ROOT = Path("outputs/demo")
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


def demo_checkpoint(generator: str) -> Path:
    """The newest generator `make demo` trained (its folders are named after the config and data digests)."""
    found = sorted(DEMO_ROOT.glob(f"generators/{generator}_*/generator.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else DEMO_ROOT / "generators" / f"{generator}_*" / "generator.pt"


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


def _link(source: Path, link: Path) -> None:
    if not link.is_symlink():
        os.symlink(source.resolve(), link)


def _prepare_output(out: Path, run: dict) -> None:
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


def _link_evaluation_splits(source: Path, out: Path) -> None:
    for split in ("gallery", "query"):
        _link(source / SPLIT_DIRS[split], out / SPLIT_DIRS[split])
        if annotation_file(source, split).is_file():
            _link(annotation_file(source, split), annotation_file(out, split))


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


def _build(out: Path, run: dict, train: pd.DataFrame, annotations: Annotations, manifest: pd.DataFrame,
           source: ImageSource | None, data_root: Path, batch_size: int, device: torch.device, progress: bool) -> dict:
    started = time.perf_counter()
    generator = run["generator"]
    _prepare_output(out, run)
    _link_evaluation_splits(data_root, out)
    source_dir, out_dir = data_root / SPLIT_DIRS["train"], out / SPLIT_DIRS["train"]
    for name in manifest.loc[manifest["source"] == "kept", "name"]:
        _link(source_dir / name, out_dir / name)
    for name, condition in manifest.loc[manifest["source"] == "copied", ["name", "condition"]].itertuples(index=False):
        _link(source_dir / condition, out_dir / name)
    filled = manifest[manifest["source"].isin(["generated", "copied"])]
    pending = filled[(filled["source"] == "generated") & ~filled["name"].map(lambda n: (out_dir / n).exists())]
    generation_seconds = 0.0
    if source is not None and len(pending):
        generation_seconds = _fill_from_source(pending, source_dir, out_dir, annotations, source, device, batch_size,
                                               progress)
    elif generator in ("duplicate", "real"):
        column = "condition" if generator == "duplicate" else "target"
        for name, source_name in zip(pending["name"], pending[column]):
            _link(source_dir / source_name, out_dir / name)
    write_annotations(annotation_file(out, "train"),
                      Annotations(manifest["name"].tolist(), annotations.poses(manifest["target"])))
    factor = run.get("factor", 1)
    verify(out, train, manifest, annotations, generator != "none" and run["unposed"] != "skip", factor)
    with atomic_file(out / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")
    summary = {
        "inputs": run,
        "counts": {"identities": int(manifest["pid"].nunique()), "original": len(train),
                   "kept": int((manifest["source"] == "kept").sum()), "filled": len(filled),
                   "generated_now": len(pending) if source is not None else 0,
                   "training_images": len(manifest)},
        "unposed": (pose_counts if factor == 1 else condition_counts)(train, manifest, annotations, run["unposed"]),
        "seconds": round(time.perf_counter() - started, 2),
        "generation_seconds": round(generation_seconds, 2),
        "images_per_second": round(len(pending) / generation_seconds, 2) if generation_seconds else None,
        "device": str(device), "batch_size": batch_size,
    }
    atomic_write_text(out / GENERATED_SUMMARY, json.dumps(summary, indent=2) + "\n")  # last: marks it complete
    return {**summary, "out": str(out)}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--portion", type=float, help="Table VI's protocol: the portion p of each identity's images kept, "
                                                      "in (0, 1]; the missing ones filled")
    parser.add_argument("--factor", type=int, help="the other protocol: every image kept and K-1 added per image, "
                                                   "K >= 2 (not with --portion)")
    parser.add_argument("--poses", nargs="+", default=["pool"], metavar="MODE",
                        help="--factor's target poses: pool (default: drawn from the training poses of other images) "
                             "or canonical N (N k-means canonical poses, in turn)")
    parser.add_argument("--data-root", type=Path, default=DEMO_ROOT / "data", help="Market-1501-layout source")
    parser.add_argument("--generator", default="pona",
                        help="pona, patn, aps, gfla, san, an installed plugin's name, external:NAME (with --images), "
                             f"or a control: {', '.join(CONTROLS)} (default pona)")
    parser.add_argument("--checkpoint", type=Path, help="generator.pt (default: the demo generator), or the plugin's")
    parser.add_argument("--images", type=Path, help="external:NAME: the folder of images made elsewhere")
    parser.add_argument("--pattern", help="external:NAME: file names, with {from} and {to} (the names without .jpg), or a "
                                          f"preset: {', '.join(PRESETS)} (default: the preset named NAME, else plain)")
    parser.add_argument("--panel", type=int, default=-1, help="external:NAME: the panel of a strip that holds the "
                                                              "generated image (default -1, the last)")
    parser.add_argument("--resize", action="store_true",
                        help="external:NAME: resize single images of another size to 128x64 (a strip must have its "
                             "preset's size)")
    parser.add_argument("--seed", type=seed_number, default=0, help="which images are kept, random conditions")
    parser.add_argument("--out", type=Path, help="output folder (default outputs/demo/augmented/GEN_pP_sS, or GEN_kK_POSES_sS)")
    parser.add_argument("--condition", default="nearest", help="--portion: nearest (pose distance, default) or random")
    parser.add_argument("--unposed", default="generate",
                        help="--portion: a missing image without shoulders and hips: generate (default), copy the "
                             "condition, skip; --factor: an image without them: generate its K-1, copy it, skip")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    generator = args.generator
    if generator.startswith(EXTERNAL_PREFIX):
        spec = parse_generator(generator, CONTROLS)
        generator = dataclasses.replace(spec, path=str(args.images) if args.images else spec.path,
                                        pattern=args.pattern, panel=args.panel, resize=args.resize)
    elif args.images or args.pattern or args.resize:
        raise InputError("--images, --pattern and --resize go with --generator external:NAME")
    if args.factor is None and args.poses != ["pool"]:
        raise InputError("--poses goes with --factor K")
    summary = augment(args.portion, args.data_root, generator, args.checkpoint, args.seed, args.out,
                      args.condition, args.batch_size, args.device, unposed=args.unposed, factor=args.factor,
                      poses=parse_poses(args.poses))
    counts, inputs = summary["counts"], summary["inputs"]
    speed = f", {summary['images_per_second']} images/s on {summary['device']}" if summary["images_per_second"] else ""
    poses = f", poses: {inputs['poses']}" if "poses" in inputs else ""
    added = (f"{counts['filled']} {inputs['generator']} (K = {inputs['factor']}{poses})" if "factor" in inputs
             else f"{counts['filled']} {inputs['generator']}")
    print(f"{summary['out']}: {counts['identities']} identities, {counts['kept']} kept + {added} = "
          f"{counts['training_images']} training images (original {counts['original']}); "
          f"generated {counts['generated_now']} now in {summary['generation_seconds']} s{speed}; verified")
    print(unposed_line(summary["unposed"]))
    return 0


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


run = exit_on_input_error(main)

if __name__ == "__main__":
    run()
