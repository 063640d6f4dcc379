"""A full-size rehearsal: every data-side step of a study on Market-sized synthetic sets, at several fractions of
Market-1501's size, with each step's wall time, peak memory and growth exponent.

Each fraction gets a synthetic set with Market-1501's counts scaled (identities, training images, queries, the test
identities' gallery images, junk and distractors) and Market-1501's per-identity means. The steps then run as the
flow runs them (the library calls behind the commands), with the config's data-side settings (Market-1501's by
default) but tiny models and a handful of iterations, so that what grows with the set dominates.

Each step runs in a process of its own, forked from this one after the imports (their time is paid once, not per
step), with one torch thread: its peak memory is that process's maximum resident set (`wait4`), the imports included; its time is the
step's call alone. The growth exponent is the least-squares slope of log(seconds) on log(n), n being what the step's
inherent cost grows with (images, or queries x gallery for rankings): about 1 is as expected, n log n reads about
1.1 over a fourfold range.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import resource
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from augreid.benchmarks.pose_estimator import bench_annotate
from augreid.config import Config, SyntheticConfig, load_config
from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations
from augreid.data.images import check_images
from augreid.data.market import annotation_file, folder_digest, scan_market, scan_split
from augreid.data.pairs import sample_pairs, training_pairs, write_pairs
from augreid.data.synthetic import build_synthetic_market
from augreid.metrics.reid import rank_queries, summarise
from augreid.protocol.augmented_set import augment
from augreid.protocol.factor import canonical_poses, pool_poses
from augreid.reid import train_reid
from augreid.reid.identity import ReidEmbedder, gallery_features, identity_scores, real_gallery
from augreid.study.comparisons import cell_intervals, compare_cells
from augreid.training.trainer import train_generator

# Market-1501's counts (the annotation files in ../shared/data: the gallery's 19,732 images are 13,115 of the 750
# test identities, 3,819 junk and 2,798 distractors; 3,368 queries; 12,000 published test pairs)
MARKET = {"train_identities": 751, "test_identities": 750, "train_images": 12_936, "query_images": 3_368,
          "gallery_identity_images": 13_115, "junk_images": 3_819, "distractor_images": 2_798}
# per identity, uniform within these: Market-1501's means (17.2 training images; 22.0 test images with the queries)
TRAIN_PER_IDENTITY, TEST_PER_IDENTITY = (2, 32), (6, 38)
PORTION = 0.5  # the generation steps' p
CANONICAL_POSES = 8  # PN-GAN's
ANNOTATE_SAMPLE = 20  # images BlazePose is timed on, at every size
STUDY_GRID = {"generators": ["pona", "patn", "none", "duplicate"], "portions": [0.2, 0.4, 0.6, 0.8, 1.0],
              "seeds": [0, 1, 2]}
RANKING_FEATURES = 512  # OSNet's feature width
FLAG_ABOVE = 0.25  # an exponent this far above 1 is flagged
MEMORY_LIMIT_MB = 8192
TOO_SHORT_S = 0.5  # below this at the largest size, an exponent is mostly noise

# Tiny models and a handful of iterations over the config's data-side settings
OVERLAY = """\
generators:
  pona: {blocks: 1, ngf: 4, ndf: 4, discriminator_blocks: 1, dropout: 0, scale: 4}
generator_training: {iterations: 5, decay_iterations: 0, batch_size: 8, lambda_gan: 0, lambda_perceptual: 0,
                     sample_every: 5, checkpoint_every: 5, workers: 0, mixed_precision: false}
reid: {model: osnet_x0_25, pretrained: false, height: 32, width: 16, batch_size: 32, epochs: 1, fixbase_epochs: 0,
       workers: 0}
