"""Plan and write a synthetic data set in the exact Market-1501 layout, with PATN-format annotations.

Each identity walks past 2..6 cameras in short tracklets (consecutive frames: the walking phase advances, the
view stays), as people do in Market-1501; test identities give one query per camera they appear in, when that
camera holds two of their images or more, so every query has a gallery match in another camera. The gallery
also holds `-1` junk (badly cropped people) and `0000` distractors (background crops).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from augreid.config import SyntheticConfig, to_dict
from augreid.core.atomic import atomic_directory
from augreid.core.errors import InputError
from augreid.core.output import check_output, output_lock
from augreid.core.processes import end_with_parent
from augreid.data.annotations import Annotations, write_annotations
from augreid.data.market import ANNOTATION_FILES, DISTRACTOR_PID, JUNK_PID, SPLIT_DIRS, market_name, parse_name
from augreid.data.pose import MISSING, N_JOINTS
from augreid.data.synthetic.appearance import Appearance, sample_appearance
from augreid.data.synthetic.body import Stance, annotate, project
from augreid.data.synthetic.render import render_background, render_person
from augreid.data.synthetic.scene import Camera, make_cameras

# Bump when rendering or planning changes, so an existing folder is never mistaken for the new output.
RENDERER_VERSION = 1
MARKER = "synthetic.json"
MARKET_IDENTITIES = 1501  # pids are drawn from Market-1501's range, so they are sparse and need relabelling
JPEG_QUALITY = 90
# random streams of their own for the exact totals, apart from the plan's generator
COUNT_STREAMS, QUERY_STREAM = {"train": 5, "gallery": 7}, 11


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render one image, decided up front so that rendering order does not matter."""

    name: str
    split: str
    camera: int  # index into the camera list
    look: Appearance | None  # None for a distractor (background only)
    stance: Stance | None
    keypoints: np.ndarray  # (18, 2) annotation
    render_seed: int


def _frame_counter(rng: np.random.Generator) -> int:
    return int(rng.integers(100, 150_000))


def _tracklet_sizes(count: int, cameras: int, rng: np.random.Generator) -> np.ndarray:
    return 1 + rng.multinomial(count - cameras, np.full(cameras, 1.0 / cameras))


def _stance(camera: Camera, yaw: float, phase: float, stride: float, rng: np.random.Generator) -> Stance:
    return Stance(
        yaw=yaw + rng.normal(0, 0.08),
        phase=phase,
        stride=stride,
        arm_spread=rng.uniform(0.02, 0.15),
        scale=camera.scale * rng.uniform(0.96, 1.04),
        centre_x=32 + rng.normal(0, 2.0),
        top_y=3.5 + rng.normal(0, 1.5),
    )


def identity_images(pid: int, split: str, count: int, cameras: list[Camera], seed: int) -> list[ImageSpec]:
    """`count` images of one identity, in tracklets over several cameras."""
    rng = np.random.default_rng([seed, pid])
    look = sample_appearance(rng)
    n_cameras = int(rng.integers(2, min(len(cameras), count) + 1))
    chosen = rng.choice(len(cameras), size=n_cameras, replace=False)
    specs = []
    for camera_index, size in zip(chosen, _tracklet_sizes(count, n_cameras, rng)):
        camera = cameras[camera_index]
        yaw = float(rng.choice(camera.walk_yaws)) + rng.normal(0, 0.35)
        stride = rng.uniform(0.05, 0.15) if rng.random() < 0.2 else rng.uniform(0.3, 0.5)
        phase, seq, frame, box = rng.uniform(0, 2 * np.pi), int(rng.integers(1, 7)), _frame_counter(rng), 1
        for _ in range(size):
            stance = _stance(camera, yaw, phase, stride, rng)
            name = market_name(pid, camera.index, seq, frame, box)
            keypoints = annotate(project(look.build, stance), rng)
            specs.append(ImageSpec(name, split, int(camera_index), look, stance, keypoints, int(rng.integers(2**31))))
            phase += rng.uniform(0.7, 1.6)
            frame += int(rng.integers(6, 40))
    return specs


def split_query(specs: list[ImageSpec], rng: np.random.Generator) -> list[ImageSpec]:
    """Move one image per camera to `query` where the identity has two or more images in that camera.

    An identity with one image per camera still gives one query: its other cameras stay in the gallery.
    """
    by_camera: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        by_camera.setdefault(spec.camera, []).append(i)
    chosen = {int(rng.choice(idx)) for idx in by_camera.values() if len(idx) >= 2}
    if not chosen:
        chosen = {int(rng.integers(len(specs)))}
    return [
        ImageSpec(s.name, "query" if i in chosen else s.split, s.camera, s.look, s.stance, s.keypoints, s.render_seed)
        for i, s in enumerate(specs)
    ]


