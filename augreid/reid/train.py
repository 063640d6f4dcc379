"""One re-ID baseline: train the config's model for its budget, rank query against gallery, write the results.

`metrics.json` holds mAP (by the config's `map_rule`, and by both rules as `mAP_torchreid` and `mAP_devkit`),
rank-1/5/10, counts, the budget and the optimizer steps actually taken, seed, the label policy of generated images
and how many of the training images were generated, times and images/s;
`per_query.csv` one row per query (name, pid, camid, AP by `map_rule`, rank of the first true match) for paired
comparisons between runs; `model.pt` the final weights.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import torch

from augreid.config import ReidConfig
from augreid.core.atomic import atomic_file, atomic_write_text, remove_unfinished
from augreid.core.compat import import_torchreid
from augreid.core.device import pick_device
from augreid.core.output import check_output, output_lock
from augreid.data.images import check_images
from augreid.data.market import check_complete
from augreid.metrics.reid import AP_RULES, QueryResults, summarise
from augreid.reid.budget import TrainingLength, training_length
from augreid.reid.data import PreloadedBatches, added_images, added_flags, market_lists
from augreid.reid.engine import SoftmaxEngine, build_engine, check_model, initial_weights_file, rank_query_set

RANKS = (1, 5, 10)
PER_QUERY_COLUMNS = ["query", "pid", "camid", "ap", "first_match_rank"]


def quiet(line: str) -> None:
    """A `log` that drops a training's epoch lines (module level: worker processes receive it pickled)."""


def endless(loader) -> Iterator:
    """Batches of the loader, pass after pass (each pass a new shuffle), for a budget counted in steps."""
    while True:
        yield from loader


def train_steps(engine: SoftmaxEngine, loader, length: TrainingLength, fixbase_epochs: int,
                log: Callable[[str], None] = print) -> int:
    """Train `length.steps` optimizer steps; the scheduler (and the frozen-base start) steps once per
    `length.steps_per_epoch`. One log line per epoch of the schedule. Returns the steps taken."""
    batches, taken, started = endless(loader), 0, time.perf_counter()
    batch_size = loader.batch_size
    for epoch in range(length.epochs):
        engine.set_model_mode("train")
        engine.two_stepped_transfer_learning(epoch, fixbase_epochs, ["classifier"])
        loss = accuracy = 0.0
        for _ in range(length.steps_per_epoch):
            summary = engine.forward_backward(next(batches))
            loss, accuracy, taken = loss + summary["loss"], accuracy + summary["acc"], taken + 1
        engine.update_lr()
        elapsed = time.perf_counter() - started
        log(f"epoch {epoch + 1}/{length.epochs}: step {taken}/{length.steps}, loss {loss / length.steps_per_epoch:.3f}, "
            f"accuracy {accuracy / length.steps_per_epoch:.1f}%, lr {engine.get_current_lr():.2e}, "
            f"{taken * batch_size / elapsed:.0f} images/s, eta {elapsed / taken * (length.steps - taken):.0f} s")
    return taken


def per_query_table(queries: list[tuple[str, int, int]], results: QueryResults, rule: str) -> pd.DataFrame:
    """The queries that count (a true match remains in the gallery), with AP (by `rule`) and first-match rank."""
    table = pd.DataFrame({"query": [Path(path).name for path, _, _ in queries],
                          "pid": [pid for _, pid, _ in queries], "camid": [camid for _, _, camid in queries],
                          "ap": results.ap(rule), "first_match_rank": results.first_match_rank})
    return table[results.valid].reset_index(drop=True)[PER_QUERY_COLUMNS]


def train_reid(data_root: str | Path, config: ReidConfig, out: str | Path, seed: int = 0,
               weights: str | Path | None = None, device: str = "auto", log: Callable[[str], None] = print) -> dict:
    """Train and evaluate one baseline; returns the metrics written to `out/metrics.json`. `log` takes one line
    per epoch."""
    data_root, out = Path(data_root), check_output(out, data_root)
    check_model(config.model)
    if config.pretrained:
        initial_weights_file(config.model, weights, config.backbone)
    check_complete(data_root)
    lists = market_lists(data_root)  # bad layouts fail here, before any training
    length = training_length(config, data_root, len(lists["train"]))
    check_images(path for split in lists.values() for path, _, _ in split)
    with output_lock(out):
        if out.is_dir():
            remove_unfinished(out)  # a run killed in its final writes
        return _train_and_evaluate(data_root, lists, length, config, out, seed, weights, device, log)


def _train_and_evaluate(data_root: Path, lists: dict, length: TrainingLength, config: ReidConfig, out: Path,
                        seed: int, weights: str | Path | None, device: str, log: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    device_ = pick_device(device)
    import_torchreid().reid.utils.set_random_seed(seed)
    generated = added_images(data_root)
    engine, manager = build_engine(data_root, config, device_, weights, generated)
    fixbase = config.fixbase_epochs if config.pretrained else 0
    train_started = time.perf_counter()
    loader = (PreloadedBatches(lists["train"], config.height, config.width, config.batch_size, config.random_flip)
              if config.preload else manager.train_loader)
    steps = train_steps(engine, loader, length, fixbase, log)
    train_seconds = time.perf_counter() - train_started

    results = rank_query_set(engine, manager, config.flip_test, config.normalize_features)
    cmc, mean_ap, valid = summarise(results, min(50, len(lists["gallery"])), config.map_rule)
    metrics = {
        "mAP": round(100 * mean_ap, 2), "map_rule": config.map_rule,
        **{f"mAP_{rule}": round(100 * float(results.ap(rule)[results.valid].mean()), 2) for rule in AP_RULES},
        **{f"rank{r}": round(100 * float(cmc[min(r, len(cmc)) - 1]), 2) for r in RANKS},
        "train_images": len(lists["train"]), "train_identities": manager.num_train_pids,
        "query_images": len(lists["query"]), "gallery_images": len(lists["gallery"]), "valid_queries": valid,
        "budget": length.budget, "epochs": length.epochs, "steps": steps, "steps_per_epoch": length.steps_per_epoch,
        "budget_reference_images": length.reference_images, "seed": seed, "model": config.model,
        "generated_labels": config.generated_labels,
        "generated_train_images": int(added_flags([path for path, _, _ in lists["train"]], generated).sum()),
        "initial_weights": str(weights) if config.pretrained and weights else None,
        "device": str(device_), "threads": torch.get_num_threads(),
        # where it ran: on a work pool with one worker per GPU, the host and the GPU the worker was given
        "host": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "wall_seconds": round(time.perf_counter() - started, 1), "train_seconds": round(train_seconds, 1),
        "images_per_second": round(steps * config.batch_size / max(train_seconds, 1e-9), 1),
        "data_root": str(data_root.resolve()), "config": dataclasses.asdict(config),
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "model.pt") as tmp:
        torch.save(engine.model.state_dict(), tmp)
    with atomic_file(out / "per_query.csv") as tmp:
        per_query_table(lists["query"], results, config.map_rule).to_csv(tmp, index=False, float_format="%.6f",
                                                                          lineterminator="\n")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")  # last: marks the run complete
    return metrics
