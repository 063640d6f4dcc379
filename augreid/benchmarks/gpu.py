"""One GPU's figures for a Market-1501 study, and the wall time of Table VI they project.

Measured at the Market-1501 configs' shapes and batches, as the steps run them (bf16 autocast and channels_last on
a GPU): generator training iterations/s, generation images/s, re-ID training images/s at 256x128 for the IDE and
BoT models, and data-loader images/s per worker process (128x64 JPEG crops decoded from disk). The projection adds
up the study's work at those rates: each generator trained for its recipe's iterations, the missing images of every
(generator, portion, seed) generated, and every re-ID run of its config's epochs; on N GPUs the children spread
over N workers, but no cell can start before its generator is trained.

`dry`: the same on small shapes and a short recipe, so that a test can run it on a CPU; its projection means
nothing.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from augreid.benchmarks.generators import images_per_second, real_looking_poses
from augreid.benchmarks.reid import reid_images_per_second
from augreid.config import Config, load_config
from augreid.core.device import device_name
from augreid.data.images import load_image
from augreid.data.pose import IMAGE_SIZE
from augreid.models import build_generator
from augreid.reid.bot import register_bot
from augreid.reid.ide import register_ide
from augreid.training.trainer import build_training

MARKET = {"train_images": 12936, "identities": 751}  # Market-1501's training split
STUDY = {"generators": ("pona", "patn"), "portions": (0.2, 0.4, 0.6, 0.8), "seeds": 3, "controls": ("none", "duplicate")}
CONFIGS = {"ide": Path("configs/market1501-ide.yaml"), "bot": Path("configs/market1501-bot.yaml")}


@dataclasses.dataclass(frozen=True)
class Shapes:
    """What is timed: the recipes' batches, or small ones for `dry`."""
    training_batch: int | None  # None: the recipe's
    generation_batch: int
    reid_size: tuple[int, int]
    reid_batch: int | None  # None: the config's
    min_seconds: float
    loader_images: int


FULL = Shapes(None, 256, (256, 128), None, 5.0, 512)
DRY = Shapes(2, 4, (64, 32), 4, 0.05, 16)


def training_iterations_per_second(name: str, config: Config, device: torch.device, batch: int | None,
                                   min_seconds: float) -> float:
    """Iterations/s of a generator's training step at the recipe's batch, without the perceptual loss (its VGG
    weights are a download a GPU machine may not have; at conv1_2 it is a small share of a step)."""
    recipe = dataclasses.replace(config.generator_training, lambda_perceptual=0.0,
                                 batch_size=batch or config.generator_training.batch_size)
    torch.manual_seed(0)
    gan = build_training(name, config.generators.architecture(name), recipe, None, device)
    poses = torch.from_numpy(real_looking_poses(recipe.batch_size)).float()
    images = torch.rand(2, recipe.batch_size, 3, *IMAGE_SIZE) * 2 - 1
    step = {"condition": images[0], "target": images[1], "condition_pose": poses, "target_pose": poses.roll(1, 0)}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gan.step(step)
    sync()
    runs, started = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - started < min_seconds:
        gan.step(step)
        runs += 1
    sync()
    return runs / (time.perf_counter() - started)


def generation_images_per_second(name: str, config: Config, device: torch.device, batch: int,
                                 min_seconds: float) -> float:
    torch.manual_seed(0)
    model = build_generator(name, config.generators.architecture(name)).eval().to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return images_per_second(model, batch, device, min_seconds)


def reid_training_images_per_second(config: Config, device: torch.device, shapes: Shapes) -> float:
    register_ide()
    register_bot()
    batch = shapes.reid_batch or config.reid.batch_size
    return reid_images_per_second(config.reid.model, shapes.reid_size, batch, torch.get_num_threads(),
                                  device.type == "cuda", device, shapes.min_seconds)