def clutter_images(config: SyntheticConfig, cameras: list[Camera], rng: np.random.Generator) -> list[ImageSpec]:
    """Junk `-1` (people cut off by a bad detection) and distractor `0000` (no person) gallery images."""
    specs = []
    for pid, count in ((JUNK_PID, config.junk_images), (DISTRACTOR_PID, config.distractor_images)):
        for _ in range(count):
            camera_index = int(rng.integers(len(cameras)))
            camera = cameras[camera_index]
            name = market_name(pid, camera.index, int(rng.integers(1, 7)), _frame_counter(rng),
                               int(rng.integers(1, 9)))
            look, stance, keypoints = None, None, np.full((N_JOINTS, 2), MISSING, dtype=np.int64)
            if pid == JUNK_PID:
                look = sample_appearance(rng)
                stance = Stance(yaw=rng.uniform(-np.pi, np.pi), phase=rng.uniform(0, 2 * np.pi), stride=0.35,
                                arm_spread=0.08, scale=rng.uniform(1.2, 1.7), centre_x=32 + rng.uniform(-22, 22),
                                top_y=rng.uniform(-60, 40))
                keypoints = annotate(project(look.build, stance), rng)
            specs.append(ImageSpec(name, "gallery", camera_index, look, stance, keypoints, int(rng.integers(2**31))))
    return specs


def counts_summing_to(total: int, identities: int, bounds: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Images per identity, uniform within `bounds`, then moved one image at a time at random identities (each
    staying within `bounds`) until they sum to `total`."""
    low, high = bounds
    counts = rng.integers(low, high + 1, size=identities)
    while (gap := total - int(counts.sum())) != 0:
        step = int(np.sign(gap))
        movable = np.flatnonzero((counts + step >= low) & (counts + step <= high))
        counts[rng.choice(movable, size=min(abs(gap), len(movable)), replace=False)] += step
    return counts


def with_queries(specs: list[ImageSpec], target: int, rng: np.random.Generator) -> list[ImageSpec]:
    """`target` queries among the test identities' images: extra queries go back to the gallery (each identity
    keeps one), missing ones are drawn from cameras still holding two gallery images of their identity, so every
    query keeps its gallery matches in the identity's other cameras."""
    splits = [spec.split for spec in specs]
    queries = [i for i, split in enumerate(splits) if split == "query"]
    first = {}  # an identity's first query stays
    for i in queries:
        first.setdefault(parse_name(specs[i].name).pid, i)
    extra = sorted(set(queries) - set(first.values()))
    if len(queries) > target:
        if len(queries) - target > len(extra):
            raise InputError(f"query_images {target}: fewer than the test identities' one query each")
        for i in rng.choice(extra, size=len(queries) - target, replace=False):
            splits[i] = "gallery"
    left = Counter((parse_name(spec.name).pid, spec.camera) for spec, split in zip(specs, splits) if split == "gallery")
    needed = target - sum(split == "query" for split in splits)
    for i in rng.permutation(len(specs)) if needed > 0 else ():
        key = (parse_name(specs[i].name).pid, specs[i].camera)
        if splits[i] == "gallery" and left[key] >= 2:
            splits[i], left[key], needed = "query", left[key] - 1, needed - 1
            if needed == 0:
                break
    if needed > 0:
        raise InputError(f"query_images {target}: the test identities' images cannot give that many queries")
    return [replace(spec, split=split) for spec, split in zip(specs, splits)]


