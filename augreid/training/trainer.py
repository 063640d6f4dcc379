"""Training one generator: the recipe's iterations with their learning-rate schedule and seeds, samples and
checkpoints on the way, resumable after a kill, and the held-out quality of the finished model.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from augreid.config import GENERATOR_NAMES, Config, GeneratorArchitecture
from augreid.core.atomic import atomic_write_text, file_sha256, remove_unfinished
from augreid.core.device import pick_device
from augreid.core.errors import InputError
from augreid.core.output import check_output, output_lock
from augreid.data.annotations import read_annotations
from augreid.data.images import check_images, save_image, to_pixels
from augreid.data.market import annotation_file, split_dir
from augreid.data.pairs import PairBatches, sample_pairs, training_pairs
from augreid.data.pose import draw_skeleton
from augreid.evaluation.gallery import comparison_grid
from augreid.evaluation.quality import score_generator
from augreid.models import check_architecture
from augreid.sources.checkpoint import GENERATOR_FORMAT, TRAINING_FORMAT, generator_of_training, load, save
from augreid.sources.inference import drawing_with
from augreid.training.gan import PoseTransferGAN
from augreid.training.gfla_losses import VGG_LAYERS, VGGFeatures
from augreid.training.gfla_training import GFLATraining
from augreid.training.losses import PerceptualLoss, load_vgg19, load_vgg_conv1_2

HELDOUT_PAIRS = 200

GFLA_WITHOUT_VGG = "set gfla_training.correctness_features: patches, lambda_content: 0 and lambda_style: 0"

SAMPLE_ROWS = 4


def learning_rate(step: int, lr: float, iterations: int, decay_iterations: int) -> float:
    """Constant, then linear decay to 0 over the last `decay_iterations` iterations."""
    if decay_iterations == 0:
        return lr
    return lr * min(1.0, (iterations - step) / decay_iterations)


def step_seed(seed: int, step: int) -> int:
    """torch's seed for one iteration (dropout, image pool), so a resumed run draws what it would have drawn."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def sample_grid(batch: dict[str, torch.Tensor], generated: torch.Tensor) -> np.ndarray:
    """Rows of condition | target pose | generated | target, as one uint8 image."""
    return comparison_grid([[to_pixels(batch["condition"][i]), draw_skeleton(batch["target_pose"][i].numpy()),
                             to_pixels(generated[i]), to_pixels(batch["target"][i])] for i in range(len(generated))])


def build_training(name: str, architecture: GeneratorArchitecture, recipe, vgg_weights: str | Path | None,
                   device: torch.device) -> PoseTransferGAN | GFLATraining:
    """The model under training with its losses: GFLA's two-stage trainer, or the GAN of the PATN family and SAN."""
    if name == "gfla":
        vgg = VGGFeatures(load_vgg19(vgg_weights, VGG_LAYERS, remedy=GFLA_WITHOUT_VGG)) if recipe.needs_vgg else None
        return GFLATraining(architecture, recipe, vgg, device)
    perceptual = PerceptualLoss(load_vgg_conv1_2(vgg_weights)) if recipe.lambda_perceptual > 0 else None
    return PoseTransferGAN(name, architecture, recipe, perceptual, device)


def differing_setting(recorded: dict, now: dict, prefix: str = "") -> str | None:
    """The first setting (dotted path) whose value differs between two runs' records, with both values."""
    for key in sorted(set(recorded) | set(now)):
        there, here = recorded.get(key), now.get(key)
        if isinstance(there, dict) and isinstance(here, dict):
            found = differing_setting(there, here, f"{prefix}{key}.")
            if found:
                return found
        elif there != here:
            return f"{prefix}{key}: {there!r} there, {here!r} now"
    return None


def repair_generator_file(out: Path, checkpoint: dict) -> None:
    """`generator.pt` is written after `checkpoint.pt`; a kill between the two leaves it behind (or absent):
    derive it again from the checkpoint."""
    path = out / "generator.pt"
    try:
        current = load(path, GENERATOR_FORMAT)["step"] if path.is_file() else None
    except InputError:
        current = None
    if current != checkpoint["step"]:
        save(path, generator_of_training(checkpoint))


def train_generator(name: str, data_root: str | Path, config: Config, out: str | Path, seed: int = 0,
                    resume: bool = False, device: str = "auto", vgg_weights: str | Path | None = None,
                    stop_after: int | None = None, progress: bool = True, heldout: bool = True) -> dict:
    """Train (or resume) one generator; returns the run summary. `stop_after` ends this call after that many
    iterations, leaving a resumable checkpoint (a time-boxed session). `heldout=False` skips the held-out
    SSIM / PSNR of a finished run (the flow scores every generator with `augreid.quality` instead)."""
    if name not in GENERATOR_NAMES:
        raise InputError(f"--generator: unknown generator '{name}' (known: {', '.join(GENERATOR_NAMES)})")
    data_root, out = Path(data_root), check_output(out, data_root)
    if not data_root.is_dir():
        raise InputError(f"{data_root}: data root does not exist")
    architecture, recipe = config.generators.architecture(name), config.training(name)
    check_architecture(name, architecture)
    with output_lock(out):
        return _train(name, data_root, architecture, recipe, out, seed, resume, pick_device(device), vgg_weights,
                      stop_after, progress, heldout)


