"""Generator speed: parameters, GFLOPs per image and images/s of the built-in models, checkpoints and plugins."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from augreid.config import GeneratorArchitecture, SyntheticConfig
from augreid.core.device import device_name, mixed_precision
from augreid.core.errors import InputError
from augreid.data.pose import IMAGE_SIZE
from augreid.data.synthetic.dataset import plan_dataset
from augreid.models import build_generator, conditioning_maps
from augreid.models.layers import parameter_count
from augreid.sources.checkpoint import load_generator
from augreid.sources.plugins import Transfer, load_plugin
from augreid.sources.source import parse_generator

MODELS = (("PoNA-3", "pona", 3), ("PoNA-2", "pona", 2), ("PATN-9", "patn", 9), ("APS", "aps", 4), ("GFLA", "gfla", 3),
          ("SAN", "san", 5))

PAPER_RATIO = 105.18 / 97.37

DEFAULT_LARGE_BATCH = {"cpu": 16, "cuda": 256}


def gflops_per_image(model: torch.nn.Module) -> float:
    height, width = IMAGE_SIZE
    counter = FlopCounterMode(display=False)
    maps = pose_maps(model, 1, torch.device("cpu"))
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, height, width), maps)
    return counter.get_total_flops() / 1e9


def real_looking_poses(batch: int) -> np.ndarray:
    """(batch, 18, 2) keypoints of the synthetic set's walking people."""
    _, specs = plan_dataset(SyntheticConfig(train_identities=8, test_identities=2), seed=0)
    poses = np.stack([spec.keypoints for spec in specs if spec.split == "train"])
    return poses[np.arange(batch) % len(poses)]


def pose_maps(model: torch.nn.Module, batch: int, device: torch.device) -> torch.Tensor:
    """The model's maps (heatmaps, or SAN's semantic maps) of real-looking poses, as generation feeds them: the time
    of a convolution depends on its values (denormal floats are slow on a CPU), so random maps would mislead."""
    poses = real_looking_poses(batch)
    return conditioning_maps(model, poses, np.roll(poses, 1, axis=0), device)


def plugin_images_per_second(transfer: Transfer, batch: int, min_seconds: float) -> float:
    """A plugin's throughput, end to end, after one warm-up call."""
    poses = real_looking_poses(batch)
    images = np.random.default_rng(0).integers(0, 256, (batch, *IMAGE_SIZE, 3), dtype=np.uint8)
    transfer(images, poses, np.roll(poses, 1, axis=0))
    runs, started = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - started < min_seconds:
        transfer(images, poses, np.roll(poses, 1, axis=0))
        runs += 1
    return runs * batch / (time.perf_counter() - started)


def images_per_second(model: torch.nn.Module, batch: int, device: torch.device, min_seconds: float) -> float:
    """Forward throughput after a warm-up, timed over at least `min_seconds` and 3 batches."""
    height, width = IMAGE_SIZE
    image = torch.rand(batch, 3, height, width, device=device) * 2 - 1
    maps = pose_maps(model, batch, device)
    cuda = device.type == "cuda"
    if cuda:
        image, maps = (t.contiguous(memory_format=torch.channels_last) for t in (image, maps))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    with torch.no_grad(), mixed_precision(device):
        for _ in range(3 if cuda else 1):
            model(image, maps)
        sync()
        runs, started = 0, time.perf_counter()
        while runs < 3 or time.perf_counter() - started < min_seconds:
            model(image, maps)
            runs += 1
            sync()
        elapsed = time.perf_counter() - started
    return runs * batch / elapsed


def _models(checkpoints: list[Path]):
    trained = [(f"{payload['generator']}:{path}", model)  # read first: a bad file fails before any timing
               for path in checkpoints for model, payload in [load_generator(path)]]
    for label, name, blocks in MODELS:
        torch.manual_seed(0)
        yield label, build_generator(name, GeneratorArchitecture(blocks=blocks, ngf=64)).eval()
    yield from trained


def plugin_spec(text: str):
    spec = parse_generator(text)
    if spec.kind != "plugin":
        raise InputError(f"--plugin {text}: not an installed plugin's generator (time built-in checkpoints with "
                         "--checkpoint)")
    return spec


def bench_generators(device: torch.device, batches: tuple[int, int], min_seconds: float,
                     checkpoints: list[Path] = (), plugins: list[str] = ()) -> dict:
    transfers = [(text, load_plugin(spec.label, spec.path, device))  # loaded first: a bad name fails before timing
                 for text in plugins for spec in [plugin_spec(text)]]
    rows = []
    for label, model in _models(list(checkpoints)):
        row = {"model": label, "parameters": parameter_count(model), "gflops_per_image": round(gflops_per_image(model), 2)}
        model = model.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        for batch in batches:
            row[f"images_per_second_batch_{batch}"] = round(images_per_second(model, batch, device, min_seconds), 2)
        rows.append(row)
    for text, transfer in transfers:
        rows.append({"model": f"plugin {text}", "parameters": None, "gflops_per_image": None,
                     **{f"images_per_second_batch_{b}": round(plugin_images_per_second(transfer, b, min_seconds), 2)
                        for b in batches}})
    by_model = {row["model"]: row for row in rows}
    ratios = {f"batch_{b}": round(by_model["PoNA-3"][f"images_per_second_batch_{b}"]
                                  / by_model["PATN-9"][f"images_per_second_batch_{b}"], 3) for b in batches}
    return {"device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "rows": rows, "pona3_over_patn9": ratios, "paper_ratio": round(PAPER_RATIO, 3)}


def print_table(result: dict) -> None:
    batches = [key.rsplit("_", 1)[1] for key in result["rows"][0] if key.startswith("images_per_second")]
    print(f"generators at 128x64 on {result['device']} (torch {result['torch']}, {result['threads']} threads)")
    width = max(8, *(len(row["model"]) for row in result["rows"]))
    header = f"{'model':{width}s} {'params':>12s} {'GFLOPs/img':>11s}" + "".join(f" {'img/s b' + b:>11s}" for b in batches)
    print(header)
    for row in result["rows"]:
        counted = row["parameters"] is not None
        print(f"{row['model']:{width}s} {row['parameters'] if counted else '-':>12{',d' if counted else 's'}} "
              f"{row['gflops_per_image'] if counted else '-':>11{'.2f' if counted else 's'}}"
              + "".join(f" {row['images_per_second_batch_' + b]:11.2f}" for b in batches))
    ratios = ", ".join(f"{v:.3f} at batch {k.split('_')[1]}" for k, v in result["pona3_over_patn9"].items())
    print(f"PoNA-3 / PATN-9 throughput: {ratios} (paper Table II: {result['paper_ratio']:.3f})")
