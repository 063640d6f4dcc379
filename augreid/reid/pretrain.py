"""`python -m augreid.reid.pretrain --config FILE --out DIR`: the synthetic backbone, the demo's ImageNet.

Real re-ID runs start from ImageNet weights; the demo cannot fetch them, and from scratch its small re-ID model
swung 20 mAP by seed alone (the initial weights drove most of it). So the config's `reid:` model is trained once,
from scratch, on a synthetic population of its own (`pretraining.seed`, the `synthetic:` sizes: other people than
the study's), and `backbone.pt` keeps its weights without the classifier. Runs with `reid.backbone: synthetic` start
from it (`python -m augreid.reid --weights DIR/backbone.pt`), like every seed of a real study starts from the same
ImageNet file.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import torch

from augreid.config import Config, ReidConfig, load_config
from augreid.core.atomic import atomic_file, atomic_write_text
from augreid.core.cli import ArgumentParser, command
from augreid.core.output import check_output
from augreid.data.synthetic.dataset import build_synthetic_market
from augreid.reid.train import train_reid

BACKBONE = "backbone.pt"
CLASSIFIER = "classifier."  # the identity layer of every model here: its classes are the population's own


def pretraining_recipe(config: Config) -> ReidConfig:
    """The `reid:` model and image settings, from scratch, with the pretraining's batch, epochs and step schedule."""
    p = config.pretraining
    return dataclasses.replace(config.reid, pretrained=False, backbone="imagenet", budget="epochs",
                               batch_size=p.batch_size, epochs=p.epochs, lr=p.lr, stepsize=p.stepsize, schedule="step")


def pretrain_backbone(config: Config, out: str | Path, device: str = "auto",
                      log: Callable[[str], None] = print) -> dict:
    """Build the population, train on it, write `out/backbone.pt` (last) and `out/pretrain.json`; returns the
    summary. A finished `out` is reused as it is."""
    out = check_output(out)
    summary_path = out / "pretrain.json"
    if summary_path.is_file() and (out / BACKBONE).is_file():
        return json.loads(summary_path.read_text())
    population = out / "population"
    build_synthetic_market(population, config.synthetic, seed=config.pretraining.seed, progress=False)
    metrics = train_reid(population, pretraining_recipe(config), out / "run", seed=0, device=device, log=log)
    state = torch.load(out / "run" / "model.pt", map_location="cpu", weights_only=True)
    summary = {"backbone": str(out / BACKBONE), "population_seed": config.pretraining.seed, "model": metrics["model"],
               "tensors": sum(not name.startswith(CLASSIFIER) for name in state),
               "own_mAP": metrics["mAP"], "own_rank1": metrics["rank1"], "seconds": metrics["wall_seconds"]}
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    with atomic_file(out / BACKBONE) as tmp:  # last: its presence marks the backbone complete
        torch.save({name: tensor for name, tensor in state.items() if not name.startswith(CLASSIFIER)}, tmp)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.reid.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="YAML config (its reid: and pretraining:)")
    parser.add_argument("--out", required=True, type=Path, help="folder for backbone.pt and the run")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    summary = pretrain_backbone(load_config(args.config), args.out, args.device)
    print(f"{summary['model']} backbone ({summary['tensors']} tensors) from synthetic population seed "
          f"{summary['population_seed']} (mAP {summary['own_mAP']:.2f} on its own test split) -> {summary['backbone']}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
