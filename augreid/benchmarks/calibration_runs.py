"""The A/A calibration's runs: identical configurations trained on many seeds, to measure how often a verdict
calls them different (`study/calibration.py` holds the statistics).
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch


def _aa_run(arguments: tuple) -> tuple[int, dict]:
    from augreid.reid.train import quiet, train_reid

    data_root, config, out, seed, weights = arguments
    with contextlib.redirect_stdout(sys.stderr):  # torchreid prints its data summary: stdout keeps the report alone
        return seed, train_reid(data_root, config, out, seed=seed, weights=weights, device="cpu", log=quiet)


def _aa_backbone(arguments: tuple) -> str:
    from augreid.reid.pretrain import pretrain_backbone
    from augreid.reid.train import quiet

    settings, out = arguments
    with contextlib.redirect_stdout(sys.stderr):
        return pretrain_backbone(settings, out, device="cpu", log=quiet)["backbone"]


def aa_runs(data_root: Path, config_path: Path, out: Path, runs: int, first_seed: int, parallel: int,
            weights: Path | None = None) -> list[Path]:
    """The pool of runs, `parallel` at a time in processes of one thread each; finished ones (their metrics.json)
    are kept. Without --weights, a config with `reid.backbone: synthetic` first gets its backbone, trained once
    under `out` in such a process, as the flow trains it. Returns the runs' folders in seed order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from augreid.config import load_config
    from augreid.core.output import check_output

    settings = load_config(config_path)
    config = settings.reid
    check_output(out, data_root)
    folders = {seed: out / f"seed_{seed}" for seed in range(first_seed, first_seed + runs)}
    missing = [seed for seed, folder in folders.items() if not (folder / "metrics.json").is_file()]
    print(f"A/A: {runs} runs of {config.model} ({config_path}) on {data_root}, seeds {first_seed}-"
          f"{first_seed + runs - 1}; {runs - len(missing)} already there", file=sys.stderr, flush=True)
    if not missing:
        return list(folders.values())
    started = time.perf_counter()
    # a process pool whose workers may start processes of their own (the backbone's population is rendered so)
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        start = str(weights) if weights else None
        if start is None and config.pretrained and config.backbone == "synthetic":
            print("A/A: the config's synthetic backbone first", file=sys.stderr, flush=True)
            start = pool.submit(_aa_backbone, (settings, out / "backbone")).result()
        todo = [(str(data_root), config, str(folders[seed]), seed, start) for seed in missing]
        runs_done = as_completed([pool.submit(_aa_run, arguments) for arguments in todo])
        for done, (seed, metrics) in enumerate((future.result() for future in runs_done), 1):
            elapsed = time.perf_counter() - started
            print(f"  run {done}/{len(todo)} (seed {seed}): mAP {metrics['mAP']:.2f}, "
                  f"{metrics['wall_seconds']:.0f} s; eta {elapsed / done * (len(todo) - done):.0f} s",
                  file=sys.stderr, flush=True)
    return list(folders.values())


def print_calibration(result: dict) -> None:
    runs, per_arm = result["run_mAP"], result["seeds_per_arm"]
    low, high = result["rate_interval"]
    print(f"per-run mAP over {result['runs']} seeds: mean {np.mean(runs):.2f}, sd {result['run_sd']:.2f} "
          f"(min {min(runs):.2f}, max {max(runs):.2f}); {result['queries']} queries")
    print(f"A/A comparisons, {per_arm} seeds against {per_arm} others: {result['comparisons']}, of which "
          f"{result['disjoint_comparisons']} on disjoint runs")
    print(f"called different (false positives): {result['false_positives']} of {result['comparisons']} = "
          f"{100 * result['false_positive_rate']:.1f}% [95% CI {100 * low:.1f}, {100 * high:.1f}]; disjoint: "
          f"{result['disjoint_false_positives']} of {result['disjoint_comparisons']}")
    print(f"query standard error of a difference: {result['query_se']:.2f} mAP")
    print("detectable difference (80% power, 95% interval), mAP points: " + ", ".join(
        f"{seeds} seeds {size:.1f}" for seeds, size in result["detectable"].items()))


def plan_study(run_sd: float, query_se: float, queries: int, differences: list[float]) -> list[dict]:
    from augreid.study.calibration import seeds_needed

    return [{"difference": d, "seeds_per_arm": seeds_needed(d, run_sd, query_se, queries)} for d in differences]