"""


def market_sized(fraction: float, base: SyntheticConfig) -> SyntheticConfig:
    """The synthetic sizes of `fraction` of Market-1501 (the base config's cameras and looks)."""
    scaled = {name: max(1, round(count * fraction)) for name, count in MARKET.items()}
    return dataclasses.replace(
        base, train_identities=scaled["train_identities"], test_identities=scaled["test_identities"],
        train_images_per_identity=TRAIN_PER_IDENTITY, test_images_per_identity=TEST_PER_IDENTITY,
        train_images=scaled["train_images"], query_images=scaled["query_images"],
        test_images=scaled["gallery_identity_images"] + scaled["query_images"],
        junk_images=scaled["junk_images"], distractor_images=scaled["distractor_images"])


@dataclass(frozen=True)
class Size:
    """One fraction's set and working folder, and the config the steps read."""

    fraction: float
    root: Path
    work: Path
    config: Config

    def counts(self) -> dict[str, int]:
        splits = scan_market(self.root)["split"].value_counts()
        return {split: int(splits.get(split, 0)) for split in ("train", "query", "gallery")}


@dataclass(frozen=True)
class Step:
    name: str
    inherent: str  # "n" or "q x g": what n is, and so what the exponent is judged against
    run: Callable[[Size], dict]  # in the step's own process; may return its own "seconds" and figures
    n: Callable[[dict], int]  # from the set's counts and the step's figures
    projected: bool = False  # seconds projected from a rate, not measured over the whole set
    setup: bool = False  # not a study step: timed, not judged


def all_images(counts: dict) -> int:
    return counts["train"] + counts["query"] + counts["gallery"]


def build_set(size: Size) -> dict:
    summary = build_synthetic_market(size.root, market_sized(size.fraction, size.config.synthetic), seed=0,
                                     progress=False)
    return {"seconds": summary["seconds"]}


def check_all_images(size: Size) -> dict:
    return {"images": check_images(scan_market(size.root)["path"])}


def digest_folder(size: Size) -> dict:
    folder_digest(size.root)
    return {}


def build_pairs(size: Size) -> dict:
    pairs = training_pairs(read_annotations(annotation_file(size.root, "train")))
    write_pairs(size.work / "pairs.csv", pairs)
    return {"pairs": len(pairs)}


def cluster_poses(size: Size) -> dict:
    annotations = read_annotations(annotation_file(size.root, "train"))
    canonical_poses(annotations, pool_poses(annotations, annotations.names), CANONICAL_POSES, seed=0)
    return {}


def train_tiny_generator(size: Size) -> dict:
    train_generator("pona", size.root, size.config, size.work / "generator", progress=False, heldout=False)
    return {}


def augment_with(generator: str) -> Callable[[Size], dict]:
    def run(size: Size) -> dict:
        checkpoint = size.work / "generator" / "generator.pt" if generator == "pona" else None
        summary = augment(PORTION, size.root, generator, checkpoint, out=size.work / f"augmented_{generator}",
                          condition_mode=size.config.augmentation.condition, progress=False,
                          unposed=size.config.augmentation.unposed)
        return {"filled": summary["counts"]["filled"]}
    return run


def train_and_evaluate_reid(size: Size) -> dict:
    metrics = train_reid(size.root, size.config.reid, size.work / "reid", log=lambda line: None)
    return {"train_seconds": metrics["train_seconds"],
            "evaluation_seconds": round(metrics["wall_seconds"] - metrics["train_seconds"], 2)}


def rank_random_features(size: Size) -> dict:
    """The query x gallery distances and ranking of the re-ID evaluation, on random features of the set's real
    query and gallery lists."""
    query, gallery = scan_split(size.root, "query"), scan_split(size.root, "gallery")
    generator = torch.Generator().manual_seed(0)
    features = [torch.randn(len(split), RANKING_FEATURES, generator=generator) for split in (query, gallery)]
    started = time.perf_counter()
    distances = torch.cdist(*features).numpy()
    summarise(rank_queries(distances, query["pid"].to_numpy(), gallery["pid"].to_numpy(), query["camid"].to_numpy(),
                           gallery["camid"].to_numpy()), 50)
    return {"seconds": time.perf_counter() - started}


def score_identity(size: Size) -> dict:
    """The quality step's identity score: the pairs' images (targets, and conditions as the copies) as queries
    against the real gallery, with the re-ID step's model."""
    pairs = sample_pairs(read_annotations(annotation_file(size.root, "gallery")),
                         max(1, round(size.config.quality.pairs * size.fraction)), size.config.quality.seed)
    embed = ReidEmbedder(size.work / "reid")
    gallery = real_gallery(size.root / "bounding_box_test")
    images = {name: path for name, path in zip(gallery["name"], gallery["path"])}
    pixels = {kind: [_read(images[name]) for name in pairs[column]]
              for kind, column in (("target", "to"), ("copy", "from"))}
    queries = {kind: embed(images_of_kind) for kind, images_of_kind in pixels.items()}
    identity_scores({"generated": queries["target"], **queries}, pairs, gallery, gallery_features(embed, gallery))
    return {"pairs": len(pairs), "gallery": len(gallery)}


def _read(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def compare_study_cells(size: Size) -> dict:
    """Table VI's comparisons and intervals over a grid of runs, each a copy of the re-ID step's per-query table
    with noise (the per-query files are written first, untimed)."""
    table = pd.read_csv(size.work / "reid" / "per_query.csv")
    rng, rows = np.random.default_rng(0), []
    folder = size.work / "study_runs"
    folder.mkdir(exist_ok=True)
    for generator in STUDY_GRID["generators"]:
        for portion in STUDY_GRID["portions"]:
            for seed in STUDY_GRID["seeds"]:
                path = folder / f"{generator}_{portion}_{seed}.csv"
                noisy = table.assign(ap=np.clip(table["ap"] + rng.normal(0, 0.05, len(table)), 0, 1))
                noisy.to_csv(path, index=False)
                rows.append({"generator": generator, "portion": portion, "seed": seed, "per_query": str(path)})
    runs = pd.DataFrame(rows)
    started = time.perf_counter()
    compare_cells(runs, STUDY_GRID["generators"])
    cell_intervals(runs)
    return {"seconds": time.perf_counter() - started, "queries": len(table)}


def project_annotate(size: Size) -> dict:
    """BlazePose's rate on a fixed sample of the set's training images, projected to all its images."""
    rate = bench_annotate(size.root, ANNOTATE_SAMPLE, min_seconds=1.0)["images_per_second"]["keypoints + mask"]
    return {"seconds": all_images(size.counts()) / rate, "images_per_second": rate}


STEPS = [
    Step("build synthetic set", "n", build_set, all_images, setup=True),
    Step("image checks (decode all)", "n", check_all_images, all_images),
    Step("folder digest (flow cache)", "n", digest_folder, all_images),
    Step("training pairs", "n", build_pairs, lambda c: c["train"]),
    Step(f"k-means, {CANONICAL_POSES} canonical poses", "n", cluster_poses, lambda c: c["train"]),
    Step("generator training, 5 it.", "n", train_tiny_generator, lambda c: c["train"]),
    Step(f"generate p={PORTION}, tiny PoNA", "n", augment_with("pona"), lambda c: c["train"]),
    Step(f"assemble p={PORTION}, duplicate", "n", augment_with("duplicate"), lambda c: c["train"]),
    Step("re-ID: 1 epoch + evaluation", "n", train_and_evaluate_reid, all_images),
    Step("query x gallery ranking", "q x g", rank_random_features, lambda c: c["query"] * c["gallery"]),
    Step("identity score", "q x g", score_identity, lambda c: 3 * c["pairs"] * c["gallery"]),
    Step("study comparisons (60 runs)", "n", compare_study_cells, lambda c: c["query"]),
    Step("annotate (projected)", "n", project_annotate, all_images, projected=True),
]


def run_in_own_process(step: Step, size: Size) -> dict:
    """Fork, run the step there (its output to a log file), and return its figures with its process's peak
    memory."""
    log = size.work / f"{re.sub(r'[^a-z0-9]+', '_', step.name.lower()).strip('_')}.log"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(step, size, log, write_end)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = json.loads(pipe.read() or '{"error": "the step died without a word"}')
    _, status, usage = os.wait4(pid, 0)
    if "error" in report or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bench scale: {step.name} at {size.fraction:g}: {report.get('error')} (log: {log})")
    return {**report, "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def _child(step: Step, size: Size, log: Path, write_end: int) -> None:
    code = 1
    try:
        with open(log, "w") as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        # one thread: figures per core, and a shared machine's other work cannot stall torch's thread barriers
        torch.set_num_threads(1)
        started = time.perf_counter()
        figures = step.run(size)
        report = {"seconds": time.perf_counter() - started, **figures}
        code = 0
    except BaseException as err:  # the parent names the step; the log holds the traceback
        traceback.print_exc()
        report = {"error": f"{type(err).__name__}: {err}".splitlines()[0]}
    finally:
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(json.dumps(report))
        os._exit(code)


def growth_exponent(n: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(n)."""
    return float(np.polyfit(np.log(n), np.log(np.maximum(seconds, 1e-6)), 1)[0])


def scale_config(config_path: Path, out: Path) -> Config:
    """The config's data-side settings under the tiny models (written beside the sets, for the record)."""
    if not config_path.is_file():
        raise InputError(f"--config {config_path}: no such file")
    path = out / "scale.yaml"
    path.write_text(f"extends: {config_path.resolve()}\n{OVERLAY}")
    return load_config(path)


def bench_scale(out: Path, fractions: list[float], config_path: Path,
                progress: Callable[[str], None] = lambda line: None) -> dict:
    """Every step at every fraction (ascending); the figures per step and size, and each step's exponent."""
    if len(fractions) < 2 or sorted(set(fractions)) != list(fractions) or not 0 < fractions[0] <= fractions[-1] <= 1:
        raise InputError(f"--fractions {' '.join(map(str, fractions))}: two or more, strictly increasing, in (0, 1]")
    out.mkdir(parents=True, exist_ok=True)
    config = scale_config(config_path, out)
    figures = {step.name: [] for step in STEPS}
    sizes = []
    for fraction in fractions:
        size = Size(fraction, out / f"market_x{fraction:g}", out / f"steps_x{fraction:g}", config)
        size.work.mkdir(parents=True, exist_ok=True)
        for folder in size.work.iterdir():  # each size's steps start afresh; the set itself is reused
            _remove(folder)
        counts = None
        for step in STEPS:
            progress(f"{fraction:g}: {step.name}")
            report = run_in_own_process(step, size)
            counts = counts or size.counts()  # once the set is built
            figures[step.name].append({**report, "n": step.n({**counts, **report})})
        sizes.append({"fraction": fraction, "counts": size.counts(), "synthetic": dataclasses.asdict(
            market_sized(fraction, config.synthetic))})
    return {"fractions": fractions, "config": str(config_path), "sizes": sizes,
            "parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "steps": [_step_result(step, figures[step.name]) for step in STEPS]}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _step_result(step: Step, rows: list[dict]) -> dict:
    n, seconds = [row["n"] for row in rows], [row["seconds"] for row in rows]
    exponent = growth_exponent(n, seconds)
    return {"step": step.name, "inherent": step.inherent, "projected": step.projected, "setup": step.setup,
            "n": n, "seconds": [round(s, 3) for s in seconds], "peak_mb": [row["peak_mb"] for row in rows],
            "exponent": round(exponent, 2), "too_short": seconds[-1] < TOO_SHORT_S,
            "flagged": not step.projected and exponent > 1 + FLAG_ABOVE and seconds[-1] >= TOO_SHORT_S,
            "over_memory": rows[-1]["peak_mb"] > MEMORY_LIMIT_MB,
            "figures": [{k: v for k, v in row.items() if k not in ("n", "seconds", "peak_mb")} for row in rows]}


def print_scale(result: dict) -> None:
    """One line per step: seconds and peak MB at each size, the exponent against the step's n."""
    fractions = result["fractions"]
    for size in result["sizes"]:
        c = size["counts"]
        print(f"x{size['fraction']:g}: {c['train']:,} training, {c['query']:,} query, {c['gallery']:,} gallery images")
    header = "".join(f"{'x' + format(f, 'g'):>9} s {'MB':>6}" for f in fractions)
    print(f"{'step':<32}{header}  exponent (n)")
    for row in result["steps"]:
        cells = "".join(f"{s:>11.2f} {mb:>6.0f}" for s, mb in zip(row["seconds"], row["peak_mb"]))
        marks = ("  projected" if row["projected"] else "") + ("  set-up" if row["setup"] else "") + \
            ("  (too short to fit)" if row["too_short"] else "") + ("  FASTER THAN n" if row["flagged"] else "") + \
            ("  OVER 8 GB" if row["over_memory"] else "")
        print(f"{row['step']:<32}{cells}  {row['exponent']:>5.2f} ({row['inherent']}){marks}")
    total = sum(s for row in result["steps"] if not (row["setup"] or row["projected"]) for s in row["seconds"])
    print(f"measured study steps over all sizes: {total:.0f} s (set-up, projections and imports apart); each step's "
          f"process holds the imports, {result['parent_mb']:.0f} MB of the peaks")