def plan_dataset(config: SyntheticConfig, seed: int) -> tuple[list[Camera], list[ImageSpec]]:
    """Cameras and every image of the data set, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    cameras = make_cameras(config.cameras, rng, config.background_saturation)
    pids = rng.choice(np.arange(1, MARKET_IDENTITIES + 1), size=config.train_identities + config.test_identities,
                      replace=False)
    train_pids, test_pids = sorted(pids[: config.train_identities]), sorted(pids[config.train_identities:])
    specs: list[ImageSpec] = []
    for pids_of_split, split, (low, high), total in (
        (train_pids, "train", config.train_images_per_identity, config.train_images),
        (test_pids, "gallery", config.test_images_per_identity, config.test_images),
    ):
        # a total's counts come from a generator of their own: sets without totals keep their draws
        counts = (None if total is None else
                  counts_summing_to(total, len(pids_of_split), (low, high), np.random.default_rng([seed, COUNT_STREAMS[split]])))
        for i, pid in enumerate(pids_of_split):
            count = int(rng.integers(low, high + 1)) if counts is None else int(counts[i])
            images = identity_images(int(pid), split, count, cameras, seed)
            specs += split_query(images, rng) if split == "gallery" else images
    if config.query_images is not None:
        specs = with_queries(specs, config.query_images, np.random.default_rng([seed, QUERY_STREAM]))
    specs += clutter_images(config, cameras, rng)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):  # a frame-number clash in the clutter: astronomically rare, never silent
        raise RuntimeError("synthetic plan produced a duplicate image name; try another seed")
    return cameras, specs


def render(spec: ImageSpec, cameras: list[Camera]) -> np.ndarray:
    rng = np.random.default_rng(spec.render_seed)
    camera = cameras[spec.camera]
    if spec.look is None:
        return render_background(camera, rng)
    return render_person(project(spec.look.build, spec.stance), spec.look, camera, rng)


def _render_to_file(job: tuple[ImageSpec, list[Camera], str]) -> None:
    spec, cameras, path = job
    Image.fromarray(render(spec, cameras)).save(path, quality=JPEG_QUALITY)


def _marker(config: SyntheticConfig, seed: int) -> dict:
    return {"generator": "augreid.synthetic", "renderer_version": RENDERER_VERSION, "seed": seed,
            # unset totals left out: sets built before the totals existed keep their marker
            "config": {name: value for name, value in to_dict(config).items() if value is not None}}


def build_synthetic_market(out: str | Path, config: SyntheticConfig = SyntheticConfig(), seed: int = 0,
                           workers: int | None = None, progress: bool = True) -> dict:
    """Write the data set to `out` (atomically: built beside it, then renamed) and return its summary.

    An existing `out` written with the same config and seed is reused as it is; anything else there is an error.
    """
    out = check_output(out)
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    with output_lock(out):
        return _build(out, config, seed, workers or min(4, os.cpu_count() or 1), progress)


def _build(out: Path, config: SyntheticConfig, seed: int, workers: int, progress: bool) -> dict:
    marker = _marker(config, seed)
    if out.exists():
        previous = json.loads((out / MARKER).read_text()) if (out / MARKER).is_file() else {}
        if previous.get("input") == marker:
            return {**previous, "reused": True}
        raise InputError(f"{out}: already exists and holds something else than this synthetic set "
                         "(remove it or choose another --out)")
    for stale in out.parent.glob(f".{out.name}.*.tmp"):  # a killed build's folder (we hold the lock: not a live one)
        shutil.rmtree(stale)
    started = time.perf_counter()
    cameras, specs = plan_dataset(config, seed)
    with atomic_directory(out) as tmp:
        for folder in SPLIT_DIRS.values():
            (tmp / folder).mkdir()
        jobs = [(spec, cameras, str(tmp / SPLIT_DIRS[spec.split] / spec.name)) for spec in specs]
        with tqdm(total=len(jobs), desc="rendering", unit="img", disable=not progress) as bar, \
                ProcessPoolExecutor(max_workers=workers, initializer=end_with_parent) as pool:
            for _ in pool.map(_render_to_file, jobs, chunksize=16):
                bar.update()
        for split, file_name in ANNOTATION_FILES.items():
            chosen = [s for s in specs if s.split == split]
            write_annotations(tmp / file_name, Annotations([s.name for s in chosen], [s.keypoints for s in chosen]))
        summary = summarise(specs, marker, time.perf_counter() - started)
        (tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
    return {**summary, "reused": False}


def summarise(specs: list[ImageSpec], marker: dict, seconds: float) -> dict:
    counts = {}
    for split in SPLIT_DIRS:
        pids = [parse_name(s.name).pid for s in specs if s.split == split]
        counts[split] = {"images": len(pids), "identities": len({p for p in pids if p > DISTRACTOR_PID}),
                         "junk": pids.count(JUNK_PID), "distractors": pids.count(DISTRACTOR_PID)}
    return {"input": marker, "counts": counts, "seconds": round(seconds, 2),
            "images_per_second": round(len(specs) / max(seconds, 1e-9), 1)}