def _decode_all(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        load_image(path)
    return len(paths) / (time.perf_counter() - started)


def loader_images_per_second(count: int) -> float:
    """JPEG crops decoded per second by one worker process, as a data loader's worker reads them."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"{i:05d}.jpg" for i in range(count)]
        for path in paths:
            Image.fromarray(rng.integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)).save(path, quality=90)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_decode_all, (paths,))


def project_table_vi(rates: dict, config: Config, reid_epochs: int, gpus: tuple[int, ...] = (1, 2, 4, 8)) -> dict:
    """Hours of Table VI (PoNA and PATN, 4 portions plus p = 1, 3 seeds) at the measured rates: the generators'
    trainings, the missing images' generation, and every re-ID run at its config's epochs over its set."""
    n = MARKET["train_images"]
    training = {g: config.generator_training.iterations / rates[f"training_{g}"] for g in STUDY["generators"]}
    missing = sum((1 - p) * n for p in STUDY["portions"]) * STUDY["seeds"]
    generation = {g: missing / rates[f"generation_{g}"] for g in STUDY["generators"]}
    epoch_seconds = n / rates["reid"]  # a set the size of the full one (filled, or duplicated)
    full_sized_runs = (len(STUDY["generators"]) + 1) * len(STUDY["portions"]) * STUDY["seeds"] + STUDY["seeds"]
    reduced = sum(p for p in STUDY["portions"]) * STUDY["seeds"]  # `none`: the kept images alone
    reid = (full_sized_runs + reduced) * reid_epochs * epoch_seconds
    work = sum(training.values()) + sum(generation.values()) + reid
    chain = max(training[g] + generation[g] / (len(STUDY["portions"]) * STUDY["seeds"]) for g in training) \
        + reid_epochs * epoch_seconds  # the longest a cell waits and runs: its generator first
    return {"work_hours": round(work / 3600, 2), "training_hours": {g: round(s / 3600, 2) for g, s in training.items()},
            "generation_hours": round(sum(generation.values()) / 3600, 2), "reid_hours": round(reid / 3600, 2),
            "wall_hours": {str(k): round(max(chain, work / k) / 3600, 2) for k in gpus}}


def bench_gpu(device: torch.device, dry: bool = False) -> dict:
    if not dry:
        return _bench_gpu(device, FULL, dry)
    # random tiny models on a CPU compute in denormal floats, a hundred times slower than the rest
    torch.set_flush_denormal(True)
    try:
        return _bench_gpu(device, DRY, dry)
    finally:
        torch.set_flush_denormal(False)


def _bench_gpu(device: torch.device, shapes: Shapes, dry: bool) -> dict:
    configs = {name: load_config(path) for name, path in CONFIGS.items()}
    market = configs["ide"]
    if dry:  # small shapes and a short recipe: what a CPU test can afford
        market = dataclasses.replace(market, generators=dataclasses.replace(
            market.generators, **{g: dataclasses.replace(market.generators.architecture(g), ngf=8, ndf=8, blocks=1,
                                                         discriminator_blocks=1) for g in STUDY["generators"]}))
    rates = {}
    for g in STUDY["generators"]:
        rates[f"training_{g}"] = training_iterations_per_second(g, market, device, shapes.training_batch,
                                                               shapes.min_seconds)
        rates[f"generation_{g}"] = generation_images_per_second(g, market, device, shapes.generation_batch,
                                                                shapes.min_seconds)
    reid = {name: reid_training_images_per_second(config, device, shapes) for name, config in configs.items()}
    loader = loader_images_per_second(shapes.loader_images)
    projections = {name: project_table_vi({**rates, "reid": reid[name]}, market, configs[name].reid.epochs)
                   for name in configs}
    return {"device": device_name(device), "torch": torch.__version__, "dry": dry,
            "rates": {**{k: round(v, 2) for k, v in rates.items()}, **{f"reid_{k}": round(v, 1) for k, v in reid.items()},
                      "loader_per_worker": round(loader, 1)},
            "batches": {"training": shapes.training_batch or market.generator_training.batch_size,
                        "generation": shapes.generation_batch,
                        "reid": {k: shapes.reid_batch or c.reid.batch_size for k, c in configs.items()}},
            "projection": projections}


def print_gpu(result: dict) -> None:
    rates, batches = result["rates"], result["batches"]
    print(f"{result['device']}, torch {result['torch']}" + (" (dry run: small shapes, no projection)" if result["dry"]
                                                             else ""))
    for g in STUDY["generators"]:
        print(f"  {g}: training {rates[f'training_{g}']} it/s at batch {batches['training']}, "
              f"generation {rates[f'generation_{g}']} images/s at batch {batches['generation']}")
    for name in CONFIGS:
        print(f"  re-ID {name}: {rates[f'reid_{name}']} training images/s at batch {batches['reid'][name]}")
    print(f"  data loader: {rates['loader_per_worker']} images/s per worker process")
    if result["dry"]:
        return
    for name, projection in result["projection"].items():
        walls = ", ".join(f"{k} GPU{'s' if k != '1' else ''} {h} h" for k, h in projection["wall_hours"].items())
        print(f"  Table VI with {name} re-ID (PoNA, PATN; p = 0.2-0.8 and 1; 3 seeds): {projection['work_hours']} "
              f"GPU-hours of work; wall {walls}")
