"""`python -m augreid.reid --data-root DIR --config FILE --out DIR [--seed N]`: a torchreid re-ID baseline.

Trains the config's `reid:` model (ResNet-50 by default) with torchreid's softmax engine on
`bounding_box_train/`, then ranks `query/` against `bounding_box_test/` under the Market-1501 protocol. Writes
`metrics.json` (mAP, rank-1/5/10, counts, epochs, seed, times, images/s) and `model.pt` (the final weights).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import torch

from augreid.atomic import atomic_file, atomic_write_text
from augreid.compat import TORCHREID_DATASET, import_torchreid, register_dataset
from augreid.config import ReidConfig, load_config
from augreid.device import mixed_precision, pick_device, weights_cache_dir
from augreid.errors import InputError, exit_on_input_error
from augreid.metrics.reid import evaluate
from augreid.reid_data import MarketLayoutDataset, market_lists

torchreid = import_torchreid()
RANKS = (1, 5, 10)


class SoftmaxEngine(torchreid.reid.engine.ImageSoftmaxEngine):
    """torchreid's softmax engine with bf16 autocast on a GPU (its own has no mixed precision)."""

    def __init__(self, *args, mixed_precision: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.mixed_precision = mixed_precision and self.use_gpu
        self.device = torch.device("cuda" if self.use_gpu else "cpu")

    def forward_backward(self, data):
        images, pids = self.parse_data_for_train(data)
        if self.use_gpu:
            images, pids = images.cuda(non_blocking=True), pids.cuda(non_blocking=True)
        with mixed_precision(self.device, self.mixed_precision):
            outputs = self.model(images)
        loss = self.compute_loss(self.criterion, outputs.float(), pids)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "acc": torchreid.reid.metrics.accuracy(outputs.float(), pids)[0].item()}


def imagenet_weights_path(model: str, weights: str | Path | None) -> Path:
    """The file torchreid looks for ($TORCH_HOME/hub/checkpoints/<name from its URL>), or --weights."""
    if weights:
        return Path(weights)
    urls = getattr(torchreid.reid.models.resnet, "model_urls", {})
    if model not in urls:
        raise InputError(f"reid.pretrained: no default ImageNet weights file for '{model}'; pass --weights PATH "
                         "or set reid.pretrained: false")
    return weights_cache_dir() / urls[model].rsplit("/", 1)[1]