def _train(name: str, data_root: Path, architecture: GeneratorArchitecture, recipe, out: Path, seed: int,
           resume: bool, device_: torch.device, vgg_weights: str | Path | None, stop_after: int | None,
           progress: bool, heldout: bool) -> dict:
    annotations_path = annotation_file(data_root, "train")
    annotations = read_annotations(annotations_path)
    pairs = training_pairs(annotations)
    if pairs.empty:
        raise InputError(f"{annotations_path}: no training pairs (every identity needs two images with shoulders and hips)")
    if recipe.batch_size > len(pairs):  # a batch would repeat pairs many times over (100,000 of 88: no end in sight)
        raise InputError(f"{annotations_path}: {len(pairs)} training pairs, fewer than one batch of "
                         f"{recipe.batch_size} (the recipe's batch_size)")
    images = split_dir(data_root, "train")
    check_images(images / image for image in sorted(set(pairs["from"]) | set(pairs["to"])))
    dataset = PairBatches(pairs, images, annotations, recipe.batch_size, seed)
    run = {"generator": name, "architecture": dataclasses.asdict(architecture),
           "training": dataclasses.asdict(recipe), "seed": seed, "pairs": len(pairs),
           "annotations_sha256": file_sha256(annotations_path)[:16]}

    checkpoint_path = out / "checkpoint.pt"
    start, state = 0, None
    for folder in (out, out / "samples"):  # a run killed mid-write
        if folder.is_dir():
            remove_unfinished(folder)
    if checkpoint_path.exists():
        if not resume:
            raise InputError(f"{out}: holds a training run already (pass --resume to continue it, or choose another --out)")
        state = load(checkpoint_path, TRAINING_FORMAT)
        absent = [key for key in ("run", "step", "training_state") if key not in state]
        if absent or not isinstance(state["run"], dict):  # a forged file: its format tag alone is right
            raise InputError(f"{checkpoint_path}: a damaged augreid checkpoint (no {(absent or ['run'])[0]!r}); "
                             "choose another --out")
        differing = differing_setting(state["run"], run)
        if differing:
            raise InputError(f"{checkpoint_path}: cannot resume, the run differs from this command's ({differing})")
        repair_generator_file(out, state)
        start = state["step"]
        if start == recipe.iterations and (out / "summary.json").is_file():
            return {**json.loads((out / "summary.json").read_text()), "reused": True}

    torch.manual_seed(seed)  # the initial weights
    gan = build_training(name, architecture, recipe, vgg_weights, device_)
    if state is not None:
        gan.load_training_state(state["training_state"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)

    end = recipe.iterations if stop_after is None else min(recipe.iterations, start + stop_after)
    loader = torch.utils.data.DataLoader(
        dataset, sampler=range(start, end), batch_size=None, num_workers=recipe.workers,
        pin_memory=device_.type == "cuda", persistent_workers=False)
    sample_batch = {key: value[:SAMPLE_ROWS] for key, value in dataset[0].items()}
    losses: dict[str, float] = {}
    started = time.perf_counter()
    with tqdm(total=recipe.iterations, initial=start, desc=f"train {name}", unit="it", disable=not progress,
              mininterval=1.0 if sys.stderr.isatty() else 15.0) as bar:
        for step, batch in zip(range(start, end), loader):
            torch.manual_seed(step_seed(seed, step))
            gan.set_lr(learning_rate(step, recipe.lr, recipe.iterations, recipe.decay_iterations))
            losses = gan.step(batch)
            bar.update()
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in ("G", "L1", "D_app", "D_pose")},
                            refresh=False)
            done = step + 1
            if done % recipe.sample_every == 0 or done == recipe.iterations:
                save_image(out / "samples" / f"step_{done:06d}.png",
                           sample_grid(sample_batch, gan.sample(sample_batch)))
            if done % recipe.checkpoint_every == 0 or done == end:  # the last step always saves
                progress_ = progress_so_far(losses, done - start, time.perf_counter() - started)
                _save(out, gan, run, done, progress_)
    if end == start:  # killed after its last checkpoint, before its summary: the checkpoint kept what it needs
        progress_ = state.get("progress", {}) if state is not None else {}
    summary = {"run": run, "step": end, "finished": end == recipe.iterations, "reused": False, "device": str(device_),
               **progress_}
    if summary["finished"] and heldout:
        summary["heldout"] = heldout_quality(gan.generator, data_root, seed, device_)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _save(out: Path, gan: PoseTransferGAN | GFLATraining, run: dict, step: int, progress: dict) -> None:
    """`progress`: the last losses and the speed so far, so that a summary lost to a kill can be written again."""
    checkpoint = {"format": TRAINING_FORMAT, "run": run, "step": step, "training_state": gan.training_state(),
                  "progress": progress}
    save(out / "checkpoint.pt", checkpoint)
    save(out / "generator.pt", generator_of_training(checkpoint))


def progress_so_far(losses: dict, iterations: int, seconds: float) -> dict:
    return {"seconds": round(seconds, 1), "iterations_per_second": round(iterations / max(seconds, 1e-9), 3),
            "last_losses": {k: round(v, 4) for k, v in losses.items()}}


def heldout_quality(generator: torch.nn.Module, data_root: Path, seed: int, device: torch.device) -> dict | None:
    """SSIM, mask-SSIM and PSNR on pairs of test identities (never seen in training), beside the copy baseline."""
    test_annotations = annotation_file(data_root, "gallery")
    if not test_annotations.is_file():
        return None
    annotations = read_annotations(test_annotations)
    pairs = sample_pairs(annotations, HELDOUT_PAIRS, seed)
    if pairs.empty:
        return None
    return score_generator(drawing_with(generator, device), split_dir(data_root, "gallery"), annotations, pairs)[0]