def load_imagenet_weights(model: torch.nn.Module, name: str, weights: str | Path | None) -> int:
    """Copy every ImageNet tensor whose name and shape fit (the classifier does not); returns how many."""
    path = imagenet_weights_path(name, weights)
    if not path.is_file():
        raise InputError(f"ImageNet weights for {name} not found at {path} (no download on this machine): put the "
                         "file there, pass --weights PATH, or set reid.pretrained: false in the config")
    try:
        pretrained = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InputError(f"{path}: not a state dict of ImageNet weights ({type(err).__name__})") from None
    own = model.state_dict()
    fitting = {k: v for k, v in pretrained.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise InputError(f"{path}: no tensor fits {name}; is it the right model's file?")
    model.load_state_dict({**own, **fitting})
    return len(fitting)


@torch.no_grad()
def extract_features(engine: SoftmaxEngine, loader) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    engine.model.eval()
    features, pids, camids = [], [], []
    for data in loader:
        images, batch_pids, batch_camids = engine.parse_data_for_eval(data)
        if engine.use_gpu:
            images = images.cuda(non_blocking=True)
        with mixed_precision(engine.device, engine.mixed_precision):
            features.append(engine.model(images).float().cpu())
        pids.append(batch_pids.numpy())
        camids.append(batch_camids.numpy())
    return torch.cat(features), np.concatenate(pids), np.concatenate(camids)


def evaluate_engine(engine: SoftmaxEngine, manager) -> tuple[np.ndarray, float, int]:
    """Rank query against gallery with the engine's model: (CMC, mAP, valid queries)."""
    query = extract_features(engine, manager.test_loader[TORCHREID_DATASET]["query"])
    gallery = extract_features(engine, manager.test_loader[TORCHREID_DATASET]["gallery"])
    distances = torchreid.reid.metrics.compute_distance_matrix(query[0], gallery[0], metric="euclidean").numpy()
    return evaluate(distances, query[1], gallery[1], query[2], gallery[2])


def build_engine(data_root: Path, config: ReidConfig, device: torch.device,
                 weights: str | Path | None = None) -> tuple[SoftmaxEngine, object]:
    """torchreid's data manager, model, optimiser, scheduler and softmax engine for a Market-layout folder."""
    use_gpu = device.type == "cuda"
    register_dataset(MarketLayoutDataset)
    manager = torchreid.reid.data.ImageDataManager(
        root=str(data_root), sources=TORCHREID_DATASET, targets=TORCHREID_DATASET, height=config.height,
        width=config.width, transforms=["random_flip"] if config.random_flip else [],
        batch_size_train=config.batch_size, batch_size_test=config.test_batch_size, workers=config.workers,
        use_gpu=use_gpu)
    model = torchreid.reid.models.build_model(config.model, num_classes=manager.num_train_pids, loss="softmax",
                                              pretrained=False, use_gpu=use_gpu)
    if config.pretrained:
        load_imagenet_weights(model, config.model, weights)
    model = model.to(device)
    if use_gpu:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torchreid.reid.optim.build_optimizer(model, optim=config.optimizer, lr=config.lr,
                                                     weight_decay=config.weight_decay)
    scheduler = torchreid.reid.optim.build_lr_scheduler(optimiser, lr_scheduler="single_step",
                                                        stepsize=config.stepsize)
    engine = SoftmaxEngine(manager, model, optimiser, scheduler=scheduler, use_gpu=use_gpu,
                           label_smooth=config.label_smooth, mixed_precision=config.mixed_precision)
    return engine, manager


def train_reid(data_root: str | Path, config: ReidConfig, out: str | Path, seed: int = 0,
               weights: str | Path | None = None, device: str = "auto") -> dict:
    """Train and evaluate one baseline; returns the metrics written to `out/metrics.json`."""
    data_root, out = Path(data_root), Path(out)
    lists = market_lists(data_root)  # bad layouts fail here, before any training
    started = time.perf_counter()
    device_ = pick_device(device)
    torchreid.reid.utils.set_random_seed(seed)
    engine, manager = build_engine(data_root, config, device_, weights)
    engine.max_epoch = config.epochs
    fixbase = config.fixbase_epochs if config.pretrained else 0
    train_started = time.perf_counter()
    for engine.epoch in range(config.epochs):  # one log line per epoch: loss, accuracy, eta
        engine.train(print_freq=len(manager.train_loader), fixbase_epoch=fixbase, open_layers=["classifier"])
    train_seconds = time.perf_counter() - train_started

    cmc, mean_ap, valid = evaluate_engine(engine, manager)
    trained_images = len(manager.train_loader) * config.batch_size * config.epochs  # torchreid drops the last batch
    metrics = {
        "mAP": round(100 * mean_ap, 2),
        **{f"rank{r}": round(100 * float(cmc[min(r, len(cmc)) - 1]), 2) for r in RANKS},
        "train_images": len(lists["train"]), "train_identities": manager.num_train_pids,
        "query_images": len(lists["query"]), "gallery_images": len(lists["gallery"]), "valid_queries": valid,
        "epochs": config.epochs, "seed": seed, "model": config.model, "device": str(device_),
        # where it ran: on a work pool with one worker per GPU, the host and the GPU the worker was given
        "host": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "wall_seconds": round(time.perf_counter() - started, 1), "train_seconds": round(train_seconds, 1),
        "images_per_second": round(trained_images / max(train_seconds, 1e-9), 1),
        "data_root": str(data_root.resolve()), "config": dataclasses.asdict(config),
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "model.pt") as tmp:
        torch.save(engine.model.state_dict(), tmp)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m augreid.reid", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder")
    parser.add_argument("--config", required=True, type=Path, help="YAML config with a `reid:` section")
    parser.add_argument("--out", required=True, type=Path, help="folder for metrics.json and model.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=Path, help="ImageNet weights file when reid.pretrained is true")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    metrics = train_reid(args.data_root, load_config(args.config).reid, args.out, args.seed, args.weights, args.device)
    print(f"{metrics['model']} on {metrics['train_images']} images of {metrics['train_identities']} identities, "
          f"{metrics['epochs']} epochs on {metrics['device']} ({metrics['images_per_second']} images/s): "
          f"mAP {metrics['mAP']:.2f}, rank-1 {metrics['rank1']:.2f}, rank-5 {metrics['rank5']:.2f}, "
          f"rank-10 {metrics['rank10']:.2f} -> {args.out / 'metrics.json'}")
    return 0


run = exit_on_input_error(main)

if __name__ == "__main__":
    run()
